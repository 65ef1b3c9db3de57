"""Retention: device data is kept a set time after a person's last order ends, then deleted, unless
the person's data is held for proceedings. Rejected readings are kept for a shorter time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Max, Min, Q
from django.utils import timezone

from openem.alerts.models import Violation
from openem.audit.models import AuditAction, AuditEvent
from openem.audit.signals import audited_deletes
from openem.cases.models import Person
from openem.cases.rules import add_months

from . import trail
from .models import CaseChange, Reading, RejectedReading


@dataclass
class RetentionResult:
    people: int = 0
    readings: int = 0
    violations: int = 0
    rejected: int = 0
    held: int = 0


def expired(last_order_end: date, months: int, today: date) -> bool:
    return add_months(last_order_end, months) < today


def enforce(today: date | None = None, dry_run: bool = False) -> RetentionResult:
    today = today or timezone.localdate()
    months = settings.OPENEM_RETENTION_MONTHS
    result = RetentionResult()
    ended = Person.objects.annotate(last_end=Max("orders__end")).filter(last_end__lt=today)
    for person in ended:
        last_end = person.last_end  # type: ignore[attr-defined]
        if not expired(last_end, months["readings"], today):
            continue
        if person.held_for_proceedings:
            result.held += 1
            continue
        worn = Q(pk__in=[])
        periods = []  # (device, from, until) of each fitting, for the trail
        for f in person.fittings.select_related("device"):
            part = Q(device=f.device.ref, t__gte=f.fitted_at)
            if f.removed_at:
                part &= Q(t__lt=f.removed_at)
            worn |= part
            periods.append((f.device.ref, f.fitted_at.timestamp(), f.removed_at.timestamp() if f.removed_at else None))
        readings = Reading.objects.filter(worn)
        violations = Violation.objects.filter(person=person)
        old_violations = violations if expired(last_end, months["violations"], today) else violations.none()
        span = readings.aggregate(n=Count("pk"), first=Min("t"), last=Max("t"))
        n_readings, n_violations = span["n"], old_violations.count()
        if not n_readings and not n_violations:
            continue
        result.people += 1
        result.readings += n_readings
        result.violations += n_violations
        if dry_run:
            continue
        reason = f"last order ended {last_end}; kept {months['readings']} months"
        devices = ", ".join(sorted({device for device, _, _ in periods})) or "none"
        with transaction.atomic():
            fixes = 0
            for device, lo, hi in periods:  # the trail: same devices and times as the readings
                fixes += trail.delete(device, lo, hi)
            # Bulk deletes, told that this one event (with the person, the trail and the violations)
            # stands for them all: the readings' queryset and the violations' signal record nothing.
            with audited_deletes(None, "retention", reason=reason, summarised=True):
                readings.delete()
                old_violations.delete()
            AuditEvent.record(
                None,
                AuditAction.DELETE,
                person=person,
                obj=person,
                summary=(
                    f"retention: deleted {n_readings} readings, {fixes} trail positions and {n_violations} "
                    f"violations (devices {devices})"
                ),
                reason=reason,
                period=(span["first"], span["last"]) if n_readings else None,
            )
    cutoff = timezone.now() - timedelta(days=settings.OPENEM_RETAIN_REJECTED_DAYS)
    rejected = RejectedReading.objects.filter(received__lt=cutoff)
    span = rejected.aggregate(n=Count("pk"), first=Min("received"), last=Max("received"))
    result.rejected = span["n"]
    if not dry_run and span["n"]:
        with transaction.atomic():
            rejected.delete()
            # Rejected readings are not attributed to a person: one event for them all.
            AuditEvent.record(
                None,
                AuditAction.DELETE,
                summary=f"retention: deleted {span['n']} rejected readings",
                reason=f"kept {settings.OPENEM_RETAIN_REJECTED_DAYS} days",
                period=(span["first"], span["last"]),
            )
    if not dry_run:
        # Case changes are read by every running engine worker within a second or so (a worker starting
        # compiles everyone): a day's are long applied. They name no one, so nothing to audit.
        CaseChange.objects.filter(at__lt=timezone.now() - timedelta(days=1)).delete()
    return result
