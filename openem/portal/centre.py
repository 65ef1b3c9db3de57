"""The monitoring centre's view: the service's own state (a banner when degraded, and the operational
alerts: what the service failed to do and for whom), every active order, tags not fitted, devices silent or
faulty, and readings that could not be accepted."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.db.models import Count, Exists, Max, OuterRef, Q
from django.http import HttpResponse, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone

from openem.accounts.models import Role, User
from openem.alerts.models import (
    Incident,
    IncidentKind,
    IncidentStatus,
    Notification,
    NotificationStatus,
    Violation,
)
from openem.audit.models import AuditAction, AuditEvent
from openem.cases.models import (
    MonitoringStatus,
    Order,
    Person,
    local_today,
    monitoring_overview,
    monitoring_statuses,
)
from openem.health.models import Fault, FaultQuerySet
from openem.health.status import assess
from openem.telemetry.models import RejectedReading

from .access import AuthedRequest, case_records_required, forbidden
from .live import critical_incidents, is_refresh
from .paging import paginate

EQUIPMENT = ("no_signal", "battery_depleted", "home_unit_power", "location_failure")


@case_records_required
def centre(request: AuthedRequest) -> HttpResponse:
    if not request.user.sees_centre:
        return forbidden(request, "The monitoring centre view is for operators and managers.")
    today = local_today()
    # Everyone with an order active today, in SQL: counted, never loaded whole (a national caseload).
    active_now = Order.objects.filter(start__lte=today, end__gte=today).values("person_id")
    people = Person.objects.visible_to(request.user).filter(pk__in=active_now)
    # The count of each status and who has no tag fitted: one aggregate query for the whole caseload.
    by_status, not_fitted_ids = monitoring_overview(people, MonitoringStatus.NOT_FITTED)
    counts = list(by_status.items())
    not_fitted_page = paginate(request, not_fitted_ids, param="not_fitted_page", anchor="tags-not-fitted")
    shown_ids = list(not_fitted_page["page"].object_list)
    found = Person.objects.select_related("practitioner").in_bulk(shown_ids)
    shown = [found[pk] for pk in shown_ids]
    statuses = monitoring_statuses(shown)
    not_fitted = [(p, statuses[p.pk][1]) for p in shown]
    equipment_page = paginate(
        request,
        # The open problems first (few), then whether each one's person is listed here.
        Violation.objects.filter(retracted=False, end__isnull=True, type__in=EQUIPMENT)
        .filter(Exists(people.filter(pk=OuterRef("person_id"))))
        .select_related("person", "incident")
        .order_by("start", "pk"),
        param="equipment_page",
        anchor="equipment-work",
    )
    active = Incident.objects.visible_to(request.user).active()
    # One query for the whole queue: each kind's active incidents and those not yet acknowledged.
    per_kind = {
        row["kind"]: row
        for row in active.order_by()
        .values("kind")
        .annotate(n=Count("pk"), new=Count("pk", filter=Q(status=IncidentStatus.OPEN)))
    }
    queue = [(k, per_kind.get(k.value, {}).get("n", 0), per_kind.get(k.value, {}).get("new", 0)) for k in IncidentKind]
    # Everything below is scoped like the cases it names: a manager sees none of another team's.
    notifications = Notification.objects.visible_to(request.user)
    failed = notifications.filter(status=NotificationStatus.FAILED).select_related("channel", "user", "incident")
    readings = RejectedReading.objects.visible_to(request.user)
    rejected = readings[:20]
    # Readings without a valid credential are counted apart: someone is sending without a device's key or
    # through a gateway the device is not assigned to (a misconfigured device, or someone trying).
    rejected_by_kind = readings.by_kind(since=timezone.now() - timedelta(hours=24))
    rejected_by_reason = readings.values("field").annotate(n=Count("id"), last=Max("received")).order_by("-n")[:10]
    return render(
        request,
        "portal/centre.html",
        {
            "active_count": sum(n for _, n in counts),
            "counts": counts,
            "not_fitted": not_fitted,
            "not_fitted_pages": not_fitted_page["links"],
            "equipment": equipment_page["page"].object_list,
            "equipment_pages": equipment_page["links"],
            "rejected": rejected,
            "queue": queue,
            "failed": failed[:20],
            "failed_count": failed.count(),
            "waiting": notifications.filter(status=NotificationStatus.PENDING).count(),
            "rejected_by_reason": rejected_by_reason,
            "rejected_by_kind": rejected_by_kind,
            "health": assess(),
            "faults": faults_visible_to(request.user).open().select_related("person")[:200],
            "may_resolve": may_resolve_faults(request.user),
            "critical": critical_incidents(request).select_related("person")[:50],
            "now": timezone.now(),
            # A refresh does not announce the banner again every few seconds (portal/live.js announces one
            # that has just appeared).
            "refresh": is_refresh(request),
        },
    )


def faults_visible_to(user: User) -> FaultQuerySet:
    """Operational alerts: all of them for the centre and administrators; a manager sees those about the
    service as a whole and about their team's people."""
    faults: FaultQuerySet = Fault.objects.all()
    if user.sees_all_cases:
        return faults
    return faults.filter(Q(person__isnull=True) | Q(person__in=Person.objects.visible_to(user)))


def may_resolve_faults(user: User) -> bool:
    """Operational alerts are the monitoring centre's to close (and administrators'); managers see theirs."""
    return user.is_superuser or user.role in (Role.OPERATOR, Role.ADMINISTRATOR)


@case_records_required
def fault_resolve(request: AuthedRequest, pk: int) -> HttpResponse:
    """An operator marks an operational alert dealt with (a person re-fitted, a rule fixed). A worker that
    fails again opens a new one; a condition still true (a worker down) is raised again at the next check."""
    if not (request.user.sees_centre and may_resolve_faults(request.user)):
        return forbidden(request, "Operational alerts are resolved by the monitoring centre.")
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    fault = get_object_or_404(faults_visible_to(request.user), pk=pk)
    if not fault.is_open:  # two operators at once, or a second click
        messages.info(request, f"Already resolved: {fault.summary}")
        return redirect(reverse("portal:centre") + "#operational-alerts")
    note = request.POST.get("note", "").strip()[:500]
    fault.resolved_at = timezone.now()
    fault.save(update_fields=["resolved_at"])
    AuditEvent.record(
        request.user, AuditAction.CHANGE, person=fault.person, obj=fault,
        summary=f"operational alert resolved: {fault.kind_enum.label}: {fault.summary}"[:2000], reason=note,
    )  # fmt: skip
    messages.success(request, f"Marked resolved: {fault.summary}")
    return redirect(reverse("portal:centre") + "#operational-alerts")
