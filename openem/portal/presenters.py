"""Turning orders and conditions into what the pages show: map features, week grids, summaries."""

from __future__ import annotations

from datetime import datetime, time
from typing import Any

from django.urls import reverse
from django.utils import timezone

from openem.cases.models import Condition, Order
from openem.engine.casefile import ConditionSpec
from openem.engine.enums import ConditionType, Day
from openem.engine.schedule import Window, grid
from openem.uktime import local_today

HOURS = list(range(24))


def map_features(conditions: list[Condition]) -> list[dict[str, Any]]:
    """GeoJSON-like features for Leaflet. Circles stay circles (centre and radius)."""
    features: list[dict[str, Any]] = []
    for cond in conditions:
        spec = cond.to_spec()
        props = {
            "condition": cond.ref,
            "order": cond.order.ref,
            "kind": cond.type,
            "label": condition_label(spec),
            "monitored": spec.monitored if spec.type.is_zone else True,
            "victim_sensitive": spec.victim_sensitive,
        }
        shape: dict[str, Any] | None = None
        if spec.type.is_zone and spec.area:
            shape = spec.area
        elif spec.type == ConditionType.CURFEW and spec.address:
            shape = spec.address.to_json()
        elif spec.type == ConditionType.ATTENDANCE and spec.place:
            shape = spec.place.to_json()
        if shape is None:
            continue
        if "radius_m" in shape:
            features.append(
                {
                    "type": "Feature",
                    "properties": {**props, "radius_m": shape["radius_m"]},
                    "geometry": {"type": "Point", "coordinates": [shape["lon"], shape["lat"]]},
                }
            )
        else:
            features.append({"type": "Feature", "properties": props, "geometry": shape})
    return features


def condition_label(spec: ConditionSpec) -> str:
    """What a map, a list or an export calls the condition."""
    if spec.type == ConditionType.CURFEW:
        return "Curfew address" + (f" ({spec.address.label})" if spec.address and spec.address.label else "")
    if spec.type == ConditionType.ATTENDANCE:
        return spec.name or "Appointment place"
    return spec.name or spec.type.label


def week_grid(spec: ConditionSpec | list[Window]) -> list[dict[str, Any]]:
    """Rows of the curfew week grid: one per day, 48 half-hour cells (of a condition, or of windows)."""
    cells = grid(spec if isinstance(spec, list) else spec.windows, slot_min=30)
    rows = []
    for day in Day:
        hours = sum(cells[day]) / 2
        rows.append({"day": day.label, "short": day.label[:3], "cells": cells[day], "hours": hours})
    return rows


def combined_week_grid(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """With two or more curfew conditions in force today, the curfew the person is under is their union:
    shown as one grid (overlaps counted once), the limits checked on it (``cases.rules``)."""
    today = local_today()
    curfews = [r for r in rows if r["grid"] is not None and r["start"] <= today <= r["end"]]
    if len(curfews) < 2:
        return None
    windows = [w for r in curfews for w in r["spec"].windows]
    return {"grid": week_grid(windows), "refs": " and ".join(r["cond"].ref for r in curfews)}


def condition_summary(spec: ConditionSpec) -> str:
    t = spec.type
    if t == ConditionType.CURFEW:
        tech = spec.technology.label if spec.technology else "Radio frequency"
        return f"{tech}; " + "; ".join(w.describe() for w in spec.windows)
    if t.is_zone:
        watched = "GPS-monitored" if spec.monitored else "not monitored: will not raise alerts"
        times = "; ".join(w.describe() for w in spec.windows) if spec.windows else "at all times"
        return f"{spec.name or t.label}, {times} ({watched})"
    if t == ConditionType.ATTENDANCE:
        n = len(spec.appointments)
        return f"{spec.name or 'Appointments'}: {n} appointment{'s' if n != 1 else ''}"
    if t == ConditionType.ALCOHOL:
        mode = (
            "Abstinence"
            if spec.mode is None or spec.mode.value == "abstinence"
            else f"Not above {spec.level_g_dl} g/dl"
        )
        return f"{mode}" + (f" ({spec.requirement.value.upper()})" if spec.requirement else "")
    return "GPS trail recorded"


def condition_rows(order: Order) -> list[dict[str, Any]]:
    rows = []
    for cond in order.live_condition_list():
        spec = cond.to_spec()
        rows.append(
            {
                "cond": cond,
                "spec": spec,
                "summary": condition_summary(spec),
                "grid": week_grid(spec) if spec.type == ConditionType.CURFEW else None,
                "start": cond.effective_start,
                "end": cond.effective_end,
            }
        )
    return rows


def alcohol_charts(person: Any, days: int = 14) -> list[dict[str, Any]]:
    """Transdermal alcohol over the last fortnight of each alcohol tag, as SVG coordinates, with the
    confirmed drinking episodes shaded and the sober-day counts the engine stored."""
    from datetime import timedelta

    from django.db.models import Max

    from openem.alerts.models import DeviceSummary, Violation
    from openem.telemetry.models import Reading

    width, height, left = 720.0, 160.0, 46.0  # the plot starts after the y axis's labels
    out = []
    for f in person.fittings.filter(device__kind="alcohol").select_related("device"):
        qs = Reading.objects.filter(device=f.device.ref, type="alcohol", t__gte=f.fitted_at)
        last = qs.aggregate(m=Max("t"))["m"]
        if last is None:
            continue
        start = max(last - timedelta(days=days), f.fitted_at)  # nothing to show from before it was on
        rows = list(qs.filter(t__gte=start).order_by("t").values_list("t", "payload"))
        top = max([0.08, *[float(p.get("tac_g_dl", 0)) for _, p in rows]])
        span = (last - start).total_seconds() or 1.0

        def x(t: Any, start: Any = start, span: float = span) -> float:
            return round(left + (t - start).total_seconds() / span * (width - left), 1)

        def y(v: float, top: float = top) -> float:
            return round(height - v / top * height, 1)

        points = " ".join(f"{x(t)},{y(float(p.get('tac_g_dl', 0)))}" for t, p in rows)
        found = list(
            Violation.objects.filter(
                person=person,
                device=f.device.ref,
                retracted=False,
                type__in=("alcohol_confirmed", "alcohol_level_exceeded"),
                start__lt=last,
            ).exclude(end__lt=start)
        )
        episodes = [
            {
                "x": x(max(v.start, start)),
                "w": max(2.0, x(v.end or last) - x(max(v.start, start))),
                "label": f"{timezone.localtime(v.start):%a %-d %b %H:%M}, peak {v.evidence.get('peak_g_dl', '?')} g/dl",
            }
            for v in found
        ]
        summary = DeviceSummary.objects.filter(device=f.device.ref).first()
        out.append(
            {
                "device": f.device.ref,
                "points": points,
                "episodes": episodes,
                "width": width,
                "height": height,
                "left": left,
                "threshold_y": y(0.02),
                "top": round(top, 3),
                "top_y": y(top),
                "mid": round(top / 2, 3),
                "mid_y": y(top / 2),
                "days": _alcohol_days(rows, found, start, last, x),
                "start": start,
                "end": last,
                "summary": summary.data if summary else None,
                "readings": len(rows),
            }
        )
    return out


def _alcohol_days(rows: list[Any], episodes: list[Any], start: Any, last: Any, x: Any) -> list[dict[str, Any]]:
    """One mark per local day of the chart: drinking (a confirmed episode that day), sober (worn: about
    20 hours of readings, as the engine counts sober days) or not worn; with the day's tick and label."""
    from datetime import timedelta

    per_day: dict[Any, int] = {}
    for t, _p in rows:
        d = timezone.localtime(t).date()
        per_day[d] = per_day.get(d, 0) + 1
    drinking = set()
    for v in episodes:
        d, end = timezone.localtime(v.start).date(), timezone.localtime(v.end or last).date()
        while d <= end:
            drinking.add(d)
            d += timedelta(days=1)
    out = []
    day = timezone.localtime(start).date()
    while day <= timezone.localtime(last).date():
        midnight = timezone.make_aware(datetime.combine(day, time(0)))
        noon = timezone.make_aware(datetime.combine(day, time(12)))
        state = "drinking" if day in drinking else "sober" if per_day.get(day, 0) >= 40 else "not worn"
        out.append(
            {
                "tick": x(midnight) if midnight >= start else None,
                "x": min(max(x(noon), x(start) + 8), x(last) - 8),
                "label": f"{day:%a} {day.day}",
                "state": state,
                "title": f"{day:%A} {day.day} {day:%B}: {state}",
            }
        )
        day += timedelta(days=1)
    return out


def timeline(person: Any, limit: int = 30) -> list[dict[str, Any]]:
    """Order changes, fittings, violations, alerts, contacts and enforcement decisions, newest first."""
    from openem.alerts.models import ActionKind, Incident, IncidentAction, Violation
    from openem.cases.models import OrderVersion, Review

    events: list[dict[str, Any]] = []
    versions = OrderVersion.objects.filter(order__person=person).select_related("order", "changed_by")
    for ver in versions.order_by("-changed_at")[:limit]:
        who = ver.changed_by.display_name if ver.changed_by else "Import"
        events.append(
            {
                "at": ver.changed_at,
                "kind": "order",
                "title": f"{ver.order.type_enum.label} {ver.order.ref}, version {ver.number}",
                "detail": f"{'; '.join(ver.changes)} ({who}: {ver.reason})",
            }
        )
    for f in person.fittings.select_related("device")[:limit]:
        events.append(
            {"at": f.fitted_at, "kind": "device", "title": f"{f.device.kind_enum.label} fitted", "detail": f.device.ref}
        )
        if f.removed_at:
            events.append(
                {
                    "at": f.removed_at,
                    "kind": "device",
                    "title": f"{f.device.kind_enum.label} removed",
                    "detail": f"{f.device.ref} {f.removal_reason}".strip(),
                }
            )
    for v in Violation.objects.filter(person=person, retracted=False).order_by("-start")[:limit]:
        until = f" until {v.end:%a %-d %b %H:%M}" if v.end else ", ongoing"
        events.append(
            {
                "at": v.start,
                "kind": v.category,
                "title": v.type_enum.label,
                "detail": f"{v.condition_ref or v.device}{until}",
            }
        )
    for inc in Incident.objects.filter(person=person).order_by("-start")[:limit]:
        # At the time the episode began, right after the violation that raised it (when the alerts worker
        # opened it is later, sometimes much later for history loaded at once).
        events.append(
            {
                "at": inc.start,
                "kind": "alert",
                "title": f"Alert: {inc.summary} ({inc.severity_enum.label.lower()})",
                "detail": f"{inc.kind_enum.label} incident {inc.pk}, {inc.status_enum.label.lower()}",
                "url": reverse("alerts:incident", args=[inc.pk]),
            }
        )
    worked = IncidentAction.objects.filter(
        incident__person=person, kind__in=(ActionKind.CONTACT, ActionKind.DECISION, ActionKind.CLEARED)
    ).select_related("by", "incident")
    for a in worked.order_by("-at")[:limit]:
        who = a.by.display_name if a.by else "OpenEM"
        title = {
            ActionKind.CONTACT: f"Contact: {a.contact_label}",
            ActionKind.DECISION: "Enforcement decision",
            ActionKind.CLEARED: "Alert cleared",
        }[ActionKind(a.kind)]
        events.append(
            {
                "at": a.at,
                "kind": a.kind,
                "title": title,
                "detail": f"{a.text} ({who}, incident {a.incident_id})",
                "url": reverse("alerts:incident", args=[a.incident_id]),
            }
        )
    from openem.assessments.models import AssessmentVersion

    for av in (
        AssessmentVersion.objects.filter(assessment__person=person)
        .select_related("assessment", "changed_by")
        .order_by("-changed_at")[:limit]
    ):
        events.append(
            {
                "at": av.changed_at,
                "kind": "assessment",
                "title": f"Assessment: {av.assessment.proposal_enum.label}",
                "detail": f"{av.what} ({av.changed_by.display_name if av.changed_by else 'OpenEM'})",
                "url": reverse("assessments:detail", args=[av.assessment_id]),
            }
        )
    for rv in Review.objects.filter(order__person=person).select_related("by", "order").order_by("-held_on")[:limit]:
        events.append(
            {
                "at": datetime.combine(rv.held_on, time(12), tzinfo=timezone.get_current_timezone()),
                "kind": "review",
                "title": f"{rv.stage_enum.label} review",
                "detail": f"{rv.summary} ({rv.by.display_name}, {rv.order.ref})",
            }
        )
    # Newest first; at the same moment, in the order they follow from each other (a fitting, then what the
    # tag found, then the alert it raised, then what people did about it).
    rank = {"order": 0, "device": 1, "behaviour": 2, "equipment": 2, "alert": 3, "contact": 4, "decision": 5}
    events.sort(key=lambda e: (e["at"], rank.get(e["kind"], 6)), reverse=True)
    return events[:limit]
