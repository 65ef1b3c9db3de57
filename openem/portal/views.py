"""Case list and person page."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django.conf import settings
from django.db.models import (
    Case,
    Exists,
    F,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    Subquery,
    When,
    prefetch_related_objects,
)
from django.http import HttpResponse
from django.shortcuts import render

from openem.accounts.models import Role
from openem.alerts.models import Violation
from openem.assessments.models import Assessment
from openem.audit.models import AuditAction, AuditEvent
from openem.cases.models import (
    Condition,
    MonitoringStatus,
    Order,
    OrderStatus,
    Person,
    Review,
    local_today,
    monitoring_statuses,
    reviews_due,
)
from openem.devices.contact import attach
from openem.engine.enums import ConditionType, OrderType, Rosh

from .access import AuthedRequest, case_records_required, visible_person
from .live import critical_by_person, record_look
from .paging import paginate
from .presenters import alcohol_charts, combined_week_grid, condition_rows, map_features, timeline

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
    """A caseload a page at a time. Search, filters and sorts run in SQL over everyone the user may see (the
    monitoring status too: ``PersonQuerySet.with_monitoring``), so only the page's people are loaded."""
    user = request.user
    today = local_today()
    people = Person.objects.visible_to(user)
    q = request.GET.get("q", "").strip()
    if q:
        people = people.filter(Q(name__icontains=q) | Q(crn__icontains=q) | Q(ref__icontains=q))
    order_type = request.GET.get("type", "")
    if order_type in OrderType._value2member_map_:
        people = people.filter(Exists(Order.objects.filter(person=OuterRef("pk"), type=order_type)))
    status_filter = request.GET.get("status", "")
    attention = request.GET.get("attention") == "1"
    sort = request.GET.get("sort", "name")
    # The end of the current order that ends first (an order not yet ended, as on the row).
    current_end = Order.objects.filter(person=OuterRef("pk"), end__gte=today).order_by("end").values("end")[:1]
    people = people.annotate(ends=Subquery(current_end))
    filtered = status_filter in MonitoringStatus._value2member_map_
    if filtered:
        people = people.in_status(MonitoringStatus(status_filter))
    if (sort == "status" and not filtered) or attention:  # one status, filtered: sorted by name within it
        people = people.with_monitoring()
    orderings: dict[str, list[Any]] = {
        "ends": [F("ends").asc(nulls_last=True)],
        "status": [] if filtered else ["monitoring_rank"],
        "rosh": [ROSH_RANK],
    }
    ordering = orderings.get(sort, [])
    people = people.order_by(*ordering, "name", "pk")
    listed: Any = people
    if attention:
        listed = needing_attention(people, today)
    paged = paginate(request, listed)
    page_people = list(paged["page"].object_list)
    if attention:
        found = Person.objects.in_bulk(page_people)
        page_people = [found[pk] for pk in page_people]
    prefetch_related_objects(page_people, "practitioner", "team", "orders__conditions", "orders__reviews")
    statuses = monitoring_statuses(page_people)
    critical = critical_by_person(request, page_people)
    rows = [case_row(person, today, statuses[person.pk], critical.get(person.pk, [])) for person in page_people]
    total = paged["page"].paginator.count
    searched = search_terms(q, order_type, status_filter, attention)
    if searched:
        # A search is one event with what was searched for, not one per person it lists.
        record_look(
            request,
            AuditAction.SEARCH,
            summary=f"case list: {searched}: {total} found",
            same_as=f"case list: {searched}:",
        )
    title = {Role.PRACTITIONER: "My cases", Role.MANAGER: "Team cases"}.get(Role(user.role), "All cases")
    return render(
        request,
        "portal/case_list.html",
        {
            "title": title,
            "rows": rows,
            "total": total,
            "pagination": paged["links"],
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


# Highest Risk of Serious Harm first, then those not assessed.
ROSH_RANK = Case(*[When(rosh=r.value, then=-i) for i, r in enumerate(Rosh)], default=1, output_field=IntegerField())


def current_orders(person: Person, today: date) -> list[Order]:
    """The person's orders not yet ended, the one that ends first first (from the prefetched orders)."""
    return sorted((o for o in person.orders.all() if o.status_on(today) != OrderStatus.ENDED), key=lambda o: o.end)


def warnings_on(orders: list[Order]) -> int:
    """How many findings someone should look at (the order page's warnings) on these orders: the counts kept
    on them (``Order.count_warnings``), as "Needs attention" reads them."""
    return sum(order.warning_count for order in orders)


def case_row(
    person: Person, today: date, status: tuple[MonitoringStatus, list[str]], critical: list[Any]
) -> dict[str, Any]:
    current = current_orders(person, today)
    kinds: list[str] = []
    for order in current:
        for cond in order.conditions.all():
            if cond.removed_in_version is None and cond.type not in kinds:
                kinds.append(cond.type)
    ends = current[0].end if current else None
    return {
        "person": person,
        "orders": current,
        "kinds": [SHORT_LABELS[ConditionType(k)] for k in kinds],
        "ends": ends,
        "ending_soon": ends is not None and (ends - today).days <= ENDING_SOON_DAYS,
        "warnings": warnings_on(current),
        "status": status[0],
        "status_why": status[1],
        "critical": critical,
    }


ENDING_SOON_DAYS = 14


def needing_attention(people: Any, today: date) -> list[int]:
    """The ids, in the list's order, of those who need attention: a status other than "Compliant", an order
    ending within a fortnight, or a warning on a current order (its stored ``warning_count``: the order
    rules' warnings are counted when an order, its conditions or the person's assessments change). One
    query, in SQL for everyone."""
    warned = Order.objects.filter(end__gte=today, warning_count__gt=0).values("person_id")
    flagged = (
        ~Q(monitoring_rank=MonitoringStatus.COMPLIANT.rank)
        | Q(ends__lte=today + timedelta(days=ENDING_SOON_DAYS))
        | Q(pk__in=warned)
    )
    return list(people.filter(flagged).values_list("pk", flat=True))


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
    # Everything the orders' sections read, fetched together: no query per order or condition.
    prefetch_related_objects(
        [person],
        Prefetch("orders", queryset=Order.objects.order_by("-end").prefetch_related("conditions", "reviews")),
        "assessments__addresses",
    )
    orders = []
    live_conditions: list[Condition] = []
    for order in person.orders.all():
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
            "assessments": Assessment.objects.filter(person=person)
            .select_related("override_by")
            .prefetch_related("addresses__checks"),
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
