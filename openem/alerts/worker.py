"""The alerts worker: triage, escalation, daily digests and sending, each claiming its work with a
conditional UPDATE so that several workers can run side by side."""

from __future__ import annotations

import logging
import os
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from openem.accounts.models import Role, User
from openem.health.faults import raise_fault
from openem.health.models import Component, FaultKind
from openem.health.running import Beat, StopFlag, is_transient, keep_going
from openem.telemetry import trail

from .channels import TRANSPORTS, Permanent, Transient
from .models import (
    ACK_WITHIN,
    ActionKind,
    Channel,
    Incident,
    IncidentAction,
    IncidentStatus,
    Notification,
    NotificationKind,
    NotificationRule,
    NotificationStatus,
    Violation,
)
from .store import DbStore, event_of
from .triage import GAP_TYPES, Action, Delivery, IncidentKind, Severity, Triage, ViolationType

log = logging.getLogger(__name__)
LONDON = ZoneInfo("Europe/London")
MAX_ATTEMPTS = 6
RERATE_EVERY_S = 600.0
CLAIM = timedelta(minutes=2)


def backoff(attempts: int) -> timedelta:
    """30 s, 1, 2, 4, 8 minutes ... capped at an hour."""
    return timedelta(seconds=min(3600, 30 * 2 ** max(0, attempts - 1)))


@dataclass
class AlertsCycle:
    triaged: int = 0
    opened: int = 0
    queued: int = 0
    escalated: int = 0
    digests: int = 0
    sent: int = 0
    failed_sends: int = 0  # messages that could not be delivered
    failed: int = 0  # items skipped because processing them failed (each an operational alert)

    def busy(self) -> bool:
        return bool(self.triaged or self.queued or self.sent)


def url(incident: Incident) -> str:
    return f"{settings.OPENEM_BASE_URL}/alerts/{incident.pk}/"


def describe(incident: Incident) -> str:
    who = f"{incident.person.name} ({incident.person.crn or incident.person.ref})" if incident.person else "Area"
    when = timezone.localtime(incident.start).strftime("%a %d %b %H:%M")
    lines = [
        f"{incident.headline}",
        f"Who: {who}",
        f"Since: {when}" + ("" if incident.end is None else f" until {timezone.localtime(incident.end):%H:%M}"),
        f"Severity: {incident.severity_enum.label}",
        f"Next step: {incident.action}",
        f"Open it: {url(incident)}",
    ]
    return "\n".join(lines)


def recipients(incident: Incident, kind: NotificationKind) -> list[User]:
    """Behaviour to the practitioner (escalations to their team's managers); the rest to the centre, and a
    monitoring gap rated high (a victim's protection or a high-risk person's curfew unmonitored) to the
    practitioner as well."""
    operators = list(User.objects.filter(role=Role.OPERATOR, is_active=True))
    if incident.kind == IncidentKind.EQUIPMENT and incident.person is not None:
        practitioner = incident.person.practitioner
        serious = incident.severity_enum.rank >= Severity.HIGH.rank
        if serious and practitioner is not None and practitioner.is_active and kind == NotificationKind.IMMEDIATE:
            return [*operators, practitioner]
        return operators
    if incident.kind != IncidentKind.BEHAVIOUR or incident.person is None:
        return operators
    practitioner = incident.person.practitioner
    if kind == NotificationKind.ESCALATION:
        team = practitioner.team if practitioner else incident.person.team
        managers = list(User.objects.filter(role=Role.MANAGER, team=team, is_active=True)) if team else []
        return managers or operators
    return [practitioner] if practitioner and practitioner.is_active else operators


def queue(
    incident: Incident | None, users: list[User], kind: NotificationKind, subject: str, body: str, now: datetime
) -> int:
    n = 0
    for user in users:
        for channel in Channel.for_user(user):
            Notification.objects.create(
                incident=incident, user=user, channel=channel, kind=kind, subject=subject[:200], body=body,
                created=now, next_attempt_at=now,
            )  # fmt: skip
            n += 1
    return n


class AlertsWorker:
    """Each item (a violation to triage, an incident to escalate, a digest, a message) is handled on its
    own: one that fails is recorded as an operational alert and skipped, never retried first for ever,
    and the others go on. ``stop`` (SIGTERM) ends the loop after the item in hand."""

    def __init__(self, name: str | None = None) -> None:
        self.name = name or f"{socket.gethostname()}:{os.getpid()}"
        self.stop = StopFlag(install=False)
        self.beat = Beat("alerts", Component.ALERTS)
        self._rerated = float("-inf")

    def _item_failed(self, what: str, key: str, exc: Exception, person: Any = None) -> None:
        """One item failed for a reason that will not pass by itself: alert the centre and go on."""
        if is_transient(exc):
            raise exc  # the database is busy or gone: the loop waits and the item is tried again
        log.error("alerts worker: %s failed", what, exc_info=exc)
        raise_fault(
            FaultKind.ALERTS_ITEM_FAILED, key, f"The alerts worker could not process {what}: it was skipped",
            component=Component.ALERTS, person=person, exc=exc,
        )  # fmt: skip

    # -------------------------------------------------------------- triage

    def triage(self, now: datetime, result: AlertsCycle, limit: int = 500) -> None:
        pending = list(
            Violation.objects.filter(triage_pending=True).order_by("id").values_list("id", flat=True)[:limit]
        )
        if not pending:
            return
        store = DbStore(now)
        triage = Triage(store, NotificationRule.policy())
        for pk in pending:
            if self.stop:
                break
            try:
                if self._triage_one(pk, triage, now, result):
                    result.triaged += 1
            except Exception as exc:
                # Not retried first for ever: marked as seen (the fault says which), so the queue moves on.
                Violation.objects.filter(pk=pk).update(triage_pending=False)
                person = Violation.objects.filter(pk=pk).values_list("person", flat=True).first()
                self._item_failed(f"violation {pk}", f"violation {pk}", exc, _person(person))
                result.failed += 1

    def _triage_one(self, pk: int, triage: Triage, now: datetime, result: AlertsCycle) -> bool:
        with transaction.atomic():
            if Violation.objects.filter(pk=pk, triage_pending=True).update(triage_pending=False) != 1:
                return False  # another worker took it
            v = Violation.objects.select_related("person").get(pk=pk)
            if v.type == ViolationType.NO_SIGNAL and not v.where:
                v.where = self._where(v)
                Violation.objects.filter(pk=pk).update(where=v.where)
            action = Action.RETRACT if v.retracted else (Action.CHANGE if v.incident_id else Action.OPEN)
            if action == Action.RETRACT and v.incident_id is None:
                return True
            for outcome in triage.apply(action, event_of(v), now.timestamp()):
                row = Incident.objects.select_related("person", "person__practitioner").get(pk=outcome.incident.id or 0)
                if outcome.what == "opened":
                    result.opened += 1
                    if outcome.reason:
                        Incident.objects.filter(pk=row.pk).update(delivery_reason=outcome.reason[:200])
                elif outcome.what == "notify":
                    result.queued += self._notify_now(row, outcome.reason, now)
                elif outcome.what == "updated" and row.delivery == Delivery.DIGEST and not row.delivery_reason:
                    Incident.objects.filter(pk=row.pk).update(delivery_reason=outcome.reason[:200])
        return True

    def _where(self, v: Violation) -> list[float] | None:
        fix = trail.last_position(v.device, v.start.timestamp()) if v.device else None
        if fix:
            return [fix[0], fix[1]]
        for order in v.person.orders.all():
            for c in order.conditions.filter(type="curfew"):
                address = c.spec.get("address")
                if address:
                    return [address["lat"], address["lon"]]
        return None

    def _notify_now(self, incident: Incident, reason: str, now: datetime) -> int:
        subject = f"OpenEM {incident.severity_enum.label.upper()}: {incident.headline}"
        if incident.person:
            subject += f" - {incident.person.name}"
        n = queue(incident, recipients(incident, NotificationKind.IMMEDIATE), NotificationKind.IMMEDIATE, subject,
                  describe(incident) + f"\n\nWhy you are told now: {reason}", now)  # fmt: skip
        IncidentAction.objects.create(
            incident=incident, kind=ActionKind.NOTIFIED, text=f"{n} message(s): {reason}", at=now
        )
        return n

    # -------------------------------------------------------------- escalation

    def escalate(self, now: datetime, result: AlertsCycle) -> None:
        due = Incident.objects.filter(status=IncidentStatus.OPEN, ack_due__lt=now, escalated_at__isnull=True)
        for pk in list(due.values_list("pk", flat=True)[:200]):
            if self.stop:
                break
            if not Incident.objects.filter(pk=pk, escalated_at__isnull=True).update(escalated_at=now):
                continue
            try:
                with transaction.atomic():
                    self._escalate_one(pk, now, result)
            except Exception as exc:  # escalated_at stays set: not tried again and again; the fault says so
                person = Incident.objects.filter(pk=pk).values_list("person", flat=True).first()
                self._item_failed(f"the escalation of incident {pk}", f"escalation {pk}", exc, _person(person))
                result.failed += 1

    def _escalate_one(self, pk: int, now: datetime, result: AlertsCycle) -> None:
        incident = Incident.objects.select_related("person", "person__practitioner").get(pk=pk)
        to = recipients(incident, NotificationKind.ESCALATION)
        subject = f"OpenEM escalation: not acknowledged in time - {incident.summary}"
        body = describe(incident) + f"\n\nNobody acknowledged it by {timezone.localtime(incident.ack_due):%H:%M}."
        result.queued += queue(incident, to, NotificationKind.ESCALATION, subject, body, now)
        IncidentAction.objects.create(
            incident=incident, kind=ActionKind.ESCALATED, at=now,
            text="Not acknowledged in time: escalated to " + (", ".join(u.display_name for u in to) or "nobody"),
        )  # fmt: skip
        result.escalated += 1

    # -------------------------------------------------------------- digests

    def digests(self, now: datetime, result: AlertsCycle) -> None:
        """Once a day, from the digest hour: each practitioner's waiting incidents in one message."""
        local = timezone.localtime(now, LONDON)
        if local.hour < settings.OPENEM_DIGEST_HOUR:
            return
        today_from = local.replace(hour=settings.OPENEM_DIGEST_HOUR, minute=0, second=0, microsecond=0)
        had_one = set(
            Notification.objects.filter(kind=NotificationKind.DIGEST, created__gte=today_from).values_list(
                "user_id", flat=True
            )
        )
        waiting = (
            Incident.objects.active()
            .filter(kind=IncidentKind.BEHAVIOUR, delivery=Delivery.DIGEST, notified=False, digest_sent_at__isnull=True)
            .filter(opened__lt=today_from)  # later ones wait for tomorrow's
            .select_related("person", "person__practitioner")
            .order_by("start")
        )
        by_user: dict[int, tuple[User, list[Incident]]] = {}
        for inc in waiting:
            for user in recipients(inc, NotificationKind.DIGEST):
                by_user.setdefault(user.pk, (user, []))[1].append(inc)
        for user, items in by_user.values():
            if self.stop:
                break
            if user.pk in had_one:
                continue  # tomorrow's digest
            try:
                with transaction.atomic():
                    self._digest_one(user, items, now, result)
            except Exception as exc:
                self._item_failed(f"the daily digest of {user.display_name}", f"digest {user.pk}", exc)
                result.failed += 1

    def _digest_one(self, user: User, items: list[Incident], now: datetime, result: AlertsCycle) -> None:
        claimed = [
            i for i in items
            if Incident.objects.filter(pk=i.pk, digest_sent_at__isnull=True).update(
                digest_sent_at=now, ack_due=now + ACK_WITHIN[i.severity_enum]
            )
        ]  # fmt: skip
        if not claimed:
            return
        day = timezone.localtime(now, LONDON).strftime("%A %d %B")
        body = f"{len(claimed)} incident(s) on your caseload since your last digest:\n\n" + "\n\n".join(
            describe(i) for i in claimed
        )
        sent = queue(None, [user], NotificationKind.DIGEST, f"OpenEM daily digest, {day}", body, now)
        if not sent:  # nowhere to send it: keep a record so that it shows as failed, not silently lost
            log.warning("no channel for %s's digest", user)
        result.queued += sent
        result.digests += 1

    # -------------------------------------------------------------- sending

    def send(self, now: datetime, result: AlertsCycle, limit: int = 100) -> None:
        due = Notification.objects.filter(status=NotificationStatus.PENDING, next_attempt_at__lte=now).filter(
            Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)
        )
        for pk in list(due.order_by("next_attempt_at").values_list("pk", flat=True)[:limit]):
            if self.stop:
                break  # the message in hand was finished; the rest wait for the next start
            free = Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)
            if Notification.objects.filter(free, pk=pk, status=NotificationStatus.PENDING).update(
                claimed_until=now + CLAIM
            ) != 1:  # fmt: skip
                continue
            n = Notification.objects.select_related("channel", "incident", "incident__person").get(pk=pk)
            self.deliver(n, now, result)

    def deliver(self, n: Notification, now: datetime, result: AlertsCycle) -> None:
        n.attempts += 1
        try:
            TRANSPORTS[n.channel.kind].send(n)
        except Permanent as e:
            n.status, n.last_error = NotificationStatus.FAILED, str(e)[:2000]
            result.failed_sends += 1
        except Transient as e:
            n.last_error = str(e)[:2000]
            if n.attempts >= MAX_ATTEMPTS:
                n.status = NotificationStatus.FAILED
                n.last_error = f"gave up after {n.attempts} attempts: {e}"[:2000]
                result.failed_sends += 1
            else:
                n.next_attempt_at = now + backoff(n.attempts)
        except Exception as e:  # a bug in a channel must not stop the others; keep it visible
            log.exception("notification %s", n.pk)
            n.status, n.last_error = NotificationStatus.FAILED, f"unexpected error: {e}"[:2000]
            result.failed_sends += 1
        else:
            n.status, n.sent_at, n.last_error = NotificationStatus.SENT, now, ""
            result.sent += 1
        n.claimed_until = None
        n.save()

    # -------------------------------------------------------------- loop

    def rerate(self, now: datetime, result: AlertsCycle) -> None:
        """A monitoring gap grows more serious as it lasts (a tag not fitted, a step a day) though its
        violation does not change: every few minutes open gaps are triaged again, and one that now needs
        the practitioner is sent at once."""
        if now.timestamp() - self._rerated < RERATE_EVERY_S:
            return
        self._rerated = now.timestamp()
        gaps = Violation.objects.filter(
            retracted=False, end__isnull=True, triage_pending=False, incident__isnull=False,
            incident__status__in=(IncidentStatus.OPEN, IncidentStatus.ACKNOWLEDGED),
            type__in=[t.value for t in GAP_TYPES],
        ).order_by("incident_id", "id")  # fmt: skip
        seen: set[int] = set()
        for pk, incident_id in gaps.values_list("pk", "incident_id")[:2000]:
            if incident_id in seen:
                continue
            seen.add(incident_id)
            # Marked for triage again, as a change: the ordinary path re-rates it and notifies if due.
            Violation.objects.filter(pk=pk).update(triage_pending=True)
        if seen:
            self.triage(now, result)

    def cycle(self, now: datetime | None = None) -> AlertsCycle:
        now = now or timezone.now()
        result = AlertsCycle()
        self.triage(now, result)
        self.rerate(now, result)
        self.escalate(now, result)
        self.digests(now, result)
        self.send(now, result)
        return result

    def run(self, interval_s: float = 1.0, stop_after: float | None = None, **_: Any) -> None:
        """Cycle until ``self.stop`` is set, finishing the item in hand; a locked or lost database waits
        and tries again, and nothing but the stop flag ends the loop."""

        def step() -> bool:
            r = self.cycle()
            self.beat.count(
                triaged=r.triaged, incidents_opened=r.opened, notifications_queued=r.queued,
                notifications_sent=r.sent, notifications_failed=r.failed_sends, failed=r.failed,
            )  # fmt: skip
            if self.beat.due():
                pending = Violation.objects.filter(triage_pending=True).count()
                due = Notification.objects.filter(
                    status=NotificationStatus.PENDING, next_attempt_at__lte=timezone.now()
                )
                oldest = due.order_by("next_attempt_at").values_list("next_attempt_at", flat=True).first()
                lag = (timezone.now() - oldest).total_seconds() if oldest else 0.0
                self.beat(lag_s=max(0.0, lag), backlog=pending + due.count())
            return r.busy()

        try:
            keep_going(step, self.stop, interval_s, "alerts worker", stop_after)
        finally:
            self.beat.stopped()


def _person(pk: int | None) -> Any:
    from openem.cases.models import Person

    return Person.objects.filter(pk=pk).first() if pk else None
