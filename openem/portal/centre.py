"""The monitoring centre's view: every active order, tags not fitted, devices silent or faulty, and
readings that could not be accepted."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Count, Max
from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone

from openem.alerts.models import Incident, IncidentKind, Notification, NotificationStatus, Violation
from openem.cases.models import MonitoringStatus, Person, local_today, monitoring_statuses
from openem.telemetry.models import RejectedReading

from .access import AuthedRequest, case_records_required, forbidden

EQUIPMENT = ("no_signal", "battery_depleted", "home_unit_power", "location_failure")


@case_records_required
def centre(request: AuthedRequest) -> HttpResponse:
    if not request.user.sees_centre:
        return forbidden(request, "The monitoring centre view is for operators and managers.")
    today = local_today()
    people = list(
        Person.objects.visible_to(request.user)
        .filter(orders__start__lte=today, orders__end__gte=today)
        .distinct()
        .prefetch_related("orders__conditions")
        .select_related("practitioner")
    )
    statuses = monitoring_statuses(people)
    not_fitted = [(p, statuses[p.pk][1]) for p in people if statuses[p.pk][0] == MonitoringStatus.NOT_FITTED]
    equipment = (
        Violation.objects.filter(person__in=people, retracted=False, end__isnull=True, type__in=EQUIPMENT)
        .select_related("person", "incident")
        .order_by("start")
    )
    counts = {s: sum(1 for p in people if statuses[p.pk][0] == s) for s in MonitoringStatus}
    active = Incident.objects.visible_to(request.user).active()
    queue = [(k, active.filter(kind=k).count(), active.filter(kind=k, status="open").count()) for k in IncidentKind]
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
            "people": people,
            "counts": [(s, counts[s]) for s in MonitoringStatus],
            "not_fitted": not_fitted,
            "equipment": equipment,
            "rejected": rejected,
            "queue": queue,
            "failed": failed[:20],
            "failed_count": failed.count(),
            "waiting": notifications.filter(status=NotificationStatus.PENDING).count(),
            "rejected_by_reason": rejected_by_reason,
            "rejected_by_kind": rejected_by_kind,
        },
    )
