"""Triage: violations become incidents with a severity, and each incident gets one delivery decision.

Pure Python (no Django), so that the alerts worker and `openem bench alerts` run the same code: the
worker gives ``Triage`` a store backed by the database, the benchmark one in memory.

- One incident per person and episode: violations of one person that overlap or follow each other
  within ``gap_s`` are one incident (a curfew absence with its tamper and its loss of signal).
- Equipment-only incidents go to the monitoring centre's queue as work, never to the practitioner.
- Many devices falling silent together in one area is one infrastructure incident.
- An incident is notified at most once: later changes update it silently.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

from openem.engine.enums import LabelledEnum, RiskFlag, Rosh
from openem.engine.violations import Category, ViolationType
from openem.engine.violations import Violation as EngineViolation


def violation_key(v: EngineViolation) -> str:
    """The same violation has the same key after any re-evaluation (``Violation.key``, defined in the engine)."""
    return v.key


class Severity(LabelledEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return list(Severity).index(self)

    def raised(self, steps: int) -> Severity:
        members = list(Severity)
        return members[max(0, min(len(members) - 1, self.rank + steps))]


class IncidentKind(LabelledEnum):
    BEHAVIOUR = "behaviour"  # the practitioner decides on enforcement
    EQUIPMENT = "equipment"  # the monitoring centre fixes the kit
    INFRASTRUCTURE = "infrastructure"  # many devices at once: the network, not the people


class Delivery(LabelledEnum):
    IMMEDIATE = "immediate"  # a message now
    DIGEST = "digest"  # in the practitioner's daily digest
    QUEUE = "queue"  # the monitoring centre's work queue only

    @property
    def rank(self) -> int:
        return (Delivery.QUEUE, Delivery.DIGEST, Delivery.IMMEDIATE).index(self)


class Action(LabelledEnum):
    """What the engine said about a violation."""

    OPEN = "open"
    CHANGE = "change"
    RETRACT = "retract"


# What each equipment problem asks the monitoring centre to do.
EQUIPMENT_ACTION = {
    ViolationType.NO_SIGNAL: "Call the wearer; if there is no answer, visit to check the tag and home unit",
    ViolationType.BATTERY_DEPLETED: "Call the wearer to charge the tag now; replace it if it will not hold a charge",
    ViolationType.HOME_UNIT_POWER: "Call the wearer and ask them to plug the home unit back in; visit if it stays off",
    ViolationType.LOCATION_FAILURE: "Check the tag's GPS; arrange a replacement if it keeps failing",
    ViolationType.NOT_FITTED: "Arrange the fitting visit today: the order is not being monitored",
}
INFRASTRUCTURE_ACTION = "Check the mobile network status for the area; no calls to wearers unless it lasts"


@dataclass(frozen=True)
class Risk:
    rosh: str = ""
    mappa_level: int | None = None
    flags: frozenset[str] = frozenset()

    @property
    def high(self) -> bool:
        """RoSH high or very high, or managed at MAPPA level 2 or 3."""
        return self.rosh in (Rosh.HIGH, Rosh.VERY_HIGH) or (self.mappa_level or 0) >= 2

    @property
    def domestic_abuse(self) -> bool:
        return RiskFlag.DOMESTIC_ABUSE in self.flags or RiskFlag.STALKING in self.flags


class Watch(LabelledEnum):
    """What a device's data protects: what a gap in it stops being monitored."""

    CURFEW = "curfew"
    EXCLUSION_ZONE = "exclusion_zone"
    VICTIM_ZONE = "victim_zone"  # an exclusion or inclusion zone that protects a victim
    INCLUSION_ZONE = "inclusion_zone"
    LOCATION = "location"  # the trail, appointments
    ALCOHOL = "alcohol"


# Equipment problems that leave the person unmonitored: rated by what they stop, not as a chore.
GAP_TYPES = frozenset(
    {
        ViolationType.NO_SIGNAL, ViolationType.BATTERY_DEPLETED, ViolationType.LOCATION_FAILURE,
        ViolationType.HOME_UNIT_POWER, ViolationType.NOT_FITTED,
    }
)  # fmt: skip


@dataclass
class Event:
    """A violation as triage sees it."""

    key: str
    person: str
    type: ViolationType
    start: float
    end: float | None
    device: str = ""
    victim_zone: bool = False  # the zone protects a victim
    where: tuple[float, float] | None = None  # last known (lat, lon), for silences
    stops: frozenset[Watch] = frozenset()  # for a monitoring gap: the conditions it leaves unmonitored

    @property
    def category(self) -> Category:
        return self.type.category

    def end_or(self, now: float) -> float:
        return self.end if self.end is not None else max(now, self.start)


BASE_SEVERITY = {
    ViolationType.EXCLUSION_ZONE_ENTRY: Severity.HIGH,
    ViolationType.TAMPER: Severity.HIGH,
    ViolationType.CURFEW_ABSENCE: Severity.MEDIUM,
    ViolationType.INCLUSION_ZONE_EXIT: Severity.MEDIUM,
    ViolationType.ALCOHOL_CONFIRMED: Severity.MEDIUM,
    ViolationType.ALCOHOL_LEVEL_EXCEEDED: Severity.MEDIUM,
    ViolationType.ATTENDANCE_MISSED: Severity.LOW,
    ViolationType.NOT_FITTED: Severity.MEDIUM,  # nobody is monitored without data
}


def gap_severity(ev: Event, risk: Risk, now: float) -> Severity:
    """A monitoring gap (a flat battery, lost signal, a tag not fitted) by what it stops: a curfew or a
    zone unmonitored is more than a chore, one protecting a victim (or a zone kept by a person with a
    domestic-abuse or stalking flag) more again, and more for a person at high risk of serious harm. A
    tag not fitted is raised a step for every day it stays unfitted."""
    s = BASE_SEVERITY.get(ev.type, Severity.LOW)
    guarded = ev.stops & {Watch.CURFEW, Watch.EXCLUSION_ZONE, Watch.INCLUSION_ZONE, Watch.VICTIM_ZONE}
    if guarded:
        s = s.raised(1)
    if Watch.VICTIM_ZONE in ev.stops or (Watch.EXCLUSION_ZONE in ev.stops and risk.domestic_abuse):
        s = s.raised(1)
    if risk.high and ev.stops:
        s = s.raised(1)
    if ev.type == ViolationType.NOT_FITTED:
        return s.raised(int((ev.end_or(now) - ev.start) // 86400))
    return s if s.rank <= Severity.HIGH.rank else Severity.HIGH


def severity(ev: Event, risk: Risk, now: float) -> Severity:
    """From the violation type, how long it lasted, and the person's risk."""
    t = ev.type
    if t in GAP_TYPES:
        return gap_severity(ev, risk, now)
    s = BASE_SEVERITY.get(t, Severity.LOW)
    if ev.category == Category.BEHAVIOUR:
        minutes = (ev.end_or(now) - ev.start) / 60
        if t in (ViolationType.CURFEW_ABSENCE, ViolationType.INCLUSION_ZONE_EXIT):
            if minutes >= 120:
                s = s.raised(1)
            elif minutes < 15 and ev.end is not None:
                s = Severity.LOW
        if risk.high:
            s = s.raised(1)
        if t == ViolationType.EXCLUSION_ZONE_ENTRY and (ev.victim_zone or risk.domestic_abuse):
            s = Severity.CRITICAL
    return s


@dataclass
class Incident:
    id: int | None
    person: str | None  # None for infrastructure
    kind: IncidentKind
    start: float
    end: float | None
    severity: Severity = Severity.LOW
    members: dict[str, Event] = field(default_factory=dict)
    opened_at: float = 0.0
    delivery: Delivery = Delivery.QUEUE
    notified: bool = False  # the one message about it has gone (or is queued)
    closed: str = ""  # why it closed without a person (retracted, merged), or cleared by a person
    area: dict[str, float] | None = None  # infrastructure: centre and radius

    @property
    def is_open(self) -> bool:
        return not self.closed

    def episode_end(self, now: float) -> float:
        return self.end if self.end is not None else now

    def near_in_time(self, ev: Event, now: float, gap_s: float) -> bool:
        return ev.start <= self.episode_end(now) + gap_s and ev.end_or(now) >= self.start - gap_s

    def refresh(self, risk: Risk, now: float) -> None:
        """Kind, span and severity from the members."""
        if not self.members:
            return
        ms = list(self.members.values())
        self.start = min(m.start for m in ms)
        ends = [m.end for m in ms]
        self.end = None if any(e is None for e in ends) else max(e for e in ends if e is not None)
        if self.kind != IncidentKind.INFRASTRUCTURE:
            behaviour = any(m.category == Category.BEHAVIOUR for m in ms)
            self.kind = IncidentKind.BEHAVIOUR if behaviour else IncidentKind.EQUIPMENT
            self.severity = max((severity(m, risk, now) for m in ms), key=lambda s: s.rank)
        else:
            self.severity = Severity.MEDIUM if len(ms) < 10 else Severity.HIGH

    @property
    def types(self) -> list[ViolationType]:
        return sorted({m.type for m in self.members.values()}, key=list(ViolationType).index)

    @property
    def action(self) -> str:
        if self.kind == IncidentKind.INFRASTRUCTURE:
            return INFRASTRUCTURE_ACTION
        if self.kind == IncidentKind.EQUIPMENT:
            return "; ".join(EQUIPMENT_ACTION.get(t, "Check the equipment") for t in self.types)
        return "Review the evidence, contact the wearer and record an enforcement decision"


@dataclass(frozen=True)
class PolicyRule:
    """Which behaviour incidents a practitioner is told about at once; the first rule that matches wins."""

    name: str
    delivery: Delivery
    types: frozenset[ViolationType] | None = None  # None: any behaviour type
    high_risk_only: bool = False
    min_severity: Severity | None = None

    def matches(self, incident: Incident, risk: Risk) -> bool:
        if self.types is not None and not self.types & set(incident.types):
            return False
        if self.high_risk_only and not risk.high:
            return False
        return self.min_severity is None or incident.severity.rank >= self.min_severity.rank


DEFAULT_POLICY: tuple[PolicyRule, ...] = (
    PolicyRule(
        "Curfew violation by a person at high or very high Risk of Serious Harm (inspectorate recommendation 6d)",
        Delivery.IMMEDIATE,
        types=frozenset({ViolationType.CURFEW_ABSENCE}),
        high_risk_only=True,
    ),
    PolicyRule(
        "Entry into an exclusion zone (time-critical)",
        Delivery.IMMEDIATE,
        types=frozenset({ViolationType.EXCLUSION_ZONE_ENTRY}),
    ),
    PolicyRule("Any critical incident", Delivery.IMMEDIATE, min_severity=Severity.CRITICAL),
    PolicyRule("Everything else: the daily digest", Delivery.DIGEST),
)


def decide(incident: Incident, risk: Risk, policy: Iterable[PolicyRule]) -> tuple[Delivery, str]:
    if incident.kind == IncidentKind.INFRASTRUCTURE:
        return Delivery.IMMEDIATE, "Infrastructure incidents go to the monitoring centre at once"
    if incident.kind == IncidentKind.EQUIPMENT:
        if incident.severity.rank >= Severity.HIGH.rank:
            return Delivery.IMMEDIATE, (
                "A monitoring gap that leaves a victim's protection or a high-risk person's conditions "
                "unmonitored: the practitioner and the monitoring centre are told at once"
            )
        return Delivery.QUEUE, "Equipment work goes to the monitoring centre's queue"
    for rule in policy:
        if rule.matches(incident, risk):
            return rule.delivery, rule.name
    return Delivery.DIGEST, "No rule matched: the daily digest"


@dataclass(frozen=True)
class OutageRule:
    """Silences this close together in time and place are the network, not the people."""

    min_devices: int = 4
    radius_m: float = 5000.0
    window_s: float = 1800.0


def distance_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    # Equirectangular is plenty at the scale of a town.
    k = math.cos(math.radians((a[0] + b[0]) / 2))
    return 6_371_000.0 * math.hypot(math.radians(b[0] - a[0]), math.radians(b[1] - a[1]) * k)


class Store(Protocol):
    def risk(self, person: str) -> Risk: ...
    def incident_of(self, key: str) -> Incident | None: ...
    def open_incidents(self, person: str) -> list[Incident]: ...
    def open_silences(self, t0: float, t1: float) -> list[tuple[Event, Incident]]: ...
    def open_infrastructure(self, t0: float, t1: float) -> list[Incident]: ...
    def save(self, incident: Incident, removed: Iterable[str] = ()) -> Incident: ...


@dataclass(frozen=True)
class Outcome:
    """What happened to an incident, for the caller to act on (store, notify, count)."""

    what: str  # "opened", "updated", "closed", "notify"
    incident: Incident
    reason: str = ""


class Triage:
    def __init__(
        self,
        store: Store,
        policy: Iterable[PolicyRule] = DEFAULT_POLICY,
        gap_s: float = 1800.0,
        outage: OutageRule = OutageRule(),
    ) -> None:
        self.store = store
        self.policy = tuple(policy)
        self.gap_s = gap_s
        self.outage = outage

    def apply(self, action: Action, ev: Event, now: float) -> list[Outcome]:
        out: list[Outcome] = []
        current = self.store.incident_of(ev.key)
        if action == Action.RETRACT:
            if current is not None:
                out.append(self._drop(current, ev.key, now, "retracted", "Later readings showed it did not happen"))
            return out
        if current is not None:
            current.members[ev.key] = ev
            out += self._settle(current, now, new=False)
            return out
        if ev.type == ViolationType.NO_SIGNAL and ev.where is not None:
            infra = self._outage(ev, now, out)
            if infra is not None:
                return out
        # A tag never fitted is about the order, not an episode: it is never grouped with anything.
        alone = ev.type == ViolationType.NOT_FITTED
        incident = next(
            (
                i
                for i in self.store.open_incidents(ev.person)
                if not alone and i.near_in_time(ev, now, self.gap_s) and ViolationType.NOT_FITTED not in i.types
            ),
            None,
        )
        if incident is None:
            incident = Incident(None, ev.person, IncidentKind.EQUIPMENT, ev.start, ev.end, opened_at=now)
            incident.members[ev.key] = ev
            out += self._settle(incident, now, new=True)
        else:
            incident.members[ev.key] = ev
            out += self._settle(incident, now, new=False)
        return out

    def _drop(self, incident: Incident, key: str, now: float, closed: str, why: str) -> Outcome:
        """Take a violation out of an incident; an incident left empty closes."""
        incident.members.pop(key, None)
        if not incident.members:
            incident.closed = closed
            self.store.save(incident, removed=[key])
            return Outcome("closed", incident, why)
        self._refresh(incident, now)
        self.store.save(incident, removed=[key])
        return Outcome("updated", incident)

    def _refresh(self, incident: Incident, now: float) -> None:
        incident.refresh(self.store.risk(incident.person) if incident.person else Risk(), now)

    def _settle(self, incident: Incident, now: float, new: bool) -> list[Outcome]:
        out = []
        self._refresh(incident, now)
        risk = self.store.risk(incident.person) if incident.person else Risk()
        delivery, reason = decide(incident, risk, self.policy)
        notify = False
        if not incident.notified and delivery.rank > incident.delivery.rank:
            incident.delivery = delivery
        if delivery == Delivery.IMMEDIATE and not incident.notified:
            incident.notified = notify = True
        incident = self.store.save(incident)
        out.append(Outcome("opened" if new else "updated", incident, reason))
        if notify:
            out.append(Outcome("notify", incident, reason))
        return out

    def _outage(self, ev: Event, now: float, out: list[Outcome]) -> Incident | None:
        assert ev.where is not None
        rule = self.outage
        t0, t1 = ev.start - rule.window_s, ev.start + rule.window_s
        for infra in self.store.open_infrastructure(t0, t1):
            if infra.area and distance_m(ev.where, (infra.area["lat"], infra.area["lon"])) <= rule.radius_m:
                infra.members[ev.key] = ev
                self._refresh(infra, now)
                out.append(Outcome("updated", self.store.save(infra)))
                return infra
        near = [
            (e, i)
            for e, i in self.store.open_silences(t0, t1)
            if e.where is not None and e.device != ev.device and distance_m(ev.where, e.where) <= rule.radius_m
        ]
        if len({e.device for e, _ in near}) + 1 < rule.min_devices:
            return None
        events = [ev] + [e for e, _ in near]
        lat = sum(e.where[0] for e in events if e.where) / len(events)
        lon = sum(e.where[1] for e in events if e.where) / len(events)
        infra = Incident(None, None, IncidentKind.INFRASTRUCTURE, ev.start, ev.end, opened_at=now)
        infra.area = {"lat": lat, "lon": lon, "radius_m": rule.radius_m}
        infra.members = {e.key: e for e in events}
        self._refresh(infra, now)
        infra.delivery, infra.notified = Delivery.IMMEDIATE, True
        infra = self.store.save(infra)
        # The personal incidents those silences had opened are now part of the outage.
        for e, personal in near:
            out.append(self._drop(personal, e.key, now, "merged", "Part of an area outage"))
        out.append(Outcome("opened", infra, "Devices in one area fell silent together"))
        out.append(Outcome("notify", infra, "Infrastructure incidents go to the monitoring centre at once"))
        return infra


class MemoryStore:
    """Incidents in memory: for the benchmark and for tests of triage itself."""

    def __init__(self, risks: dict[str, Risk] | None = None) -> None:
        self.risks = risks or {}
        self.incidents: dict[int, Incident] = {}
        self._of: dict[str, int] = {}
        self._by_person: dict[str | None, set[int]] = {}

    def risk(self, person: str) -> Risk:
        return self.risks.get(person, Risk())

    def incident_of(self, key: str) -> Incident | None:
        i = self._of.get(key)
        return self.incidents[i] if i is not None else None

    def open_incidents(self, person: str) -> list[Incident]:
        return [self.incidents[i] for i in sorted(self._by_person.get(person, ())) if self.incidents[i].is_open]

    def open_silences(self, t0: float, t1: float) -> list[tuple[Event, Incident]]:
        return [
            (e, i)
            for i in self.incidents.values()
            if i.is_open and i.kind == IncidentKind.EQUIPMENT
            for e in i.members.values()
            if e.type == ViolationType.NO_SIGNAL and t0 <= e.start <= t1
        ]

    def open_infrastructure(self, t0: float, t1: float) -> list[Incident]:
        return [
            self.incidents[i]
            for i in sorted(self._by_person.get(None, ()))
            if self.incidents[i].is_open and self.incidents[i].start <= t1 and self.incidents[i].episode_end(t1) >= t0
        ]

    def save(self, incident: Incident, removed: Iterable[str] = ()) -> Incident:
        if incident.id is None:
            incident.id = len(self.incidents) + 1
            self.incidents[incident.id] = incident
            self._by_person.setdefault(incident.person, set()).add(incident.id)
        for key in removed:
            if self._of.get(key) == incident.id:  # it may have moved to another incident already
                del self._of[key]
        for key in incident.members:
            self._of[key] = incident.id
        return incident
