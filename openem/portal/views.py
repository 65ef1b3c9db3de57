"""Case list and person page."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models import Q
from django.http import HttpResponse
from django.shortcuts import render

from openem.accounts.models import Role
from openem.alerts.models import Violation
from openem.assessments.models import Assessment
from openem.audit.models import AuditAction, AuditEvent
from openem.cases.models import (
    Condition,
    MonitoringStatus,
    OrderStatus,
    Person,
    Review,
    local_today,
    monitoring_statuses,
    reviews_due,
)
from openem.cases.rules import Severity
from openem.devices.contact import attach
from openem.engine.enums import ConditionType, OrderType, Rosh

from .access import AuthedRequest, case_records_required, visible_person
from .live import critical_by_person, record_look
from .presenters import alcohol_charts, combined_week_grid, condition_rows, map_features, timeline

ROSH_ORDER = {r.value: i for i, r in enumerate(Rosh)}
SHORT_LABELS = {
    ConditionType.CURFEW: "Curfew",
    ConditionType.EXCLUSION_ZONE: "Exclusion",
    ConditionType.INCLUSION_ZONE: "Inclusion",
    ConditionType.ATTENDANCE: "Attendance",
    ConditionType.TRAIL: "Trail",
    ConditionType.ALCOHOL: "Alcohol",
}
SORTS = {"name": "Name", "status": "Monitoring status", "ends": "Order ends", "rosh": "Risk of Serious Harm"}


@case_records_required
def case_list(request: AuthedRequest) -> HttpResponse:
    user = request.user
    today = local_today()
    people = (
        Person.objects.visible_to(user)
        .select_related("practitioner", "team")
        .prefetch_related("orders__conditions", "assessments__addresses")
    )
    q = request.GET.get("q", "").strip()
    if q:
        people = people.filter(Q(name__icontains=q) | Q(crn__icontains=q) | Q(ref__icontains=q))
    order_type = request.GET.get("type", "")
    if order_type in OrderType._value2member_map_:
        people = people.filter(orders__type=order_type).distinct()
    rows: list[dict[str, Any]] = []
    listed = list(people)
    statuses = monitoring_statuses(listed)
    critical = critical_by_person(request, listed)
    for person in listed:
        orders = [o for o in person.orders.all() if o.status_on(today) != OrderStatus.ENDED]
        current = sorted(orders, key=lambda o: o.end)
        kinds: list[str] = []
        warnings = 0
        for order in current:
            for cond in order.conditions.all():
                if cond.removed_in_version is None and cond.type not in kinds:
                    kinds.append(cond.type)
            warnings += sum(1 for f in order.findings() if f.severity == Severity.WARNING)
        ends = current[0].end if current else None
        rows.append(
            {
                "person": person,
                "orders": current,
                "kinds": [SHORT_LABELS[ConditionType(k)] for k in kinds],
                "ends": ends,
                "ending_soon": ends is not None and (ends - today).days <= 14,
                "warnings": warnings,
                "status": statuses[person.pk][0],
                "status_why": statuses[person.pk][1],
                "critical": critical.get(person.pk, []),
            }
        )
    attention = request.GET.get("attention") == "1"
    if attention:
        rows = [r for r in rows if r["warnings"] or r["ending_soon"] or r["status"] != MonitoringStatus.COMPLIANT]
    status_filter = request.GET.get("status", "")
    if status_filter in MonitoringStatus._value2member_map_:
        rows = [r for r in rows if r["status"] == status_filter]
    sort = request.GET.get("sort", "name")
    if sort == "ends":
        rows.sort(key=lambda r: (r["ends"] is None, r["ends"] or today))
    elif sort == "status":
        rows.sort(key=lambda r: list(MonitoringStatus).index(r["status"]))
    elif sort == "rosh":
        rows.sort(key=lambda r: -ROSH_ORDER.get(r["person"].rosh, -1))
    searched = search_terms(q, order_type, status_filter, attention)
    if searched:
        # A search is one event with what was searched for, not one per person it lists.
        record_look(
            request,
            AuditAction.SEARCH,
            summary=f"case list: {searched}: {len(rows)} found",
            same_as=f"case list: {searched}:",
        )
    title = {Role.PRACTITIONER: "My cases", Role.MANAGER: "Team cases"}.get(Role(user.role), "All cases")
    return render(
        request,
        "portal/case_list.html",
        {
            "title": title,
            "rows": rows,
            "q": q,
            "type": order_type,
            "order_types": OrderType.choices(),
            "sort": sort,
            "statuses": MonitoringStatus.choices(),
            "status_filter": request.GET.get("status", ""),
            "sorts": SORTS,
            "attention": attention,
        },
    )


def search_terms(q: str, order_type: str, status: str, attention: bool) -> str:
    """What a case list search asked for, in words, or "" for the plain list of one's cases."""
    terms = [f'"{q}"'] if q else []
    if order_type in OrderType._value2member_map_:
        terms.append(f"order type {order_type}")
    if status in MonitoringStatus._value2member_map_:
        terms.append(f"status {status}")
    if attention:
        terms.append("needing attention")
    return ", ".join(terms)


@case_records_required
def person_detail(request: AuthedRequest, pk: int) -> HttpResponse:
    person = visible_person(request, pk)
    record_look(request, AuditAction.VIEW, person=person, obj=person, summary="person page")
    today = local_today()
    orders = []
    live_conditions: list[Condition] = []
    for order in person.orders.all().order_by("-end"):
        status = order.status_on(today)
        rows = condition_rows(order)
        if status != OrderStatus.ENDED:
            live_conditions.extend(r["cond"] for r in rows)
        orders.append(
            {
                "order": order, "status": status, "rows": rows, "findings": order.findings(),
                "combined_grid": combined_week_grid(rows) if status != OrderStatus.ENDED else None,
            }
        )  # fmt: skip
    # Each tag in force with its battery and last contact, in one query (openem/devices/contact.py).
    fittings = attach(list(person.fittings.select_related("device").order_by("-fitted_at")))
    violations = Violation.objects.filter(person=person, retracted=False).order_by("-start")[:50]
    due = [r for order in person.orders.all() for r in reviews_due(order, today)]
    return render(
        request,
        "portal/person.html",
        {
            "violations": violations,
            "alcohol": alcohol_charts(person),
            "timeline": timeline(person),
            "reviews_due": sorted(due, key=lambda r: r.due),
            "reviews": Review.objects.filter(order__person=person).select_related("order", "by")[:10],
            "assessments": Assessment.objects.filter(person=person).prefetch_related("addresses__checks"),
            "person": person,
            "orders": orders,
            "fittings": fittings,
            "features": map_features(live_conditions),
            "can_set_up": request.user.can_set_up_orders,
            "can_fit": request.user.manages_devices,
            "today": today,
        },
    )


@case_records_required
def information_sheet(request: AuthedRequest, pk: int) -> HttpResponse:
    """A plain-language sheet for the wearer: what the devices do, what to do, what counts as a breach."""
    person = visible_person(request, pk)
    today = local_today()
    rows = []
    kinds: set[str] = set()
    for order in person.orders.all():
        if order.status_on(today) == OrderStatus.ENDED:
            continue
        for cond in order.live_conditions():
            if cond.effective_end < today:
                continue
            rows.append(plain_words(cond.to_spec(), cond.effective_start, cond.effective_end))
            kinds.add("zone" if cond.type_enum.is_zone and cond.raises_alerts else cond.type)
    fittings = list(person.fittings.filter(removed_at__isnull=True).select_related("device"))
    devices = {f.device.kind for f in fittings}
    AuditEvent.record(request.user, AuditAction.VIEW, person=person, obj=person, summary="information sheet")
    return render(
        request,
        "portal/information_sheet.html",
        {
            "person": person,
            "rows": rows,
            "fittings": fittings,
            # Only what applies to this person: no alcohol rule for someone without an alcohol condition.
            "breaches": {
                "curfew": "curfew" in kinds,
                "zone": "zone" in kinds,
                "alcohol": "alcohol" in kinds,
                "charging": bool(devices & {"gps", "alcohol"}),
                "home_unit": "rf" in devices,
            },
            "centre_phone": settings.OPENEM_CENTRE_PHONE,
        },
    )


def plain_words(spec: Any, start: Any, end: Any) -> str:
    until = f"until {end:%-d %B %Y}"
    t = spec.type
    if t == ConditionType.CURFEW:
        times = "; ".join(w.describe().replace(" to ", " until ") for w in spec.windows)
        return f"Be at home at these times ({times}), {until}."
    if t == ConditionType.EXCLUSION_ZONE:
        if spec.victim_sensitive:
            # Never name it: the name of a zone that protects a victim can say where they live.
            return f"Stay out of the area your practitioner has shown you, {until}."
        return (
            f"Stay out of {spec.name or 'the exclusion zone'} at all times, {until}."
            if not spec.windows
            else f"Stay out of {spec.name or 'the exclusion zone'} at the times you have been given, {until}."
        )
    if t == ConditionType.INCLUSION_ZONE:
        # A zone that protects a victim is never named to the person, whichever kind it is.
        name = "the area your practitioner has shown you" if spec.victim_sensitive else spec.name
        return f"Stay inside {name or 'the area you have been given'} at the times you have been given, {until}."
    if t == ConditionType.ATTENDANCE:
        if spec.appointments:
            first = min(a.start for a in spec.appointments)
            return (
                f"Go to your appointments at {spec.name or 'the place you have been given'} (the next list starts "
                f"{first:%A %-d %B at %H:%M})."
            )
        return f"Go to your appointments at {spec.name or 'the place you have been given'}."
    if t == ConditionType.ALCOHOL:
        if spec.mode and spec.mode.value == "level":
            return f"Do not drink more than the level in your order, {until}."
        return f"Do not drink any alcohol, {until}."
    return f"Wear your location tag and keep it charged, {until}. Where you go is recorded."
