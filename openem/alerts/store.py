"""Triage's store backed by the database: pure ``triage.Incident``s in, ``models.Incident`` rows out."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta

from django.utils import timezone

from openem.cases.models import Condition, Person

from .models import (
    ACK_WITHIN,
    DECISION_WITHIN_WORKING_DAYS,
    ActionKind,
    ClearReason,
    Incident,
    IncidentAction,
    IncidentStatus,
    Violation,
)
from .triage import GAP_TYPES, Delivery, Event, IncidentKind, Risk, Severity, Watch
from .triage import Incident as Pure


def ts(d: datetime | None) -> float | None:
    return d.timestamp() if d is not None else None


def dt(t: float | None) -> datetime | None:
    return datetime.fromtimestamp(t, UTC) if t is not None else None


def victim_zone(v: Violation) -> bool:
    if v.type not in ("exclusion_zone_entry", "inclusion_zone_exit") or not v.condition_ref:
        return False
    return Condition.objects.filter(
        order__person_id=v.person_id, order__ref=v.order_ref, ref=v.condition_ref, spec__victim_sensitive=True
    ).exists()


def gap_stops(v: Violation) -> frozenset[Watch]:
    """What a monitoring gap leaves unmonitored: the person's conditions in force when it began that the
    device's kind monitors (a home unit: an RF curfew; a GPS tag: GPS curfews, monitored zones, the trail
    and appointments; an alcohol tag: alcohol)."""
    from openem.devices.models import Device
    from openem.engine.model import device_kind_needed

    if v.type_enum not in GAP_TYPES:
        return frozenset()
    kind = str(v.evidence.get("device_kind", "")) if v.type == "not_fitted" else ""
    if not kind and v.device:
        kind = Device.objects.filter(ref=v.device).values_list("kind", flat=True).first() or ""
    day = timezone.localtime(v.start).date()
    out: set[Watch] = set()
    for c in Condition.objects.filter(order__person_id=v.person_id, removed_in_version__isnull=True).select_related(
        "order"
    ):
        if not c.applies_on(day) or not c.order.start <= day <= c.order.end:
            continue
        spec = c.to_spec()
        needed = device_kind_needed(spec)
        if needed is None or (kind and needed.value != kind):
            continue
        if c.type == "curfew":
            out.add(Watch.CURFEW)
        elif c.type_enum.is_zone:
            victim = spec.victim_sensitive
            out.add(Watch.VICTIM_ZONE if victim else Watch(c.type))
        elif c.type == "alcohol":
            out.add(Watch.ALCOHOL)
        else:
            out.add(Watch.LOCATION)
    return frozenset(out)


def event_of(v: Violation) -> Event:
    where = (float(v.where[0]), float(v.where[1])) if v.where else None
    return Event(
        v.key, v.person.ref, v.type_enum, v.start.timestamp(), ts(v.end), v.device, victim_zone(v), where,
        gap_stops(v),
    )  # fmt: skip


def add_working_days(day: datetime, n: int) -> datetime:
    while n:
        day += timedelta(days=1)
        n -= day.weekday() < 5
    return day


def decision_due(p: Pure, now: datetime) -> date:
    """Working days from the start of the incident, in local time (recommendation 17)."""
    return add_working_days(timezone.localtime(dt(p.start) or now), DECISION_WITHIN_WORKING_DAYS).date()


def summary_of(p: Pure) -> str:
    if p.kind == IncidentKind.INFRASTRUCTURE:
        return f"Area outage: {len({m.device for m in p.members.values()})} devices silent together"
    labels = [t.label for t in p.types]
    return labels[0] + (" with " + ", ".join(x.lower() for x in labels[1:]) if len(labels) > 1 else "")


class DbStore:
    def __init__(self, now: datetime | None = None) -> None:
        self._people: dict[str, Person] = {}
        self.now = now  # the worker's clock (tests and replays run it at other times)

    def person(self, ref: str) -> Person:
        if ref not in self._people:
            self._people[ref] = Person.objects.get(ref=ref)
        return self._people[ref]

    def risk(self, person: str) -> Risk:
        p = self.person(person)
        return Risk(p.rosh, p.mappa_level, frozenset(p.flags))

    def _pure(self, row: Incident) -> Pure:
        members = {v.key: event_of(v) for v in row.violations.filter(retracted=False).select_related("person")}
        closed = row.clear_reason if row.status == IncidentStatus.CLEARED else ""
        return Pure(
            row.pk, row.person.ref if row.person else None, row.kind_enum, row.start.timestamp(), ts(row.end),
            row.severity_enum, members, row.opened.timestamp(), Delivery(row.delivery), row.notified, closed, row.area,
        )  # fmt: skip

    def incident_of(self, key: str) -> Pure | None:
        row = Incident.objects.filter(violations__key=key).select_related("person").first()
        return self._pure(row) if row else None

    def open_incidents(self, person: str) -> list[Pure]:
        rows = Incident.objects.active().filter(person__ref=person).select_related("person").order_by("id")
        return [self._pure(r) for r in rows]

    def open_silences(self, t0: float, t1: float) -> list[tuple[Event, Pure]]:
        rows = (
            Violation.objects.filter(
                type="no_signal", retracted=False, start__gte=dt(t0), start__lte=dt(t1), incident__kind="equipment"
            )
            .exclude(incident__status=IncidentStatus.CLEARED)
            .select_related("person", "incident", "incident__person")
        )
        return [(event_of(v), self._pure(v.incident)) for v in rows if v.incident is not None]

    def open_infrastructure(self, t0: float, t1: float) -> list[Pure]:
        rows = Incident.objects.active().filter(kind=IncidentKind.INFRASTRUCTURE, start__lte=dt(t1)).order_by("id")
        return [self._pure(r) for r in rows if r.end is None or r.end.timestamp() >= t0]

    def save(self, p: Pure, removed: Iterable[str] = ()) -> Pure:
        now = self.now or timezone.now()
        fields = {
            "person": self.person(p.person) if p.person else None,
            "kind": p.kind.value,
            "severity": p.severity.value,
            "start": dt(p.start),
            "end": dt(p.end),
            "delivery": p.delivery.value,
            "notified": p.notified,
            "area": p.area,
            "summary": summary_of(p)[:200] if p.members else "",
            "action": p.action[:300],
        }
        if p.id is None:
            # A digest's acknowledgement timer starts when the digest goes out.
            due = None if p.delivery == Delivery.DIGEST else now + ACK_WITHIN[p.severity]
            row = Incident.objects.create(**fields, opened=now, ack_due=due)
            if p.kind == IncidentKind.BEHAVIOUR:
                row.decision_due = decision_due(p, now)
                row.save(update_fields=["decision_due"])
            p.id = row.pk
            opened = f"{row.summary} ({p.severity.label})"
            IncidentAction.objects.create(incident=row, kind=ActionKind.OPENED, text=opened, at=now)
        else:
            row = Incident.objects.get(pk=p.id)
            if not fields["summary"]:
                fields.pop("summary")  # keep what it was about
            before = (row.kind, row.severity)
            for k, v in fields.items():
                setattr(row, k, v)
            if row.kind == IncidentKind.BEHAVIOUR and row.decision_due is None:
                row.decision_due = decision_due(p, now)
            if row.status == IncidentStatus.OPEN and (p.delivery != Delivery.DIGEST or row.digest_sent_at):
                due = now + ACK_WITHIN[p.severity]
                row.ack_due = min(row.ack_due, due) if row.ack_due else due
            if p.closed and row.status != IncidentStatus.CLEARED:
                reason = ClearReason.MERGED if p.closed == "merged" else ClearReason.RETRACTED
                row.save()
                row.clear(None, reason)
            else:
                row.save()
            if before != (row.kind, row.severity):
                now_is = f"Now {row.summary} ({Severity(row.severity).label})"
                IncidentAction.objects.create(incident=row, kind=ActionKind.UPDATED, at=now, text=now_is)
        Violation.objects.filter(key__in=list(removed), incident_id=row.pk).update(incident=None)
        Violation.objects.filter(key__in=list(p.members)).update(incident=row)
        return p
