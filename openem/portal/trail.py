"""A person's trail: any period, on a map with their zones and violations, with a reason, audited.

The inspectorate found practitioners waiting days for location data; here it is on screen at once.
Every look at location data records who, whose, which period and why.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from operator import itemgetter
from typing import Any, overload
from xml.sax.saxutils import escape

import orjson
from django import forms
from django.db.models import QuerySet
from django.http import HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.safestring import mark_safe

from openem.alerts.models import Violation
from openem.audit.models import AuditAction, AuditEvent
from openem.cases.models import OrderStatus, Person
from openem.telemetry import trail as trail_store

from .access import AuthedRequest, case_records_required, visible_person
from .presenters import map_features
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
DATETIME_WIDGET = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


class TrailForm(forms.Form):
    start = forms.DateTimeField(label="From", widget=DATETIME_WIDGET, input_formats=["%Y-%m-%dT%H:%M"])
    end = forms.DateTimeField(label="To", widget=DATETIME_WIDGET, input_formats=["%Y-%m-%dT%H:%M"])
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
    user: Any, person: Person, start: datetime, end: datetime, reason: str, action: AuditAction, summary: str
) -> Trail:
    """The person's fixes in the period, with the look recorded: who, whose, which period and why.
    ``summary`` may hold ``{n}``, the number of positions."""
    fixes = fixes_for(person, start, end)
    AuditEvent.record(
        user,
        action,
        person=person,
        obj=person,
        summary=summary.format(n=len(fixes)),
        reason=reason,
        period=(start, end),
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
        features = trail_features(person, start, end, person_view)
        violations = violations_in(person, start, end)
        context.update(
            {
                "positions_rows": positions_rows(fixes[:TABLE_ROWS]),
                "table_rows": TABLE_ROWS,
                "fix_count": len(fixes),
                "features": features,
                "violations": violations,
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
    name = f"trail-{person.crn or person.ref}-{start:%Y%m%d%H%M}-{end:%Y%m%d%H%M}"
    body: str | bytes
    if fmt == "pdf":
        body, mime = trail_pdf(request, person, fixes, start, end, form.reason_text()), "application/pdf"
    else:
        body, mime = EXPORTERS[fmt](person, fixes)
    response = HttpResponse(body, content_type=mime)
    response["Content-Disposition"] = f'attachment; filename="{name}.{fmt}"'
    return response


def to_geojson(person: Person, fixes: Sequence[Position]) -> tuple[str, str]:
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
        ],
    }
    return json.dumps(data), "application/geo+json"


def to_gpx(person: Person, fixes: Sequence[Position]) -> tuple[str, str]:
    points = "\n".join(
        f'      <trkpt lat="{f.lat:.6f}" lon="{f.lon:.6f}"><time>{f.t.isoformat()}</time>'
        f"<hdop>{(f.accuracy_m or 0) / 5:.1f}</hdop></trkpt>"
        for f in fixes
    )
    body = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<gpx version="1.1" creator="OpenEM" '
        f'xmlns="http://www.topografix.com/GPX/1/1">\n  <trk><name>{escape(person.crn or person.ref)}</name>'
        f"<trkseg>\n{points}\n  </trkseg></trk>\n</gpx>\n"
    )
    return body, "application/gpx+xml"


def to_kml(person: Person, fixes: Sequence[Position]) -> tuple[str, str]:
    whens = "\n".join(f"<when>{f.t.isoformat()}</when>" for f in fixes)
    coords = "\n".join(f"<gx:coord>{f.lon:.6f} {f.lat:.6f} 0</gx:coord>" for f in fixes)
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<kml xmlns="http://www.opengis.net/kml/2.2" '
        'xmlns:gx="http://www.google.com/kml/ext/2.2">\n<Document><name>'
        f"{escape(person.crn or person.ref)}</name>\n<Placemark><name>Trail</name><gx:Track>\n{whens}\n{coords}\n"
        "</gx:Track></Placemark>\n</Document>\n</kml>\n"
    )
    return body, "application/vnd.google-earth.kml+xml"


def to_csv(person: Person, fixes: Sequence[Position]) -> tuple[str, str]:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["person", "device", "time", "lat", "lon", "accuracy_m"])
    for f in fixes:
        w.writerow(
            [
                person.crn or person.ref,
                f.device,
                f.t.isoformat(),
                f"{f.lat:.6f}",
                f"{f.lon:.6f}",
                f.accuracy_m if f.accuracy_m is not None else "",
            ]
        )
    return buf.getvalue(), "text/csv"


EXPORTERS = {"geojson": to_geojson, "gpx": to_gpx, "kml": to_kml, "csv": to_csv}


def trail_pdf(
    request: AuthedRequest, person: Person, fixes: Sequence[Position], start: datetime, end: datetime, reason: str
) -> bytes:
    """The trail as a one-page map to use in supervision (in "show the person" mode, no victim's zone)."""
    from weasyprint import HTML

    person_view = request.GET.get("show") == "person"
    features = trail_features(person, start, end, person_view)
    violations = list(violations_in(person, start, end))
    if person_view:
        hidden = {
            f["properties"]["condition"]
            for f in trail_features(person, start, end, False)
            if f["properties"].get("victim_sensitive")
        }
        violations = [v for v in violations if v.condition_ref not in hidden]
    svg = svg_map(features, [Point(f.lat, f.lon, timezone.localtime(f.t)) for f in fixes], None, 1000, 560)
    html = render_to_string(
        "portal/trail_pdf.html",
        {"person": person, "fixes": fixes, "start": start, "end": end, "map_svg": svg, "violations": violations,
         "reason": reason, "person_view": person_view, "made_by": request.user, "made_at": timezone.now()},
    )  # fmt: skip
    return bytes(HTML(string=html).write_pdf())
