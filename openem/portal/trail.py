"""A person's trail: any period, on a map with their zones and violations, with a reason, audited.

The inspectorate found practitioners waiting days for location data; here it is on screen at once.
Every look at location data records who, whose, which period and why.
"""

from __future__ import annotations

import json
import math
import time
import xml.etree.ElementTree as ET
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from operator import itemgetter
from typing import Any, overload

import orjson
from django import forms
from django.db.models import QuerySet
from django.http import HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.safestring import mark_safe

from openem.alerts.models import Violation, violation_lasted
from openem.audit.models import AuditAction, AuditEvent
from openem.cases.models import Condition, OrderStatus, OrderVersion, Person
from openem.engine.casefile import parse_condition
from openem.engine.violations import ViolationType
from openem.telemetry import trail as trail_store
from openem.ukforms import UKDateTimeField

from .access import AuthedRequest, case_records_required, visible_person
from .exports import csv_text, refuse_fetch
from .presenters import condition_label, map_features
from .staticmap import Point, svg_map

MAX_DAYS = 31
REASONS = [
    ("supervision", "Supervision: reviewing compliance with the person"),
    ("breach", "Investigating a possible breach"),
    ("risk", "Managing risk (MAPPA, safeguarding, victim safety)"),
    ("enforcement", "Preparing evidence for enforcement"),
    ("other", "Other (say what)"),
]
FORMATS = ("geojson", "gpx", "kml", "csv", "pdf")


class TrailForm(forms.Form):
    start = UKDateTimeField(label="From")
    end = UKDateTimeField(label="To", help_text="")
    reason = forms.ChoiceField(
        label="Why you are looking at this location data", choices=REASONS, widget=forms.RadioSelect
    )
    detail = forms.CharField(
        label="More detail", required=False, max_length=300, help_text="Recorded with your request in the audit log."
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        s, e = data.get("start"), data.get("end")
        if s and e:
            if e <= s:
                self.add_error("end", "The end must be after the start")
            elif e - s > timedelta(days=MAX_DAYS):
                self.add_error("end", f"Choose a period of at most {MAX_DAYS} days")
        if data.get("reason") == "other" and not data.get("detail"):
            self.add_error("detail", "Say why you are looking at this location data")
        return data

    def reason_text(self) -> str:
        label = dict(REASONS)[self.cleaned_data["reason"]]
        detail = self.cleaned_data.get("detail")
        return f"{label}: {detail}" if detail else label


@dataclass(slots=True)
class Position:
    """One stored GPS fix as the exports and the positions table use it."""

    lat: float
    lon: float
    ts: float  # Unix seconds
    accuracy_m: float | None
    device: str

    @property
    def t(self) -> datetime:
        return datetime.fromtimestamp(self.ts, UTC)


class Trail(Sequence[Position]):
    """A person's fixes in time order, kept as the database's plain rows (lat, lon, ts, accuracy_m):
    a month of fixes is tens of thousands, and an object per fix costs more than the query (see
    `openem bench trail`). Items and slices are ``Position``s, made when asked for."""

    def __init__(self, parts: list[tuple[str, list[tuple[float, float, float, float | None]]]]) -> None:
        parts = sorted((p for p in parts if p[1]), key=lambda p: p[1][0][2])
        self.rows = [r for _, rows in parts for r in rows]
        if len(parts) > 1:
            self.rows.sort(key=itemgetter(2))  # devices swapped: their fixes may interleave
            self._device = {r: d for d, rows in parts for r in rows}
        self._only = parts[0][0] if len(parts) == 1 else ""

    def __len__(self) -> int:
        return len(self.rows)

    def _position(self, row: tuple[float, float, float, float | None]) -> Position:
        return Position(row[0], row[1], row[2], row[3], self._only or self._device[row])

    @overload
    def __getitem__(self, i: int) -> Position: ...
    @overload
    def __getitem__(self, i: slice) -> list[Position]: ...
    def __getitem__(self, i: int | slice) -> Position | list[Position]:
        if isinstance(i, slice):
            return [self._position(r) for r in self.rows[i]]
        return self._position(self.rows[i])


def _rows(device: str, lo: datetime, hi: datetime) -> list[tuple[float, float, float, float | None]]:
    return trail_store.fixes(device, lo.timestamp(), hi.timestamp()).rows()


def fixes_for(person: Person, start: datetime, end: datetime) -> Trail:
    """The person's fixes in the period, from each GPS device only while it was fitted to them."""
    parts = []
    for f in person.fittings.select_related("device").filter(device__kind="gps", fitted_at__lt=end):
        lo = max(start, f.fitted_at)
        hi = min(end, f.removed_at) if f.removed_at else end
        if lo < hi:
            parts.append((f.device.ref, _rows(f.device.ref, lo, hi)))
    return Trail(parts)


def audited_fixes(
    user: Any,
    person: Person,
    start: datetime,
    end: datetime,
    reason: str,
    action: AuditAction,
    summary: str | Callable[[int], str],
) -> Trail:
    """The person's fixes in the period, with the look recorded: who, whose, which period and why.
    ``summary`` is fixed text that may hold ``{n}``, the number of positions, or a function of that number:
    use a function when the text holds anything sent to us (a crime reference may hold braces)."""
    began = time.perf_counter()
    fixes = fixes_for(person, start, end)
    AuditEvent.record(
        user,
        action,
        person=person,
        obj=person,
        summary=summary(len(fixes)) if callable(summary) else summary.replace("{n}", str(len(fixes))),
        reason=reason,
        period=(start, end),
        elapsed_ms=round((time.perf_counter() - began) * 1000),  # how long the answer took, for the statistics
    )
    return fixes


def trail_features(person: Person, start: datetime, end: datetime, person_view: bool) -> list[dict[str, Any]]:
    conditions = [
        c
        for o in person.orders.all()
        if o.status_on(start.date()) != OrderStatus.ENDED or o.status_on(end.date()) != OrderStatus.ENDED
        for c in o.live_conditions()
    ]
    features = map_features(conditions)
    if person_view:
        # Showing the map to the person: never reveal where a victim lives.
        features = [f for f in features if not f["properties"].get("victim_sensitive")]
    return features


def violations_in(person: Person, start: datetime, end: datetime) -> QuerySet[Violation]:
    return (
        Violation.objects.filter(person=person, retracted=False, start__lt=end).exclude(end__lt=start).order_by("start")
    )


@dataclass(frozen=True, slots=True)
class TrailViolation:
    """A violation as the trail page, its exports and its PDF show it, with the condition's name."""

    type_enum: ViolationType
    start: datetime
    end: datetime | None
    order: str
    condition: str
    zone: str  # the condition's name ("" for a device problem)
    where: tuple[float, float] | None  # [lat, lon] the engine stored, for silences
    detail: str = ""  # late arrival, whole period, pass-through... as on the person page

    @property
    def label(self) -> str:
        return f"{self.type_enum.label} ({self.zone})" if self.zone else self.type_enum.label

    @property
    def lasted(self) -> str:
        return violation_lasted(self.start, self.end)


@dataclass(frozen=True, slots=True)
class TrailLayers:
    """What a trail shows beside the positions: the zones and the violations of the period. In "show
    the person" mode neither a victim-protecting zone nor any violation of one is in it."""

    features: list[dict[str, Any]]
    violations: list[TrailViolation]


def trail_layers(person: Person, start: datetime, end: datetime, person_view: bool) -> TrailLayers:
    # Every version of every condition, removed ones too, under every reference its order has had (a
    # violation keeps the order's reference of its day): a zone that once protected a victim keeps its
    # violations hidden, and a violation of a removed zone still gets the zone's name.
    refs: dict[int, set[str]] = {}
    for order_id, snapshot in OrderVersion.objects.filter(order__person=person).values_list("order_id", "snapshot"):
        refs.setdefault(order_id, set()).add(str(snapshot.get("id", "")))
    names: dict[tuple[str, str], str] = {}
    victim: set[tuple[str, str]] = set()
    for c in Condition.objects.filter(order__person=person).select_related("order").order_by("id"):
        spec = parse_condition(c.spec)
        for order_ref in refs.get(c.order_id, set()) | {c.order.ref}:
            key = (order_ref, c.ref)
            names[key] = condition_label(spec) if spec.type.is_zone else ""
            if spec.victim_sensitive:
                victim.add(key)

    def shown(v: Any) -> bool:
        """In the person's version, fail closed: a violation of a condition that cannot be found is not
        shown (it might be a victim's zone)."""
        key = (v.order_ref, v.condition_ref)
        return not person_view or not v.condition_ref or (key in names and key not in victim)

    violations = [
        TrailViolation(
            v.type_enum,
            v.start,
            v.end,
            v.order_ref,
            v.condition_ref,
            names.get((v.order_ref, v.condition_ref), "") if v.condition_ref else "",
            (float(v.where[0]), float(v.where[1])) if v.where else None,
            v.detail,
        )
        for v in violations_in(person, start, end)
        if shown(v)
    ]
    return TrailLayers(trail_features(person, start, end, person_view), violations)


TABLE_ROWS = 500


def trail_json(rows: list[tuple[float, float, float, float | None]]) -> str:
    """The map's data: [lat, lon, unix seconds, accuracy] per fix. orjson: tens of thousands of rows of
    numbers are the largest part of a month's page; the escaping keeps it inert inside <script>."""
    text = orjson.dumps(rows).decode()
    return mark_safe(text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


def positions_rows(fixes: list[Position]) -> str:
    """The positions table's rows, made here: numbers and dates only, hundreds of them."""
    cell = '<td class="govuk-table__cell">'
    out = []
    for f in fixes:
        when = timezone.localtime(f.t).strftime("%a %-d %b %H:%M:%S")
        acc = f"{f.accuracy_m:.0f} m" if f.accuracy_m else ""
        out.append(f'<tr class="govuk-table__row">{cell}{when}</td>{cell}{f.lat:.5f}</td>{cell}{f.lon:.5f}</td>'
                   f"{cell}{acc}</td></tr>")  # fmt: skip
    return mark_safe("".join(out))


@case_records_required
def trail(request: AuthedRequest, pk: int) -> HttpResponse:
    person = visible_person(request, pk)
    now = timezone.localtime().replace(second=0, microsecond=0)
    # A link may suggest the period (an incident's, say); the reason is always the user's to give.
    initial = {"start": request.GET.get("start") or now - timedelta(hours=24), "end": request.GET.get("end") or now}
    form = TrailForm(request.GET if "reason" in request.GET else None, initial=initial)
    context: dict[str, Any] = {"person": person, "form": form, "formats": FORMATS}
    person_view = request.GET.get("show") == "person"
    if form.is_bound and form.is_valid():
        start, end = form.cleaned_data["start"], form.cleaned_data["end"]
        fixes = audited_fixes(
            request.user, person, start, end, form.reason_text(), AuditAction.VIEW, "trail: {n} positions"
        )
        layers = trail_layers(person, start, end, person_view)
        context.update(
            {
                "positions_rows": positions_rows(fixes[:TABLE_ROWS]),
                "table_rows": TABLE_ROWS,
                "fix_count": len(fixes),
                "features": layers.features,
                "violations": layers.violations,
                "person_view": person_view,
                "query": request.GET.urlencode(),
                "trail_json": trail_json(fixes.rows),
                "start": start,
                "end": end,
            }
        )
    return render(request, "portal/trail.html", context)


@case_records_required
def trail_export(request: AuthedRequest, pk: int, fmt: str) -> HttpResponse:
    person = visible_person(request, pk)
    form = TrailForm(request.GET)
    if fmt not in FORMATS or not form.is_valid():
        return HttpResponse(
            "Choose a period and give a reason on the trail page first.", status=400, content_type="text/plain"
        )
    start, end = form.cleaned_data["start"], form.cleaned_data["end"]
    fixes = audited_fixes(
        request.user,
        person,
        start,
        end,
        form.reason_text(),
        AuditAction.EXPORT,
        f"trail export ({fmt}): {{n}} positions",
    )
    # "Show the person" carries through: the person's version has no victim's zone and no violation of one.
    person_view = request.GET.get("show") == "person"
    layers = trail_layers(person, start, end, person_view)
    name = f"trail-{person.crn or person.ref}-{start:%Y%m%d%H%M}-{end:%Y%m%d%H%M}"
    body: str | bytes
    if fmt == "pdf":
        body = trail_pdf(request, person, fixes, layers, start, end, form.reason_text(), person_view)
        mime = "application/pdf"
    else:
        body, mime = EXPORTERS[fmt](person, fixes, layers)
    response = HttpResponse(body, content_type=mime)
    # The name holds the person's reference: quoted by Django, so no character of it can break the header.
    response["Content-Disposition"] = content_disposition_header(True, f"{name}.{fmt}") or "attachment"
    return response


def _fix_at(fixes: Sequence[Position], v: TrailViolation) -> tuple[float, float] | None:
    """Where a violation began: the first position at or after its start (the engine's stored place
    for a silence)."""
    if v.where:
        return v.where
    if isinstance(fixes, Trail):
        i = bisect_left(fixes.rows, v.start.timestamp(), key=itemgetter(2))
        return (fixes.rows[i][0], fixes.rows[i][1]) if i < len(fixes.rows) else None
    after = [f for f in fixes if f.ts >= v.start.timestamp()]
    return (after[0].lat, after[0].lon) if after else None


def _rings(feature: dict[str, Any]) -> list[list[tuple[float, float]]]:
    """A feature's outline(s) as [(lon, lat), ...]; a circle becomes a 48-sided polygon."""
    g, props = feature["geometry"], feature["properties"]
    if g["type"] == "Point":
        lon, lat = g["coordinates"]
        r = props.get("radius_m", 0)
        k = max(math.cos(math.radians(lat)), 0.01)
        ring = [
            (lon + r / (111_320 * k) * math.sin(a), lat + r / 111_320 * math.cos(a))
            for a in (2 * math.pi * i / 48 for i in range(49))
        ]
        return [ring]
    polygons = [g["coordinates"]] if g["type"] == "Polygon" else g["coordinates"]
    return [[(p[0], p[1]) for p in poly[0]] for poly in polygons]


def to_geojson(person: Person, fixes: Sequence[Position], layers: TrailLayers) -> tuple[str, str]:
    zones = [
        {"type": "Feature", "geometry": f["geometry"], "properties": dict(f["properties"])} for f in layers.features
    ]
    violations = []
    for v in layers.violations:
        at = _fix_at(fixes, v)
        violations.append(
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [at[1], at[0]]} if at else None,
                "properties": {
                    "kind": "violation",
                    "type": v.type_enum.value,
                    "label": v.label,
                    "order": v.order,
                    "condition": v.condition or None,
                    "start": v.start.isoformat(),
                    "end": v.end.isoformat() if v.end else None,
                },
            }
        )
    data = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": {"type": "LineString", "coordinates": [[f.lon, f.lat] for f in fixes]},
                "properties": {"person": person.crn or person.ref, "kind": "trail"},
            },
            *(
                {
                    "type": "Feature",
                    "geometry": {"type": "Point", "coordinates": [f.lon, f.lat]},
                    "properties": {"time": f.t.isoformat(), "accuracy_m": f.accuracy_m},
                }
                for f in fixes
            ),
            *zones,
            *violations,
        ],
    }
    return json.dumps(data), "application/geo+json"


def _xml(root: ET.Element) -> str:
    """The document with its declaration; ElementTree escapes every name and attribute."""
    ET.indent(root, space=" ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def to_gpx(person: Person, fixes: Sequence[Position], layers: TrailLayers) -> tuple[str, str]:
    """GPX 1.1: a waypoint where each violation began, each zone's outline as a route, the track."""
    ns = "http://www.topografix.com/GPX/1/1"
    ET.register_namespace("", ns)

    def el(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
        e = ET.SubElement(parent, f"{{{ns}}}{tag}", attrs)
        e.text = text
        return e

    gpx = ET.Element(f"{{{ns}}}gpx", {"version": "1.1", "creator": "OpenEM"})
    for v in layers.violations:
        at = _fix_at(fixes, v)
        if at:
            w = el(gpx, "wpt", lat=f"{at[0]:.6f}", lon=f"{at[1]:.6f}")
            el(w, "time", v.start.isoformat())
            el(w, "name", v.label)
            el(w, "type", "violation")
    for feat in layers.features:
        for ring in _rings(feat):
            rte = el(gpx, "rte")
            el(rte, "name", feat["properties"]["label"])
            el(rte, "type", feat["properties"]["kind"])
            for lon, lat in ring:
                el(rte, "rtept", lat=f"{lat:.6f}", lon=f"{lon:.6f}")
    trk = el(gpx, "trk")
    el(trk, "name", person.crn or person.ref)
    seg = el(trk, "trkseg")
    for f in fixes:
        pt = el(seg, "trkpt", lat=f"{f.lat:.6f}", lon=f"{f.lon:.6f}")
        el(pt, "time", f.t.isoformat())
        el(pt, "hdop", f"{(f.accuracy_m or 0) / 5:.1f}")
    return _xml(gpx), "application/gpx+xml"


def to_kml(person: Person, fixes: Sequence[Position], layers: TrailLayers) -> tuple[str, str]:
    """KML 2.2: each zone as a polygon, each violation as a point with its time span, the track."""
    kml_ns, gx_ns = "http://www.opengis.net/kml/2.2", "http://www.google.com/kml/ext/2.2"
    ET.register_namespace("", kml_ns)
    ET.register_namespace("gx", gx_ns)

    def el(parent: ET.Element, tag: str, text: str | None = None, ns: str = kml_ns) -> ET.Element:
        e = ET.SubElement(parent, f"{{{ns}}}{tag}")
        e.text = text
        return e

    kml = ET.Element(f"{{{kml_ns}}}kml")
    doc = el(kml, "Document")
    el(doc, "name", person.crn or person.ref)
    for feat in layers.features:
        mark = el(doc, "Placemark")
        el(mark, "name", feat["properties"]["label"])
        el(mark, "description", f"{feat['properties']['kind']} {feat['properties']['condition']}")
        multi = el(mark, "MultiGeometry")
        for ring in _rings(feat):
            outer = el(el(el(multi, "Polygon"), "outerBoundaryIs"), "LinearRing")
            el(outer, "coordinates", " ".join(f"{lon:.6f},{lat:.6f},0" for lon, lat in ring))
    for v in layers.violations:
        at = _fix_at(fixes, v)
        mark = el(doc, "Placemark")
        el(mark, "name", v.label)
        span = el(mark, "TimeSpan")
        el(span, "begin", v.start.isoformat())
        if v.end:
            el(span, "end", v.end.isoformat())
        if at:
            el(el(mark, "Point"), "coordinates", f"{at[1]:.6f},{at[0]:.6f},0")
    track_mark = el(doc, "Placemark")
    el(track_mark, "name", "Trail")
    track = el(track_mark, "Track", ns=gx_ns)
    for f in fixes:
        el(track, "when", f.t.isoformat())
    for f in fixes:
        el(track, "coord", f"{f.lon:.6f} {f.lat:.6f} 0", ns=gx_ns)
    return _xml(kml), "application/vnd.google-earth.kml+xml"


def to_csv(person: Person, fixes: Sequence[Position], layers: TrailLayers) -> tuple[str, str]:
    """One row per position; ``violation`` names any violation going on at that moment."""
    going_on: dict[int, list[str]] = {}
    if isinstance(fixes, Trail):
        times = [r[2] for r in fixes.rows]
        for v in layers.violations:
            hi = bisect_right(times, v.end.timestamp()) if v.end else len(times)
            for i in range(bisect_left(times, v.start.timestamp()), hi):
                going_on.setdefault(i, []).append(v.label)
    who = person.crn or person.ref
    rows = (
        [who, f.device, f.t.isoformat(), round(f.lat, 6), round(f.lon, 6), f.accuracy_m, "; ".join(going_on.get(i, []))]
        for i, f in enumerate(fixes)
    )
    header = ["person", "device", "time", "lat", "lon", "accuracy_m", "violation"]
    return csv_text(header, rows), "text/csv"


EXPORTERS = {"geojson": to_geojson, "gpx": to_gpx, "kml": to_kml, "csv": to_csv}


def trail_pdf(
    request: AuthedRequest,
    person: Person,
    fixes: Sequence[Position],
    layers: TrailLayers,
    start: datetime,
    end: datetime,
    reason: str,
    person_view: bool,
) -> bytes:
    """The trail as a one-page map to use in supervision (in "show the person" mode, no victim's zone
    and no violation of one)."""
    from weasyprint import HTML

    svg = svg_map(layers.features, [Point(f.lat, f.lon, timezone.localtime(f.t)) for f in fixes], None, 1000, 560)
    html = render_to_string(
        "portal/trail_pdf.html",
        {"person": person, "fixes": fixes, "start": start, "end": end, "map_svg": svg, "violations": layers.violations,
         "reason": reason, "person_view": person_view, "made_by": request.user, "made_at": timezone.now()},
    )  # fmt: skip
    return bytes(HTML(string=html, url_fetcher=refuse_fetch).write_pdf())
