"""The measures of management information, as a named registry: each is a small function from one
quarter's records (``Facts``, loaded in a handful of queries) to its units, each unit a person, an order
or an event with what it adds to the numerator (y) and the denominator (x). docs/mi.md publishes each
definition; a change to what a measure counts changes its ``version``.

Quarters are calendar quarters in UK local time (Europe/London): 2026Q4 is from 00:00 on 1 October to
00:00 on 1 January 2027, local. Nothing here is computed per request: ``refresh`` stores the cells."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from openem.engine.enums import LabelledEnum
from openem.engine.violations import ViolationType

from .equality import NOT_RECORDED, EthnicGroup, age_band

LONDON = ZoneInfo("Europe/London")
NO_REGION = "Region not recorded"
NO_DATA_TYPES = {"no_signal", "location_failure", "battery_depleted", "home_unit_power", "not_fitted"}
DRINK_TYPES = {"alcohol_confirmed", "alcohol_level_exceeded", "tamper"}


class Kind(LabelledEnum):
    COUNT = "count"  # units counted
    PROPORTION = "proportion"  # units with y = 1 among units (x = 1 each), as a percentage
    RATIO = "ratio"  # sum of y over sum of x, times the scale (rates per 1,000, means per person)
    MEDIAN = "median"  # the median of the units' y


# ------------------------------------------------------------------ periods


@dataclass(frozen=True)
class Period:
    year: int
    quarter: int

    @classmethod
    def parse(cls, text: str) -> Period:
        m = re.fullmatch(r"\s*(\d{4})\s*-?\s*Q([1-4])\s*", text or "", re.IGNORECASE)
        if not m:
            raise ValueError(f'"{text}" is not a quarter: write it as the year and quarter, like 2026Q4')
        return cls(int(m.group(1)), int(m.group(2)))

    @classmethod
    def containing(cls, day: date) -> Period:
        return cls(day.year, (day.month - 1) // 3 + 1)

    def __str__(self) -> str:
        return f"{self.year}Q{self.quarter}"

    @property
    def label(self) -> str:
        months = ("January to March", "April to June", "July to September", "October to December")
        return f"{months[self.quarter - 1]} {self.year}"

    @property
    def first_day(self) -> date:
        return date(self.year, 3 * self.quarter - 2, 1)

    @property
    def last_day(self) -> date:
        return self.next().first_day - timedelta(days=1)

    def next(self) -> Period:
        return Period(self.year + self.quarter // 4, self.quarter % 4 + 1)

    def previous(self) -> Period:
        return Period(self.year - (self.quarter == 1), (self.quarter - 2) % 4 + 1)

    def last(self, n: int) -> list[Period]:
        """This quarter and the n - 1 before it, oldest first."""
        out = [self]
        while len(out) < n:
            out.append(out[-1].previous())
        return out[::-1]

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first_day, datetime.min.time(), LONDON)

    @property
    def end(self) -> datetime:
        return datetime.combine(self.next().first_day, datetime.min.time(), LONDON)

    @property
    def days(self) -> int:
        return (self.next().first_day - self.first_day).days


def _hours(a: datetime, b: datetime) -> float:
    return max(0.0, (b - a).total_seconds() / 3600)


_UTC_BOUNDS: dict[Period, tuple[datetime, datetime]] = {}


def _clip(start: datetime, end: datetime | None, period: Period, now: datetime) -> tuple[datetime, datetime]:
    """The part of [start, end) inside the quarter and before now (times compared in UTC: fast)."""
    bounds = _UTC_BOUNDS.get(period)
    if bounds is None:
        bounds = _UTC_BOUNDS[period] = (period.start.astimezone(UTC), period.end.astimezone(UTC))
    stop = min(end or now, bounds[1], now)
    return max(start, bounds[0]), stop


# ------------------------------------------------------------------ the records of one quarter


@dataclass
class OrderFacts:
    id: int
    person: int
    type: str
    start: date
    end: date
    kinds: set[str]  # device kinds its conditions need: rf, gps, alcohol
    curfew_weekly_h: list[tuple[date | None, date | None, float]] = field(default_factory=list)

    @property
    def group(self) -> str:
        """Order type and technology, the cohorts of the official statistics: "hdc|gps+rf"."""
        return f"{self.type}|{'+'.join(sorted(self.kinds))}"

    def active_on(self, day: date) -> bool:
        return self.start <= day <= self.end


def _device_kinds(ctype: str, spec: dict[str, Any]) -> str | None:
    """As ``engine.model.device_kind_needed``, from the stored spec without parsing it (a national
    caseload has hundreds of thousands of conditions)."""
    if ctype == "curfew":
        return "gps" if spec.get("technology") == "gps" else "rf"
    if ctype == "alcohol":
        return "alcohol"
    if ctype in ("exclusion_zone", "inclusion_zone") and not spec.get("monitored"):
        return None
    return "gps"


def _weekly_hours(spec: dict[str, Any]) -> float:
    total = 0.0
    for w in spec.get("windows") or []:
        try:
            sh, sm = (int(x) for x in str(w["start"]).split(":"))
            eh, em = (int(x) for x in str(w["end"]).split(":"))
        except (KeyError, ValueError):
            continue
        span = (eh * 60 + em) - (sh * 60 + sm)
        total += len(w.get("days") or []) * ((span if span > 0 else span + 1440) / 60)
    return total


@dataclass
class Facts:
    """Everything the measures read for one quarter, loaded once."""

    period: Period
    now: datetime
    people: dict[int, dict[str, str]]
    orders: list[OrderFacts]
    fittings: list[tuple[int, str, datetime, datetime | None]]  # person, device kind, fitted, removed
    violations: list[dict[str, Any]]
    incidents: list[dict[str, Any]]
    notified: dict[int, datetime]
    decisions: list[dict[str, Any]]
    first_category: dict[int, str]
    reviews: dict[tuple[int, str], list[date]]
    assessments: list[dict[str, Any]]
    checks: list[dict[str, Any]]
    lookups: list[dict[str, Any]]
    memo: dict[str, Any] = field(default_factory=dict)

    def person_group(self, person: int) -> str:
        """The person's order and technology for the quarter: the monitored order active latest in it."""
        return self._main.get(person, "none|")

    def __post_init__(self) -> None:
        main: dict[int, OrderFacts] = {}
        for o in self.orders:
            best = main.get(o.person)
            if best is None or (min(o.end, self.period.last_day), o.start) > (
                min(best.end, self.period.last_day),
                best.start,
            ):
                main[o.person] = o
        self._main = {p: o.group for p, o in main.items()}


def rows(qs: Any) -> list[dict[str, Any]]:
    """A values() query's rows as plain dicts (the type checker sees each query's own row type)."""
    return list(qs)


def load(period: Period, now: datetime | None = None) -> Facts:
    from django.db.models import Q
    from django.utils import timezone

    from openem.alerts.models import EnforcementDecision, Incident, Notification, Violation
    from openem.assessments.models import Assessment, Check
    from openem.audit.models import AuditEvent
    from openem.cases.models import Condition, Order, Person, Review
    from openem.devices.models import Fitting

    from .models import EqualityRecord

    now = now or timezone.now()
    ps, pe = period.start, period.end
    equality: dict[int, dict[str, Any]] = {
        e["person_id"]: e
        for e in rows(
            EqualityRecord.objects.values(
                "person_id", "ethnic_group", "religion", "disability", "sex", "gender_identity", "sexual_orientation"
            )
        )
    }
    people: dict[int, dict[str, str]] = {}
    for p in Person.objects.values("id", "date_of_birth", "team__region", "practitioner__team__region"):
        e = equality.get(p["id"], {})
        eg = e.get("ethnic_group") or ""
        people[p["id"]] = {
            "region": p["team__region"] or p["practitioner__team__region"] or NO_REGION,
            "ethnic_group": eg or NOT_RECORDED,
            "ethnic_group_high": EthnicGroup(eg).high_level.value if eg else NOT_RECORDED,
            **{k: str(e.get(k) or NOT_RECORDED)
               for k in ("religion", "disability", "sex", "gender_identity", "sexual_orientation")},
            "age": age_band(p["date_of_birth"], period.last_day),
        }  # fmt: skip
    # Orders that ran in the quarter, or whose reviews, decisions or fittings fall in it.
    order_rows = rows(
        Order.objects.filter(start__lte=period.last_day, end__gte=period.first_day - timedelta(days=31)).values(
            "id", "person_id", "type", "start", "end"
        )
    )
    conditions: dict[int, list[dict[str, Any]]] = defaultdict(list)
    ids = [o["id"] for o in order_rows]
    for chunk in range(0, len(ids), 5000):
        live = Condition.objects.filter(order_id__in=ids[chunk : chunk + 5000], removed_in_version__isnull=True)
        for c in rows(live.values("order_id", "type", "spec", "start", "end")):
            conditions[c["order_id"]].append(c)
    orders = []
    for o in order_rows:
        kinds, curfews = set(), []
        for c in conditions.get(o["id"], []):
            kind = _device_kinds(c["type"], c["spec"] or {})
            if kind:
                kinds.add(kind)
            if c["type"] == "curfew":
                curfews.append((c["start"], c["end"], _weekly_hours(c["spec"] or {})))
        if kinds:  # an order with nothing electronically monitored is not in these statistics
            orders.append(OrderFacts(o["id"], o["person_id"], o["type"], o["start"], o["end"], kinds, curfews))
    fittings = [
        (f["person_id"], f["device__kind"], f["fitted_at"], f["removed_at"])
        for f in Fitting.objects.filter(fitted_at__lt=pe)
        .filter(Q(removed_at__isnull=True) | Q(removed_at__gt=ps - timedelta(days=31)))
        .values("person_id", "device__kind", "fitted_at", "removed_at")
    ]
    violations = rows(
        Violation.objects.filter(retracted=False, start__lt=pe)
        .filter(Q(end__isnull=True) | Q(end__gt=ps))
        .values("person_id", "type", "category", "start", "end", "incident_id")
    )
    incidents = rows(
        Incident.objects.filter(person__isnull=False, start__gte=ps, start__lt=pe).values(
            "id", "person_id", "kind", "start", "acknowledged_at"
        )
    )
    notified: dict[int, datetime] = {}
    for n in Notification.objects.filter(incident__start__gte=ps, incident__start__lt=pe).values(
        "incident_id", "created"
    ):
        if n["incident_id"] not in notified or n["created"] < notified[n["incident_id"]]:
            notified[n["incident_id"]] = n["created"]
    decisions = rows(
        EnforcementDecision.objects.filter(decided_on__gte=period.first_day, decided_on__lte=period.last_day)
        .filter(incident__person__isnull=False)
        .values("id", "incident_id", "decision", "decided_on", "incident__person_id", "incident__start")
    )
    incident_decisions = defaultdict(list)
    for d in EnforcementDecision.objects.filter(incident__start__gte=ps, incident__start__lt=pe).values(
        "incident_id", "decided_on"
    ):
        incident_decisions[d["incident_id"]].append(d["decided_on"])
    for i in incidents:
        i["decided_on"] = min(incident_decisions[i["id"]]) if incident_decisions.get(i["id"]) else None
    recall_incidents = [d["incident_id"] for d in decisions if d["decision"] == "recall"]
    first_category: dict[int, str] = {}
    for v in (
        Violation.objects.filter(incident_id__in=recall_incidents, retracted=False)
        .order_by("incident_id", "start", "id")
        .values("incident_id", "category")
    ):
        first_category.setdefault(v["incident_id"], v["category"])
    reviews: dict[tuple[int, str], list[date]] = defaultdict(list)
    for r in Review.objects.filter(order_id__in=[o.id for o in orders]).values("order_id", "stage", "held_on"):
        reviews[(r["order_id"], r["stage"])].append(r["held_on"])
    assessments = []
    for a in Assessment.objects.filter(
        recommends_curfew=True, decided_on__gte=period.first_day, decided_on__lte=period.last_day
    ).prefetch_related("addresses__checks"):
        answered = all(
            any(c.kind == kind and c.answered_on and a.decided_on and c.answered_on <= a.decided_on
                for c in addr.checks.all())
            for addr in a.addresses.all()
            for kind in ("domestic_abuse", "safeguarding")
        ) and a.addresses.exists()  # fmt: skip
        assessments.append({"person_id": a.person_id, "answered": answered})
    checks = rows(
        Check.objects.filter(due_on__gte=period.first_day, due_on__lte=period.last_day).values(
            "address__assessment__person_id", "due_on", "answered_on"
        )
    )
    lookups = rows(
        AuditEvent.objects.filter(at__gte=ps, at__lt=pe, period_start__isnull=False, person_id__isnull=False).values(
            "person_id", "action", "elapsed_ms"
        )
    )
    return Facts(period, now, people, orders, fittings, violations, incidents, notified, decisions, first_category,
                 dict(reviews), assessments, checks, lookups)  # fmt: skip


# ------------------------------------------------------------------ the registry

Unit = tuple[int, str, float, float]  # person, order group, y, x


@dataclass(frozen=True)
class Measure:
    code: str
    title: str
    kind: Kind
    unit: str  # what a unit is, plural: "people", "orders"
    version: int
    compute: Callable[[Facts], list[Unit]] | None
    scale: float = 1.0
    value_label: str = ""  # "per 1,000 device-days", "hours per person", "%"
    not_available: str = ""  # why OpenEM cannot publish it, when ``compute`` is None
    higher_is: str = ""  # "worse" / "better" / "": how to read a difference
    family: str = ""  # measures over the same units whose numerators add up: suppressed together

    @property
    def available(self) -> bool:
        return self.compute is not None


def _monitored_orders(f: Facts) -> list[OrderFacts]:
    return [o for o in f.orders if o.start <= f.period.last_day and o.end >= f.period.first_day]


def people_monitored(f: Facts) -> list[Unit]:
    # The quarter's last day, or today while the quarter is still running.
    last = min(f.period.last_day, f.now.astimezone(LONDON).date())
    people = {o.person for o in f.orders if o.active_on(last)}
    return [(p, f.person_group(p), 1.0, 1.0) for p in people]


def orders_started(f: Facts) -> list[Unit]:
    return [(o.person, o.group, 1.0, 1.0) for o in f.orders if f.period.first_day <= o.start <= f.period.last_day]


def orders_ended(f: Facts) -> list[Unit]:
    return [(o.person, o.group, 1.0, 1.0) for o in f.orders if f.period.first_day <= o.end <= f.period.last_day]


def _fittings_by_person(f: Facts) -> dict[int, list[tuple[str, datetime, datetime | None]]]:
    out: dict[int, list[tuple[str, datetime, datetime | None]]] = defaultdict(list)
    for person, kind, fitted, removed in f.fittings:
        out[person].append((kind, fitted, removed))
    return out


def _first_fitting(o: OrderFacts, fits: list[tuple[str, datetime, datetime | None]], by: datetime) -> datetime | None:
    start = datetime.combine(o.start, datetime.min.time(), LONDON)
    end = datetime.combine(o.end + timedelta(days=1), datetime.min.time(), LONDON)
    times = [fitted for _k, fitted, removed in fits if fitted < min(end, by) and (removed is None or removed > start)]
    return min(times) if times else None


def hours_to_fit(f: Facts) -> list[Unit]:
    fits = _fittings_by_person(f)
    out = []
    for o in orders_started_facts(f):
        first = _first_fitting(o, fits.get(o.person, []), f.period.end)
        if first is not None:
            start = datetime.combine(o.start, datetime.min.time(), LONDON)
            out.append((o.person, o.group, _hours(start, first), 1.0))
    return out


def orders_started_facts(f: Facts) -> list[OrderFacts]:
    return [o for o in f.orders if f.period.first_day <= o.start <= f.period.last_day]


def never_fitted(f: Facts) -> list[Unit]:
    fits = _fittings_by_person(f)
    by = min(f.period.end, f.now)
    out = []
    for o in _monitored_orders(f):
        if datetime.combine(o.start, datetime.min.time(), LONDON) >= by:
            continue
        fitted = _first_fitting(o, fits.get(o.person, []), by) is not None
        out.append((o.person, o.group, 0.0 if fitted else 1.0, 1.0))
    return out


def _monitored_people(f: Facts) -> set[int]:
    return {o.person for o in _monitored_orders(f)}


def _union_hours(spans: list[tuple[datetime, datetime]]) -> float:
    """Hours covered by any of the spans (two devices worn at once count once)."""
    total, cur = 0.0, None
    for a, b in sorted(spans):
        if cur is None or a > cur[1]:
            if cur is not None:
                total += _hours(*cur)
            cur = (a, b)
        elif b > cur[1]:
            cur = (cur[0], b)
    return total + (_hours(*cur) if cur is not None else 0.0)


def _fitted_spans(f: Facts, kinds: set[str] | None = None) -> dict[int, list[tuple[datetime, datetime]]]:
    memo = f"spans:{sorted(kinds) if kinds else 'all'}"
    if memo in f.memo:
        return f.memo[memo]
    out: dict[int, list[tuple[datetime, datetime]]] = defaultdict(list)
    for person, kind, fitted, removed in f.fittings:
        if kinds is None or kind in kinds:
            a, b = _clip(fitted, removed, f.period, f.now)
            if b > a:
                out[person].append((a, b))
    f.memo[memo] = out
    return out


def hours_monitored(f: Facts) -> list[Unit]:
    spans = _fitted_spans(f)
    return [(p, f.person_group(p), _union_hours(spans.get(p, [])), 1.0) for p in _monitored_people(f)]


def hours_no_data(f: Facts) -> list[Unit]:
    gaps: dict[int, float] = defaultdict(float)
    for v in f.violations:
        if v["type"] in NO_DATA_TYPES:
            a, b = _clip(v["start"], v["end"], f.period, f.now)
            gaps[v["person_id"]] += _hours(a, b)
    return [(p, f.person_group(p), gaps.get(p, 0.0), 1.0) for p in _monitored_people(f)]


def _curfew_hours(o: OrderFacts, f: Facts) -> float:
    total = 0.0
    for start, end, weekly in o.curfew_weekly_h:
        a = max(start or o.start, o.start, f.period.first_day)
        b = min(end or o.end, o.end, f.period.last_day, f.now.astimezone(LONDON).date())
        if b >= a:
            total += weekly / 7 * ((b - a).days + 1)
    return total


def curfew_breach_rate(f: Facts) -> list[Unit]:
    scheduled: dict[int, float] = defaultdict(float)
    for o in _monitored_orders(f):
        scheduled[o.person] += _curfew_hours(o, f)
    breach: dict[int, float] = defaultdict(float)
    for v in f.violations:
        if v["type"] == "curfew_absence":
            a, b = _clip(v["start"], v["end"], f.period, f.now)
            breach[v["person_id"]] += _hours(a, b)
    return [(p, f.person_group(p), breach.get(p, 0.0), h) for p, h in scheduled.items() if h > 0]


def _device_days(f: Facts) -> dict[int, float]:
    if "device_days" not in f.memo:
        f.memo["device_days"] = {p: _union_hours(s) / 24 for p, s in _fitted_spans(f).items()}
    return f.memo["device_days"]


def _events_per_device_day(rows: list[tuple[int, datetime]], f: Facts) -> list[Unit]:
    days = _device_days(f)
    count: dict[int, int] = defaultdict(int)
    for person, start in rows:
        if f.period.start <= start < f.period.end:
            count[person] += 1
    return [(p, f.person_group(p), float(count.get(p, 0)), d) for p, d in days.items() if d > 0]


def violations_rate(category: str) -> Callable[[Facts], list[Unit]]:
    def compute(f: Facts) -> list[Unit]:
        return _events_per_device_day(
            [(v["person_id"], v["start"]) for v in f.violations if v["category"] == category], f
        )

    return compute


def violation_type_rate(vtype: str) -> Callable[[Facts], list[Unit]]:
    def compute(f: Facts) -> list[Unit]:
        return _events_per_device_day([(v["person_id"], v["start"]) for v in f.violations if v["type"] == vtype], f)

    return compute


def incidents_rate(kind: str) -> Callable[[Facts], list[Unit]]:
    def compute(f: Facts) -> list[Unit]:
        return _events_per_device_day([(i["person_id"], i["start"]) for i in f.incidents if i["kind"] == kind], f)

    return compute


def _local_days(a: datetime, b: datetime) -> set[date]:
    first, last = a.astimezone(LONDON).date(), (b - timedelta(microseconds=1)).astimezone(LONDON).date()
    return {first + timedelta(days=k) for k in range((last - first).days + 1)} if b > a else set()


def _alcohol_days(f: Facts) -> tuple[dict[int, set[date]], dict[int, set[date]]]:
    worn: dict[int, set[date]] = defaultdict(set)
    for p, spans in _fitted_spans(f, {"alcohol"}).items():
        for a, b in spans:
            worn[p] |= _local_days(a, b)
    drinking: dict[int, set[date]] = defaultdict(set)
    for v in f.violations:
        if v["type"] in DRINK_TYPES and v["person_id"] in worn:
            a, b = _clip(v["start"], v["end"] or v["start"] + timedelta(seconds=1), f.period, f.now)
            drinking[v["person_id"]] |= _local_days(a, max(b, a + timedelta(seconds=1)))
    return worn, drinking


def sober_days(f: Facts) -> list[Unit]:
    worn, drinking = _alcohol_days(f)
    return [(p, f.person_group(p), float(len(d - drinking.get(p, set()))), float(len(d))) for p, d in worn.items() if d]


def alcohol_days_worn(f: Facts) -> list[Unit]:
    worn, _d = _alcohol_days(f)
    return [(p, f.person_group(p), float(len(d)), 1.0) for p, d in worn.items() if d]


def minutes_to_notified(f: Facts) -> list[Unit]:
    return [
        (i["person_id"], f.person_group(i["person_id"]), _hours(i["start"], f.notified[i["id"]]) * 60, 1.0)
        for i in f.incidents
        if i["kind"] == "behaviour" and i["id"] in f.notified
    ]


def minutes_to_acknowledged(f: Facts) -> list[Unit]:
    return [
        (i["person_id"], f.person_group(i["person_id"]), _hours(i["start"], i["acknowledged_at"]) * 60, 1.0)
        for i in f.incidents
        if i["kind"] == "behaviour" and i["acknowledged_at"]
    ]


def days_to_decision(f: Facts) -> list[Unit]:
    return [
        (i["person_id"], f.person_group(i["person_id"]),
         float(max(0, (i["decided_on"] - i["start"].astimezone(LONDON).date()).days)), 1.0)
        for i in f.incidents
        if i["kind"] == "behaviour" and i["decided_on"]
    ]  # fmt: skip


def decision_share(outcome: str) -> Callable[[Facts], list[Unit]]:
    def compute(f: Facts) -> list[Unit]:
        return [
            (d["incident__person_id"], f.person_group(d["incident__person_id"]),
             1.0 if d["decision"] == outcome else 0.0, 1.0)
            for d in f.decisions
        ]  # fmt: skip

    return compute


def recalls_equipment_first(f: Facts) -> list[Unit]:
    return [
        (d["incident__person_id"], f.person_group(d["incident__person_id"]),
         1.0 if f.first_category.get(d["incident_id"]) == "equipment" else 0.0, 1.0)
        for d in f.decisions
        if d["decision"] == "recall"
    ]  # fmt: skip


def reviews_on_time(f: Facts) -> list[Unit]:
    from openem.cases.models import START_REVIEW_WITHIN_DAYS

    out = []
    for o in f.orders:
        due = o.start + timedelta(days=START_REVIEW_WITHIN_DAYS)
        if f.period.first_day <= due <= f.period.last_day:
            held = [d for d in f.reviews.get((o.id, "start"), []) if d <= due]
            out.append((o.person, o.group, 1.0 if held else 0.0, 1.0))
        if f.period.first_day <= o.end <= f.period.last_day:
            held = [d for d in f.reviews.get((o.id, "end"), []) if d <= o.end]
            out.append((o.person, o.group, 1.0 if held else 0.0, 1.0))
    return out


def checks_before_recommendation(f: Facts) -> list[Unit]:
    return [(a["person_id"], f.person_group(a["person_id"]), 1.0 if a["answered"] else 0.0, 1.0)
            for a in f.assessments]  # fmt: skip


def checks_overdue(f: Facts) -> list[Unit]:
    out = []
    today = f.now.astimezone(LONDON).date()
    for c in f.checks:
        if c["due_on"] >= today:
            continue  # not due yet
        late = c["answered_on"] is None or c["answered_on"] > c["due_on"]
        p = c["address__assessment__person_id"]
        out.append((p, f.person_group(p), 1.0 if late else 0.0, 1.0))
    return out


def trail_lookups(f: Facts) -> list[Unit]:
    return [(e["person_id"], f.person_group(e["person_id"]), 1.0, 1.0) for e in f.lookups if e["person_id"] in f.people]


def trail_lookup_seconds(f: Facts) -> list[Unit]:
    return [
        (e["person_id"], f.person_group(e["person_id"]), e["elapsed_ms"] / 1000.0, 1.0)
        for e in f.lookups
        if e["person_id"] in f.people and e["elapsed_ms"] is not None
    ]


MEASURES: dict[str, Measure] = {m.code: m for m in [
    Measure("people_monitored", "People monitored at the end of the quarter", Kind.COUNT, "people", 1,
            people_monitored),
    Measure("orders_started", "Monitored orders starting in the quarter", Kind.COUNT, "orders", 1, orders_started),
    Measure("orders_ended", "Monitored orders ending in the quarter", Kind.COUNT, "orders", 1, orders_ended),
    Measure("hours_to_fit", "Time from order start to first device fitted", Kind.MEDIAN, "orders", 1, hours_to_fit,
            value_label="hours (median)", higher_is="worse"),
    Measure("never_fitted", "Orders with no device fitted", Kind.PROPORTION, "orders", 1, never_fitted, 100, "%",
            higher_is="worse"),
    Measure("hours_monitored", "Hours monitored per person", Kind.RATIO, "people", 1, hours_monitored,
            value_label="hours per person"),
    Measure("hours_no_data", "Hours not monitored (no data) per person", Kind.RATIO, "people", 1, hours_no_data,
            value_label="device-hours per person", higher_is="worse"),
    Measure("curfew_breach_rate", "Curfew hours in breach per 1,000 curfew hours", Kind.RATIO, "people", 1,
            curfew_breach_rate, 1000, "per 1,000 curfew hours", higher_is="worse"),
    Measure("behaviour_violations", "Behaviour violations per 1,000 device-days", Kind.RATIO, "people", 1,
            violations_rate("behaviour"), 1000, "per 1,000 device-days", higher_is="worse"),
    Measure("equipment_violations", "Equipment violations per 1,000 device-days", Kind.RATIO, "people", 1,
            violations_rate("equipment"), 1000, "per 1,000 device-days", higher_is="worse"),
    Measure("behaviour_incidents", "Behaviour incidents per 1,000 device-days", Kind.RATIO, "people", 1,
            incidents_rate("behaviour"), 1000, "per 1,000 device-days", higher_is="worse"),
    Measure("equipment_incidents", "Equipment incidents per 1,000 device-days", Kind.RATIO, "people", 1,
            incidents_rate("equipment"), 1000, "per 1,000 device-days", higher_is="worse"),
    Measure("sober_days", "Alcohol: sober-day rate", Kind.RATIO, "people", 1, sober_days, 100, "% of days worn",
            higher_is="better"),
    Measure("alcohol_days_worn", "Alcohol: days worn per person", Kind.RATIO, "people", 1, alcohol_days_worn,
            value_label="days per person"),
    Measure("minutes_to_notified", "Time from violation to practitioner notified", Kind.MEDIAN, "incidents", 1,
            minutes_to_notified, value_label="minutes (median)", higher_is="worse"),
    Measure("minutes_to_acknowledged", "Time from violation to acknowledged", Kind.MEDIAN, "incidents", 1,
            minutes_to_acknowledged, value_label="minutes (median)", higher_is="worse"),
    Measure("days_to_decision", "Time from violation to enforcement decision", Kind.MEDIAN, "incidents", 1,
            days_to_decision, value_label="days (median)", higher_is="worse"),
    Measure("decision_no_action", "Decisions: no further action", Kind.PROPORTION, "decisions", 1,
            decision_share("no_action"), 100, "% of decisions", family="decisions"),
    Measure("decision_warning", "Decisions: warning", Kind.PROPORTION, "decisions", 1, decision_share("warning"), 100,
            "% of decisions", family="decisions"),
    Measure("decision_breach", "Decisions: breach proceedings", Kind.PROPORTION, "decisions", 1,
            decision_share("breach"), 100, "% of decisions", family="decisions"),
    Measure("decision_recall", "Decisions: recall", Kind.PROPORTION, "decisions", 1, decision_share("recall"), 100,
            "% of decisions", family="decisions"),
    Measure("recalls_equipment_first", "Recalls whose incident began with equipment", Kind.PROPORTION, "recalls", 1,
            recalls_equipment_first, 100, "% of recalls", higher_is="worse"),
    Measure("reviews_on_time", "Supervision reviews held on time", Kind.PROPORTION, "reviews due", 1,
            reviews_on_time, 100, "%", higher_is="better"),
    Measure("checks_before_recommendation", "Checks done before a curfew was recommended", Kind.PROPORTION,
            "assessments", 1, checks_before_recommendation, 100, "%", higher_is="better"),
    Measure("checks_overdue", "Checks answered late or not at all", Kind.PROPORTION, "checks", 1, checks_overdue, 100,
            "%", higher_is="worse"),
    Measure("trail_lookups", "Trail look-ups", Kind.COUNT, "look-ups", 1, trail_lookups),
    Measure("trail_lookup_seconds", "How long trail look-ups took", Kind.MEDIAN, "look-ups", 2, trail_lookup_seconds,
            value_label="seconds (median)", higher_is="worse"),
]}  # fmt: skip

# Violations by type, each its own rate (types do not divide people into groups: one person has several).
for _vt in ViolationType:
    MEASURES[f"violations_{_vt.value}"] = Measure(
        f"violations_{_vt.value}", f"Violations by type: {_vt.label.lower()}, per 1,000 device-days", Kind.RATIO,
        "people", 1, violation_type_rate(_vt.value), 1000, "per 1,000 device-days", higher_is="worse",
    )  # fmt: skip
