"""What really happened: violations derived from the timelines, in the violations format.

Curfew absences, zone entries and exits, missed appointments, drinking and tampering are read off the
same timeline the device readings come from. Equipment faults are added by the device models.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import numpy as np
import shapely

from openem.engine.schedule import Window, occurrences

from .population import SimPerson, Zone, iso
from .timeline import Stay, Timeline, tac_curve

BEHAVIOUR, EQUIPMENT = "behaviour", "equipment"


def violation(
    p: SimPerson,
    vtype: str,
    category: str,
    start: float,
    end: float | None,
    condition: str | None = None,
    **evidence: Any,
) -> dict[str, Any]:
    return {
        "person": p.id, "order": p.order["id"], "condition": condition, "type": vtype, "category": category,
        "start": iso(start), "end": iso(end) if end is not None else None,
        "duration_s": round(end - start) if end is not None else None, "evidence": evidence,
    }  # fmt: skip


def subtract(interval: tuple[float, float], holes: list[tuple[float, float]]) -> list[tuple[float, float]]:
    out = []
    s, e = interval
    for hs, he in sorted(holes):
        if he <= s or hs >= e:
            continue
        if hs > s:
            out.append((s, hs))
        s = max(s, he)
    if s < e:
        out.append((s, e))
    return out


def _dates(p: SimPerson, cond: dict[str, Any]) -> tuple[date, date]:
    return (
        date.fromisoformat(cond.get("start") or p.order["start"]),
        date.fromisoformat(cond.get("end") or p.order["end"]),
    )


def curfew_truth(tl: Timeline, t0: float, t1: float, first: date, last: date) -> list[dict[str, Any]]:
    p = tl.person
    if not p.curfew:
        return []
    cstart, cend = _dates(p, p.curfew)
    windows = [Window.from_json(w) for w in p.curfew["windows"]]
    home = tl.stays_at(p.home)
    # How the home unit reports does not change what happened, nor what the engine must find; it is kept
    # so that detection can be measured for each kind of unit.
    unit = {"home_unit": p.home_unit.value} if "rf" in p.devices else {}
    out = []
    # The night before the first day ends on the first morning: include it.
    for s, e, _ in occurrences(windows, max(first - timedelta(days=1), cstart), min(last, cend)):
        a, b = max(s.timestamp(), t0), min(e.timestamp(), t1)
        if a >= b:
            continue
        for xs, xe in subtract((a, b), home):
            if xe - xs < 60:
                continue
            out.append(
                violation(
                    p,
                    "curfew_absence",
                    BEHAVIOUR,
                    xs,
                    xe,
                    p.curfew["id"],
                    late_arrival=xs == a,
                    early_departure=xe == b and xs > a,
                    whole_period=xs == a and xe == b,
                    **unit,
                )
            )
    return out


def _inside_intervals(
    tl: Timeline, shape: Any, t0: float, t1: float, step: float = 2.0
) -> list[tuple[float, float, bool]]:
    """Intervals when the person was inside a metric polygon, and whether without stopping there."""
    shapely.prepare(shape)
    minx, miny, maxx, maxy = shape.bounds
    out: list[tuple[float, float, bool]] = []
    edge_clips = tl.edge_clips
    for seg in tl.segments:
        if seg.end <= t0 or seg.start >= t1:
            continue
        if isinstance(seg, Stay):
            if shape.contains(shapely.Point(seg.place.x, seg.place.y)):
                out.append((max(seg.start, t0), min(seg.end, t1), False))
            continue
        r = seg.route
        if r.x.max() < minx or r.x.min() > maxx or r.y.max() < miny or r.y.min() > maxy:
            continue
        ts = np.arange(max(seg.start, t0), min(seg.end, t1), step)
        if not len(ts):
            continue
        x, y = r.position(ts - seg.start)
        inside = shapely.contains_xy(shape, x, y)
        if not inside.any():
            continue
        edges = np.flatnonzero(np.diff(np.concatenate([[0], inside.astype(np.int8), [0]])))
        for a, b in zip(edges[::2], edges[1::2], strict=True):
            depth = float(shapely.distance(shape.boundary, shapely.points(x[a:b], y[a:b])).max())
            if b - a < 15 and depth < 25:
                # Clipping the edge for seconds, metres deep: below what GPS can resolve. It happened,
                # but no system could see it; reported as unobservable.
                edge_clips.append((float(ts[a]), float(ts[b - 1] + step)))
            out.append((float(ts[a]), float(ts[b - 1] + step), True))
    merged: list[tuple[float, float, bool]] = []
    for s, e, moving in sorted(out):
        if merged and s <= merged[-1][1] + 30:
            ms, me, mm = merged[-1]
            merged[-1] = (ms, max(me, e), mm and moving)
        else:
            merged.append((s, e, moving))
    return merged


def zone_truth(tl: Timeline, zone: Zone, t0: float, t1: float, first: date, last: date) -> list[dict[str, Any]]:
    p = tl.person
    if not zone.monitored:
        return []
    spans = [(t0, t1)]
    if zone.windows:
        ws = [Window.from_json(w) for w in zone.windows]
        spans = [(max(s.timestamp(), t0), min(e.timestamp(), t1)) for s, e, _ in occurrences(ws, first, last)]
        spans = [(a, b) for a, b in spans if a < b]
    out = []
    if zone.kind == "exclusion_zone":
        for s, e, moving in _inside_intervals(tl, zone.shape, t0, t1):
            for a, b in spans:
                xs, xe = max(s, a), min(e, b)
                if xs < xe:
                    v = violation(p, "exclusion_zone_entry", BEHAVIOUR, xs, xe, zone.condition_id, pass_through=moving)
                    if moving and any(cs <= s + 1 and ce >= e - 1 for cs, ce in tl.edge_clips):
                        v["evidence"]["observable"] = False
                        v["evidence"]["edge_clip"] = True
                    out.append(v)
    else:
        inside = [(s, e) for s, e, _ in _inside_intervals(tl, zone.shape, t0, t1, step=10.0)]
        for a, b in spans:
            for xs, xe in subtract((a, b), inside):
                if xe - xs >= 60:
                    out.append(violation(p, "inclusion_zone_exit", BEHAVIOUR, xs, xe, zone.condition_id))
    return out


def alcohol_truth(tl: Timeline, t0: float, t1: float) -> list[dict[str, Any]]:
    p = tl.person
    if not p.alcohol or not tl.drinking:
        return []
    level = p.alcohol.get("level_g_dl") if p.alcohol.get("mode") == "level" else None
    threshold = level if level is not None else 0.02
    vtype = "alcohol_level_exceeded" if level is not None else "alcohol_confirmed"
    t = np.arange(t0, t1, 60.0)
    tac = tac_curve(tl.drinking, t)
    above = tac >= threshold
    out = []
    edges = np.flatnonzero(np.diff(np.concatenate([[0], above.astype(np.int8), [0]])))
    for a, b in zip(edges[::2], edges[1::2], strict=True):
        out.append(
            violation(
                p,
                vtype,
                BEHAVIOUR,
                float(t[a]),
                float(t[b - 1] + 60),
                p.alcohol["id"],
                peak_g_dl=round(float(tac[a:b].max()), 3),
            )
        )
    return out


def behaviour_truth(tl: Timeline, t0: float, t1: float, first: date, last: date) -> list[dict[str, Any]]:
    p = tl.person
    out = curfew_truth(tl, t0, t1, first, last)
    for zone in p.zones:
        out.extend(zone_truth(tl, zone, t0, t1, first, last))
    # Missed if the person was never at the office during the appointment, whatever the plan said.
    office = [(st.start, st.end) for st in tl.segments if isinstance(st, Stay) and st.place.kind == "office"]
    for s, e in p.appointments:
        if t0 <= s < t1 and not any(a < e and b > s for a, b in office):
            out.append(violation(p, "attendance_missed", BEHAVIOUR, s, e, p.attendance_id))
    out.extend(alcohol_truth(tl, t0, t1))
    for kind, s, e in tl.tampers:
        out.append(violation(p, "tamper", BEHAVIOUR, s, e, None, device=p.devices[kind], kind="strap"))
    return out
