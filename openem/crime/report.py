"""A match as evidence: the map's data for the review page, the table of every position in the window
(from the positions kept when the match was made: ``openem.crime.evidence``, never the live trail), and the
proximity report PDF (WeasyPrint) with the witness statement's real page count and two maps drawn here as
SVG from the positions (no map tiles are fetched)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape
from typing import Any

import numpy as np
from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone

from openem.audit.models import AuditAction, AuditEvent
from openem.engine.geometry import LocalProjection
from openem.portal.exports import refuse_fetch
from openem.portal.staticmap import Point, svg_map

from .adapter import code_version
from .evidence import NEAR, RECORD, EvidenceRefused, StoredFixes
from .models import Finding, FindingEvidence

COMPASS = ("N", "NE", "E", "SE", "S", "SW", "W", "NW")


@dataclass
class FixRow:
    """One position in the window as the table and the maps number it."""

    n: int
    t: datetime
    lat: float
    lon: float
    accuracy_m: float | None
    speed_kmh: float | None  # from the previous position: tags report neither speed nor heading
    direction: str  # compass point of travel from the previous position ("" when still or first)
    near: bool = False
    distance_m: float | None = None
    device: str = ""


def stored_positions(f: Finding) -> StoredFixes:
    """The positions kept with the match when it was made (none for a finding that has none: not a match)."""
    try:
        stored = f.stored
    except FindingEvidence.DoesNotExist:
        return StoredFixes(np.zeros(0, dtype=RECORD), [])
    return stored.positions()


def evidence_rows(f: Finding) -> list[FixRow]:
    """Every position shown for the match, numbered from 1, from the evidence kept when it was made (never
    the live trail): those in the widened window, and a near one just outside it. Speed and direction are
    from the position before, as worked out then."""
    shown = stored_positions(f).shown()
    r = shown.records
    near = shown.flagged(NEAR).tolist()
    acc, speed, heading = (r[k].astype(np.float64).tolist() for k in ("acc", "speed", "heading"))
    out: list[FixRow] = []
    for i, (t, lat, lon, device) in enumerate(
        zip(r["t"].tolist(), r["lat"].tolist(), r["lon"].tolist(), shown.device_names(), strict=True)
    ):
        direction = ""
        if heading[i] == heading[i]:  # NaN: first, or still
            direction = f"{COMPASS[int((heading[i] + 22.5) // 45) % 8]} ({heading[i]:.0f}°)"
        out.append(
            FixRow(
                i + 1,
                datetime.fromtimestamp(t, UTC),
                lat,
                lon,
                None if acc[i] != acc[i] else acc[i],
                None if speed[i] != speed[i] else round(speed[i], 1),
                direction,
                near=bool(near[i]),
                device=device,
            )
        )
    return with_distance(out, f)


def audited_rows(f: Finding, user: Any, action: AuditAction, summary: Callable[[int], str]) -> list[FixRow]:
    """``evidence_rows``, with the look recorded as a look at the trail is: who, whose, which period, why (the
    batch's lawful basis and purpose), and how long the answer took."""
    from .services import basis_text

    began = time.perf_counter()
    try:
        rows = evidence_rows(f)
    except EvidenceRefused as exc:
        refuse_evidence(f, user, exc)
        raise
    AuditEvent.record(
        user,
        action,
        person=f.person,
        obj=f.person,
        summary=summary(len(rows)),
        reason=basis_text(f.crime.batch.lawful_basis, f.crime.batch.purpose),
        period=shown_period(f, rows),
        elapsed_ms=round((time.perf_counter() - began) * 1000),
    )
    return rows


def refuse_evidence(f: Finding, user: Any, exc: EvidenceRefused) -> None:
    """Kept positions that fail their digest are shown to nobody: the refused look is on the person's record,
    and the monitoring centre is told (an operational alert naming the match, not the person: operators do not
    see who the crime matching hub matched), once per match."""
    from openem.health.faults import raise_fault
    from openem.health.models import Component, FaultKind

    from .services import basis_text

    what = f"crime match {f.pk} (crime {f.crime.reference})"
    AuditEvent.record(
        user,
        AuditAction.DENIED,
        person=f.person,
        obj=f,
        summary=f"refused: the positions kept with {what} were altered or damaged since it was made: {exc}",
        reason=basis_text(f.crime.batch.lawful_basis, f.crime.batch.purpose),
    )
    raise_fault(
        FaultKind.CRIME_EVIDENCE_ALTERED,
        f"finding {f.pk}",
        f"The positions kept with {what} of {f.crime.force} are not those it was made on: "
        "they are not shown and no report is made from them",
        component=Component.CRIME,
        detail=str(exc),
    )


def shown_period(f: Finding, rows: list[FixRow]) -> tuple[datetime, datetime]:
    """The period the look showed: the widened window, and further where a near line's end outside it is
    shown too (the record must cover every position seen)."""
    lo, hi = f.window()
    if rows:
        lo, hi = min(lo, min(r.t for r in rows)), max(hi, max(r.t for r in rows))
    return lo, hi


def with_distance(rows: list[FixRow], f: Finding) -> list[FixRow]:
    """Each row's distance from the crime."""
    p = LocalProjection(f.crime.lat, f.crime.lon)
    if rows:
        x, y = p.fast_xy(np.array([r.lat for r in rows]), np.array([r.lon for r in rows]))
        for r, dx, dy in zip(rows, x, y, strict=True):
            r.distance_m = float(math.hypot(dx, dy))
    return rows


def distance_m(f: Finding) -> float:
    return float(f.run.params.get("distance_m") or settings.OPENEM_CRIME_DISTANCE_M)


# ----------------------------------------------------------------------------------------------- SVG


def detail_svg(f: Finding, rows: list[FixRow], width: int = 1000, height: int = 620) -> str:
    """The detailed map: the crime's location and distance circle, the positions near it numbered as in
    the table, each with its confidence circle, the track between them, a scale bar and a key."""
    radius = distance_m(f)
    near = [r for r in rows if r.distance_m is not None and r.distance_m <= max(radius * 4, 300)]
    proj = LocalProjection(f.crime.lat, f.crime.lon)
    shown = near or rows[:0]
    if shown:
        x, y = proj.fast_xy(np.array([r.lat for r in shown]), np.array([r.lon for r in shown]))
        acc = np.array([r.accuracy_m or 0 for r in shown])
        half = float(max(np.max(np.abs(x) + acc), np.max(np.abs(y) + acc), radius * 1.6))
    else:
        x = y = np.array([])
        half = radius * 1.6
    scale = min(width, height) / (2 * half * 1.08)

    def px(ax: np.ndarray, ay: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return width / 2 + ax * scale, height / 2 - ay * scale

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        'font-family="Helvetica, Arial, sans-serif">',
        f'<rect width="{width}" height="{height}" fill="#f8f8f5"/>',
    ]
    from openem.portal.staticmap import _roads  # the offline basemap's roads, as the overview map draws them

    box_lat = half * 1.3 / 111_320
    box_lon = box_lat / max(math.cos(math.radians(f.crime.lat)), 0.1)
    for rank, rlat, rlon, (a, b, c, d) in _roads():
        if (
            b < f.crime.lat - box_lat
            or a > f.crime.lat + box_lat
            or d < f.crime.lon - box_lon
            or c > f.crime.lon + box_lon
        ):
            continue
        rx, ry = px(*proj.fast_xy(rlat, rlon))
        path = " ".join(f"{u:.1f},{v:.1f}" for u, v in zip(rx, ry, strict=True))
        parts.append(f'<polyline points="{path}" fill="none" stroke="#d8d8d8" stroke-width="{rank * 2:.1f}"/>')
    cx, cy = width / 2, height / 2
    parts.append(
        f'<circle cx="{cx}" cy="{cy}" r="{radius * scale:.1f}" fill="#d4351c" fill-opacity="0.08" stroke="#d4351c" '
        'stroke-width="2" stroke-dasharray="6 4"/>'
    )
    labels: list[str] = []
    unlabelled = 0
    if len(shown):
        sx, sy = px(x, y)
        # Confidence circles first, outlined only: a wearer who stayed put has dozens on top of each other,
        # and the positions and their numbers must stay readable over them.
        for r, u, v in zip(shown, sx, sy, strict=True):
            colour = "#1d70b8" if r.near else "#6f777b"
            if r.accuracy_m:
                parts.append(
                    f'<circle cx="{u:.1f}" cy="{v:.1f}" r="{max(r.accuracy_m * scale, 2):.1f}" fill="none" '
                    f'stroke="{colour}" stroke-opacity="0.45" stroke-width="0.8"/>'
                )
        track = " ".join(f"{u:.1f},{v:.1f}" for u, v in zip(sx, sy, strict=True))
        parts.append(
            f'<polyline points="{track}" fill="none" stroke="#0b0c0c" stroke-width="1.2" stroke-opacity="0.6"/>'
        )
        taken: list[tuple[float, float, float, float]] = []
        for r, u, v in zip(shown, sx, sy, strict=True):
            colour = "#1d70b8" if r.near else "#505a5f"
            parts.append(f'<circle cx="{u:.1f}" cy="{v:.1f}" r="3.5" fill="{colour}" stroke="#fff" stroke-width="1"/>')
            label = _number_label(float(u), float(v), r.n, colour, taken, width, height)
            if label:
                labels.append(label)
            else:
                unlabelled += 1
    parts.append(f'<path d="M{cx - 9},{cy} h18 M{cx},{cy - 9} v18" stroke="#d4351c" stroke-width="3"/>')
    parts += labels  # on top of every circle and line
    if unlabelled:
        parts.append(
            f'<text x="12" y="20" font-size="12" fill="#505a5f">{unlabelled} position{"s" if unlabelled != 1 else ""} '
            "too close to others to number here: every position is in the table</text>"
        )
    parts.append(_scale_bar(scale, width, height))
    parts.append("</svg>")
    return "".join(parts)


def _number_label(
    x: float, y: float, n: int, colour: str, taken: list[tuple[float, float, float, float]], width: int, height: int
) -> str:
    """A position's number beside it where it overprints no other number (right, left, above, below, then the
    diagonals); "" where there is no room: the number is left off rather than drawn over another."""
    w, h = len(str(n)) * 7.5 + 4, 14.0
    for dx, dy in ((6, -h / 2), (-6 - w, -h / 2), (-w / 2, -6 - h), (-w / 2, 6), (5, -5 - h), (-5 - w, -5 - h),
                   (5, 5), (-5 - w, 5)):  # fmt: skip
        box = (x + dx, y + dy, x + dx + w, y + dy + h)
        if box[0] < 2 or box[1] < 2 or box[2] > width - 2 or box[3] > height - 24:
            continue
        if any(box[0] < b[2] and b[0] < box[2] and box[1] < b[3] and b[1] < box[3] for b in taken):
            continue
        taken.append(box)
        return (
            f'<rect x="{box[0]:.1f}" y="{box[1]:.1f}" width="{w:.1f}" height="{h:.1f}" fill="#fff" '
            'fill-opacity="0.85"/>'
            f'<text x="{box[0] + 2:.1f}" y="{box[3] - 3:.1f}" font-size="12" font-weight="bold" '
            f'fill="{colour}">{n}</text>'
        )
    return ""


def _scale_bar(scale: float, width: int, height: int) -> str:
    metres = width / scale / 5
    nice = 10 ** math.floor(math.log10(metres))
    nice = max(n for n in (nice, 2 * nice, 5 * nice) if n <= metres)
    bar = nice * scale
    label = f"{nice / 1000:g} km" if nice >= 1000 else f"{nice:g} m"
    return (
        f'<g transform="translate(12,{height - 16})"><rect x="0" y="-4" width="{bar:.1f}" height="4" fill="#0b0c0c"/>'
        f'<text x="{bar + 6:.1f}" y="0" font-size="11">{escape(label)}</text></g>'
        f'<text x="{width - 14}" y="22" font-size="14" font-weight="bold" text-anchor="middle">N</text>'
        f'<path d="M{width - 14},26 l-5,12 l5,-4 l5,4 z" fill="#0b0c0c"/>'
        f'<text x="{width - 8}" y="{height - 6}" font-size="10" text-anchor="end" fill="#505a5f">'
        "© OpenStreetMap contributors (ODbL)</text>"
    )


def overview_svg(f: Finding, rows: list[FixRow]) -> str:
    radius = distance_m(f)
    crime = {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [f.crime.lon, f.crime.lat]},
        "properties": {"kind": "exclusion_zone", "label": f"Crime {f.crime.reference}", "radius_m": radius},
    }
    trail = [Point(r.lat, r.lon, timezone.localtime(r.t)) for r in rows]
    return svg_map([crime], trail, [(Point(f.crime.lat, f.crime.lon), f"Crime {f.crime.reference}")], 1000, 620)


# ----------------------------------------------------------------------------------------------- PDF


def proximity_report(f: Finding, rows: list[FixRow], user: Any) -> tuple[bytes, int]:
    """The PDF and its page count, from the positions kept when the match was made (``evidence_rows``).
    The statement states its own length, so it is laid out until the number it states is the number it has
    (twice, or three times when the number's width moves a line). Made again for the same finding it says
    the same but for when it was made and for whom (and the review, if that has moved on since)."""
    from weasyprint import HTML

    start, end = f.window()
    context = {
        "f": f,
        "crime": f.crime,
        "batch": f.crime.batch,
        "person": f.person,
        "rows": rows,
        "near_rows": [r for r in rows if r.near],
        "near_numbers": numbered([r for r in rows if r.near]),
        "start": start,
        "end": end,
        "made_by": user,
        "made_at": timezone.now(),
        "overview_svg": overview_svg(f, rows),
        "detail_svg": detail_svg(f, rows),
        "params": f.run.params,
        "distance_m": distance_m(f),
        "code_version": f.run.code_version or code_version(),
        "officer": f.reviewed_by,
        "exhibit": _exhibit_prefix(f.reviewed_by),
        "devices": sorted({r.device for r in rows if r.device}),
        "evidence": getattr(f, "stored", None),
        "gaps": [(datetime.fromtimestamp(a, UTC), datetime.fromtimestamp(b, UTC)) for a, b in f.gaps],
    }
    pages = 1
    for _ in range(4):
        html = render_to_string("crime/report_pdf.html", {**context, "pages": pages})
        doc = HTML(string=html, url_fetcher=refuse_fetch).render()
        if len(doc.pages) == pages:
            return bytes(doc.write_pdf()), pages
        pages = len(doc.pages)
    return bytes(doc.write_pdf()), len(doc.pages)


def _exhibit_prefix(user: Any) -> str:
    """Exhibits are numbered by the producing officer's initials, as MG11 statements do."""
    if user is None:
        return "HUB"
    initials = "".join(p[:1] for p in (user.first_name, user.last_name) if p).upper()
    return initials or user.get_username()[:3].upper()


def page_count_text(pages: int) -> str:
    return f"{pages} page" + ("" if pages == 1 else "s")


def numbered(rows: Sequence[FixRow]) -> str:
    """Position numbers as ranges joined by an en dash: 1 to 12, 15, 17 to 20 as "1\u201312, 15, 17\u201320"."""
    dash = "\u2013"
    out: list[str] = []
    for r in rows:
        if out and out[-1].split(dash)[-1] == str(r.n - 1):
            out[-1] = f"{out[-1].split(dash)[0]}{dash}{r.n}"
        else:
            out.append(str(r.n))
    return ", ".join(out)
