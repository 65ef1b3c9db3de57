"""People on probation, their orders and monitoring conditions, and variations kept as versions.

Status logic lives here: an order knows whether it is active on a date and which of its conditions
apply, in Europe/London local dates (orders are made in local dates, both inclusive).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import models
from django.db.models import Q, QuerySet
from django.utils import timezone

from openem.accounts.models import Role, Team
from openem.engine.casefile import ConditionSpec, OrderSpec, parse_condition
from openem.engine.enums import (
    ConditionType,
    LabelledEnum,
    LicenceKind,
    OrderType,
    RiskFlag,
    Rosh,
)
from openem.engine.model import device_kind_needed

if TYPE_CHECKING:
    from openem.accounts.models import User


class Sex(LabelledEnum):
    FEMALE = "female"
    MALE = "male"
    INTERSEX = "intersex"
    PREFER_NOT_TO_SAY = "prefer_not_to_say"


class Gender(LabelledEnum):
    WOMAN = "woman"
    MAN = "man"
    NON_BINARY = "non_binary"
    OTHER = "other"
    PREFER_NOT_TO_SAY = "prefer_not_to_say"


class Ethnicity(LabelledEnum):
    ASIAN = "asian"
    BLACK = "black"
    MIXED = "mixed"
    WHITE = "white"
    OTHER = "other"
    PREFER_NOT_TO_SAY = "prefer_not_to_say"


class Disability(LabelledEnum):
    YES = "yes"
    NO = "no"
    PREFER_NOT_TO_SAY = "prefer_not_to_say"


class Religion(LabelledEnum):
    NONE = "none"
    BUDDHIST = "buddhist"
    CHRISTIAN = "christian"
    HINDU = "hindu"
    JEWISH = "jewish"
    MUSLIM = "muslim"
    SIKH = "sikh"
    OTHER = "other"
    PREFER_NOT_TO_SAY = "prefer_not_to_say"


class OrderStatus(LabelledEnum):
    NOT_STARTED = "not_started"
    ACTIVE = "active"
    ENDED = "ended"


def local_today() -> date:
    return timezone.localdate()


class PersonQuerySet(models.QuerySet["Person"]):
    def visible_to(self, user: User) -> PersonQuerySet:
        """Object-level access: a practitioner sees their own caseload, a manager their team's,
        operators and administrators every case, police analysts and victim liaison no case record."""
        if not user.is_authenticated:
            return self.none()
        if user.sees_all_cases:
            return self.all()
        if user.role == Role.PRACTITIONER:
            return self.filter(practitioner=user)
        if user.role == Role.MANAGER and user.team_id:
            return self.filter(Q(team_id=user.team_id) | Q(practitioner__team_id=user.team_id))
        return self.none()

    def with_monitoring(self, now: datetime | None = None) -> PersonQuerySet:
        """Each person with ``monitoring_rank``: their monitoring status (``monitoring_statuses`` in SQL) as its
        ``MonitoringStatus.rank``, most urgent first (``MonitoringStatus.at_rank`` turns it back)."""
        return self.annotate(monitoring_rank=monitoring_rank_sql(now))

    def in_status(self, status: MonitoringStatus, now: datetime | None = None) -> PersonQuerySet:
        return self.filter(in_status(status, now))


class Person(models.Model):
    ref = models.CharField("case file id", max_length=40, unique=True)
    crn = models.CharField("CRN", max_length=7, unique=True, null=True, blank=True)
    pnc = models.CharField("PNC number", max_length=20, blank=True)
    nomis = models.CharField("NOMIS number", max_length=7, blank=True)
    name = models.CharField(max_length=200)
    date_of_birth = models.DateField(null=True, blank=True)
    sex = models.CharField(max_length=20, choices=Sex.choices(), blank=True)
    gender = models.CharField(max_length=20, choices=Gender.choices(), blank=True)
    ethnicity = models.CharField(max_length=20, choices=Ethnicity.choices(), blank=True)
    disability = models.CharField(max_length=20, choices=Disability.choices(), blank=True)
    religion = models.CharField(max_length=20, choices=Religion.choices(), blank=True)
    rosh = models.CharField("Risk of Serious Harm", max_length=12, choices=Rosh.choices(), blank=True)
    mappa_category = models.PositiveSmallIntegerField(null=True, blank=True, choices=[(i, str(i)) for i in (1, 2, 3)])
    mappa_level = models.PositiveSmallIntegerField(null=True, blank=True, choices=[(i, str(i)) for i in (1, 2, 3)])
    flags = models.JSONField(default=list, blank=True)
    practitioner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="caseload"
    )
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="cases")
    held_for_proceedings = models.BooleanField(
        default=False, help_text="Keep all monitoring data past the retention period (court proceedings, appeals)."
    )
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    objects = PersonQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "people"

    def __str__(self) -> str:
        return f"{self.name} ({self.crn or self.ref})"

    @property
    def flag_labels(self) -> list[str]:
        return [RiskFlag(f).label for f in self.flags if f in RiskFlag._value2member_map_]

    @property
    def rosh_label(self) -> str:
        return Rosh(self.rosh).label if self.rosh else "Not assessed"

    @property
    def mappa(self) -> str:
        if self.mappa_category and self.mappa_level:
            return f"Category {self.mappa_category}, level {self.mappa_level}"
        return "Not MAPPA"

    def age_on(self, day: date) -> int | None:
        if not self.date_of_birth:
            return None
        dob = self.date_of_birth
        return day.year - dob.year - ((day.month, day.day) < (dob.month, dob.day))

    @property
    def age_band(self) -> str:
        """Age band for monitoring fairness (the bands HMPPS equality reporting uses)."""
        age = self.age_on(local_today())
        if age is None:
            return "Not recorded"
        for upper, band in (
            (17, "Under 18"),
            (24, "18-24"),
            (29, "25-29"),
            (39, "30-39"),
            (49, "40-49"),
            (59, "50-59"),
        ):
            if age <= upper:
                return band
        return "60 and over"

    def is_responsible(self, user: User) -> bool:
        """The case's practitioner, or a manager of its team: who answers for enforcement on it."""
        if not user.is_authenticated:
            return False
        if user.role == Role.PRACTITIONER:
            return self.practitioner_id == user.pk
        if user.role == Role.MANAGER:
            return Person.objects.visible_to(user).filter(pk=self.pk).exists()
        return False

    def current_orders(self, day: date | None = None) -> QuerySet[Order]:
        day = day or local_today()
        return self.orders.filter(start__lte=day, end__gte=day)


class OrderQuerySet(models.QuerySet["Order"]):
    def bulk_create(self, objs: Any, *args: Any, **kwargs: Any) -> list[Order]:
        """As Django's, with ``warning_count`` counted as the signals count it (bulk inserts send none)."""
        made = super().bulk_create(objs, *args, **kwargs)
        refresh_warnings(o.pk for o in made)
        return made

    def update(self, **kwargs: Any) -> int:
        """As Django's, with the orders' warnings counted afresh (dates and terms change what they are)."""
        if not set(kwargs) - {"warning_count", "updated"}:  # bulk_update of the count itself
            return super().update(**kwargs)
        ids = list(self.values_list("pk", flat=True))
        n = super().update(**kwargs)
        refresh_warnings(ids)
        return n


class Order(models.Model):
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="orders")
    ref = models.CharField("order id", max_length=40)
    type = models.CharField(max_length=32, choices=OrderType.choices())
    start = models.DateField()
    end = models.DateField()
    licence_kind = models.CharField(max_length=12, choices=LicenceKind.choices(), blank=True)
    convicted_before_pcsc_act = models.BooleanField(
        "convicted before the PCSC Act 2022 came in",
        default=False,
        help_text="Court curfews for offences convicted before 28 June 2022 allow at most 16 hours a day.",
    )
    audit_score = models.PositiveSmallIntegerField("AUDIT score", null=True, blank=True)
    alcohol_treatment_requirement = models.BooleanField(default=False)
    version = models.PositiveIntegerField(default=1)
    warning_count = models.PositiveIntegerField(
        default=0,
        editable=False,
        help_text="how many of its findings are warnings (a copy of findings(), kept by openem.cases.warnings)",
    )
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    objects = OrderQuerySet.as_manager()

    class Meta:
        ordering = ["-start", "ref"]
        constraints = [models.UniqueConstraint(fields=["person", "ref"], name="order_ref_unique_per_person")]

    def __str__(self) -> str:
        return f"{self.type_enum.label} {self.ref}"

    @property
    def type_enum(self) -> OrderType:
        return OrderType(self.type)

    def status_on(self, day: date | None = None) -> OrderStatus:
        day = day or local_today()
        if day < self.start:
            return OrderStatus.NOT_STARTED
        if day > self.end:
            return OrderStatus.ENDED
        return OrderStatus.ACTIVE

    @property
    def status(self) -> OrderStatus:
        return self.status_on()

    def review_date_problem(self, held_on: date, today: date | None = None) -> str:
        """Why a supervision review cannot have been held on ``held_on``, or "": it is of this order's
        monitoring, so held while the order runs, and it has happened."""
        today = today or local_today()

        def day(d: date) -> str:
            return f"{d.day} {d:%B %Y}"

        if held_on > today:
            return f"The review cannot be in the future: {day(held_on)} is after today, {day(today)}"
        if held_on < self.start:
            return f"The review ({day(held_on)}) is before the order {self.ref} started on {day(self.start)}"
        if held_on > self.end:
            return f"The review ({day(held_on)}) is after the order {self.ref} ended on {day(self.end)}"
        return ""

    def days_left(self, day: date | None = None) -> int:
        return (self.end - (day or local_today())).days

    def live_conditions(self) -> QuerySet[Condition]:
        return self.conditions.filter(removed_in_version__isnull=True).order_by("position", "id")

    def live_condition_list(self) -> list[Condition]:
        """``live_conditions()`` as a list, from the conditions the caller prefetched when it did (a list of
        thousands of orders then makes no query per order)."""
        fetched = getattr(self, "_prefetched_objects_cache", {}).get("conditions")
        if fetched is None:
            return list(self.live_conditions())
        return sorted((c for c in fetched if c.removed_in_version is None), key=lambda c: (c.position, c.pk))

    def version_at(self, when: datetime) -> int:
        """The number of the order's version in force at ``when`` (1 before any variation was made)."""
        found = self.versions.filter(changed_at__lte=when).order_by("-number").values_list("number", flat=True)
        return found.first() or 1

    def conditions_as_of(self, when: datetime) -> list[Condition]:
        """The conditions as the order stood at ``when`` - an incident's time - from its versions: a
        condition varied or removed since is shown as it was then, one added since is not, whatever the
        order says today (an evidence pack must show the terms that were broken)."""
        number = self.version_at(when)
        day = timezone.localtime(when).date()
        rows = self.conditions.filter(added_in_version__lte=number).filter(
            Q(removed_in_version__isnull=True) | Q(removed_in_version__gt=number)
        )
        return [c for c in rows.order_by("position", "id") if c.effective_start <= day <= c.effective_end]

    def conditions_in_force(self, day: date | None = None) -> list[Condition]:
        day = day or local_today()
        return [c for c in self.live_condition_list() if c.applies_on(day)]

    def to_spec(self, conditions: list[Condition] | None = None) -> OrderSpec:
        """``conditions``: its live conditions, when the caller has fetched them already."""
        live = self.live_condition_list() if conditions is None else conditions
        return OrderSpec(
            id=self.ref,
            type=self.type_enum,
            start=self.start,
            end=self.end,
            conditions=[c.to_spec() for c in live],
            licence_kind=LicenceKind(self.licence_kind) if self.licence_kind else None,
            convicted_before_pcsc_act=self.convicted_before_pcsc_act,
            audit_score=self.audit_score,
            alcohol_treatment_requirement=self.alcohol_treatment_requirement,
        )

    def findings(self) -> list[Any]:
        from openem.assessments.flags import curfew_address_findings

        from .rules import check_order

        return check_order(self.to_spec(), path=self.ref) + curfew_address_findings(self)

    def count_warnings(self) -> int:
        """How many findings someone should look at (the order page's warnings). They depend only on the
        order, its conditions and the person's assessed addresses, never on today's date, so the count is
        kept on the order (``warning_count``) and "Needs attention" asks for it in SQL."""
        from .rules import Severity

        return sum(1 for f in self.findings() if f.severity == Severity.WARNING)

    def refresh_warnings(self) -> int:
        """Count the warnings afresh, from the database, and store the count. An ``update``: no signal, no
        new ``updated`` time (the order itself has not changed)."""
        refresh_warnings([self.pk])
        self.warning_count = Order.objects.filter(pk=self.pk).values_list("warning_count", flat=True).first() or 0
        return self.warning_count


WARNING_CHUNK = 2000


def refresh_warnings(order_ids: Any) -> None:
    """Store ``warning_count`` afresh for these orders, a chunk at a time with their conditions and their
    people's assessed addresses fetched together (bulk loads make thousands at once)."""
    ids = sorted({int(i) for i in order_ids if i is not None})
    for i in range(0, len(ids), WARNING_CHUNK):
        orders = list(
            Order.objects.filter(pk__in=ids[i : i + WARNING_CHUNK])
            .select_related("person")
            .prefetch_related("conditions", "person__assessments__addresses")
        )
        changed = []
        for order in orders:
            try:
                n = order.count_warnings()
            except Exception:
                # A record that no longer reads (a bad migration, a hand edit) must not stop the write that
                # brought it here, nor anyone else's count: it needs looking at, so it counts as a warning
                # (the worker raises its own alert when it cannot compile the case).
                logging.getLogger(__name__).warning("order %s: warnings not counted", order.pk, exc_info=True)
                n = 1
            if n != order.warning_count:
                order.warning_count = n
                changed.append(order)
        Order.objects.bulk_update(changed, ["warning_count"], batch_size=500)


def refresh_warnings_of_people(person_ids: Any) -> None:
    """Every order of these people: their assessed addresses changed."""
    ids = sorted({int(p) for p in person_ids if p is not None})
    if ids:
        refresh_warnings(Order.objects.filter(person_id__in=ids).values_list("pk", flat=True))


class ConditionQuerySet(models.QuerySet["Condition"]):
    def bulk_create(self, objs: Any, *args: Any, **kwargs: Any) -> list[Condition]:
        """As Django's, with ``device_kind`` set on each as ``save()`` sets it (bulk inserts skip ``save``)."""
        objs = list(objs)
        for obj in objs:
            obj.device_kind = obj.needed_device_kind()
        made = super().bulk_create(objs, *args, **kwargs)
        refresh_warnings(c.order_id for c in made)  # the orders' warnings, as saving each would
        return made

    def update(self, **kwargs: Any) -> int:
        """As Django's, with their orders' warnings counted afresh (the order moved to too, if any)."""
        orders: set[Any] = set(self.values_list("order_id", flat=True))
        moved_to = kwargs.get("order_id", getattr(kwargs.get("order"), "pk", None))
        n = super().update(**kwargs)
        refresh_warnings(orders | {moved_to})
        return n


class Condition(models.Model):
    """One monitoring condition. ``spec`` holds it in the case-file form (FORMATS.md); the columns
    beside it are copies for queries and listing."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="conditions")
    ref = models.CharField("condition id", max_length=40)
    type = models.CharField(max_length=24, choices=ConditionType.choices())
    start = models.DateField(null=True, blank=True)
    end = models.DateField(null=True, blank=True)
    monitored = models.BooleanField(default=True)
    device_kind = models.CharField(
        max_length=16,
        blank=True,
        editable=False,
        help_text="the kind of device it is monitored with; empty for none (a copy, set on save)",
    )
    spec = models.JSONField()
    position = models.PositiveSmallIntegerField(default=0)
    added_in_version = models.PositiveIntegerField(default=1)
    removed_in_version = models.PositiveIntegerField(null=True, blank=True)

    objects = ConditionQuerySet.as_manager()

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return f"{self.type_enum.label} {self.ref}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.device_kind = self.needed_device_kind()
        if kwargs.get("update_fields") is not None:
            kwargs["update_fields"] = {*kwargs["update_fields"], "device_kind"}
        super().save(*args, **kwargs)

    @property
    def type_enum(self) -> ConditionType:
        return ConditionType(self.type)

    def to_spec(self) -> ConditionSpec:
        return parse_condition(self.spec)

    @property
    def effective_start(self) -> date:
        return self.start or self.order.start

    @property
    def effective_end(self) -> date:
        return self.end or self.order.end

    def applies_on(self, day: date) -> bool:
        return self.removed_in_version is None and self.effective_start <= day <= self.effective_end

    @property
    def raises_alerts(self) -> bool:
        """A zone raises alerts only if the order explicitly makes it GPS-monitored."""
        if self.type_enum.is_zone:
            return bool(self.spec.get("monitored"))
        return True

    def needed_device_kind(self) -> str:
        """The kind of device this condition is monitored with, or "" (a zone that is not GPS-monitored):
        what ``device_kind`` keeps for the queries that work out a whole caseload's status."""
        kind = device_kind_needed(self.to_spec())
        return kind.value if kind is not None and self.raises_alerts else ""

    def apply_spec(self, spec: ConditionSpec) -> None:
        self.ref = spec.id
        self.type = spec.type.value
        self.start = spec.start
        self.end = spec.end
        self.monitored = spec.monitored if spec.type.is_zone else True
        self.spec = spec.to_json()


class OrderVersion(models.Model):
    """Every creation and variation of an order: who changed what, when and why."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    changed_at = models.DateTimeField(default=timezone.now)
    changed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    reason = models.TextField()
    changes = models.JSONField(default=list)
    snapshot = models.JSONField()

    class Meta:
        ordering = ["order", "-number"]
        constraints = [models.UniqueConstraint(fields=["order", "number"], name="order_version_unique")]

    def __str__(self) -> str:
        return f"{self.order} v{self.number}"


class MonitoringStatus(LabelledEnum):
    """What a practitioner needs to know at a glance, most urgent first. "Compliant" only when nothing
    else applies: no violation going on, none in the recent period, no incident waiting for anyone."""

    NOT_FITTED = "not_fitted"
    VIOLATION_OPEN = "violation_open"
    NOT_ACKNOWLEDGED = "not_acknowledged"
    INCIDENT_OPEN = "incident_open"
    EQUIPMENT = "equipment"
    NO_DATA = "no_data"
    RECENT_VIOLATIONS = "recent_violations"
    ENDING = "ending"
    COMPLIANT = "compliant"
    NOT_MONITORED = "not_monitored"

    @property
    def label(self) -> str:
        return {
            "not_fitted": "Tag not fitted",
            "violation_open": "Violation open",
            "not_acknowledged": "Breach not acknowledged",
            "incident_open": "Awaiting decision",
            "equipment": "Equipment problem",
            "no_data": "No data",
            "recent_violations": "Recent violations",
            "ending": "Ending: nothing arranged",
            "compliant": "Compliant",
            "not_monitored": "No monitoring now",
        }[self.value]

    @property
    def rank(self) -> int:
        """Most urgent first: 0 for "Tag not fitted"."""
        return list(MonitoringStatus).index(self)

    @classmethod
    def at_rank(cls, rank: int) -> MonitoringStatus:
        return list(cls)[rank]

    @property
    def tag_colour(self) -> str:
        return {
            "not_fitted": "red",
            "violation_open": "red",
            "not_acknowledged": "red",
            "incident_open": "orange",
            "equipment": "orange",
            "no_data": "orange",
            "recent_violations": "yellow",
            "ending": "yellow",
            "compliant": "green",
            "not_monitored": "grey",
        }[self.value]


# Behaviour violations in this many days before now keep a case from showing "Compliant".
RECENT_VIOLATION_DAYS = 7


def _last_seen(devices: list[str]) -> dict[str, datetime]:
    """When each of these devices last sent anything (a device never heard from is absent): one indexed
    query on the deadline table ingest keeps, not a scan of the readings."""
    from openem.telemetry.deadlines import last_seen

    return last_seen(devices)


def _silent_fittings() -> QuerySet[Any]:
    """Fittings in force whose device was never heard from: "No data" for a whole caseload in SQL. The same
    question as ``_last_seen`` (a device absent from it); the two change together."""
    from django.db.models import Exists, OuterRef

    from openem.devices.models import Fitting
    from openem.telemetry.models import DeviceDeadline

    heard = DeviceDeadline.objects.filter(device=OuterRef("device__ref"))
    return Fitting.objects.filter(removed_at__isnull=True).exclude(Exists(heard))


def monitoring_statuses(people: list[Person]) -> dict[int, tuple[MonitoringStatus, list[str]]]:
    """Each person's monitoring status and the reasons for it, in a fixed number of queries whatever the
    number of people (a page of the case list). ``PersonQuerySet.with_monitoring`` is the same status in SQL,
    without the reasons, for filtering, sorting and counting whole caseloads."""
    from django.db.models import prefetch_related_objects

    from openem.alerts.models import Incident, IncidentKind, IncidentStatus, Violation
    from openem.devices.models import Fitting
    from openem.uktime import when

    ids = [p.pk for p in people]
    # Orders with their conditions and reviews (for "Ending"): the caller's when it prefetched them (a page of
    # the case list), else fetched afresh here, so that a second call sees what changed since the first.
    if all("orders" in getattr(p, "_prefetched_objects_cache", {}) for p in people):
        orders = [o for p in people for o in p.orders.all()]
    else:
        orders = list(Order.objects.filter(person_id__in=ids))
    prefetch_related_objects(orders, "conditions", "reviews")
    orders_of: dict[int, list[Order]] = {}
    for o in orders:
        orders_of.setdefault(o.person_id, []).append(o)
    now = timezone.now()
    open_v: dict[int, list[Any]] = {}
    recent: dict[int, list[Any]] = {}
    since = now - timedelta(days=RECENT_VIOLATION_DAYS)
    for v in (
        Violation.objects.filter(person_id__in=ids, retracted=False)
        .filter(Q(end__isnull=True) | Q(start__gte=since) | Q(end__gte=since))
        .select_related("incident")
        .order_by("start")
    ):
        if v.end is None:
            open_v.setdefault(v.person_id, []).append(v)
        if v.category == "behaviour":
            recent.setdefault(v.person_id, []).append(v)
    incidents: dict[int, list[Any]] = {}
    for i in Incident.objects.filter(person_id__in=ids, kind=IncidentKind.BEHAVIOUR).exclude(
        status=IncidentStatus.CLEARED
    ):
        incidents.setdefault(i.person_id or 0, []).append(i)
    fittings: dict[int, list[Any]] = {}
    for f in Fitting.objects.filter(person_id__in=ids, removed_at__isnull=True).select_related("device"):
        fittings.setdefault(f.person_id, []).append(f)
    devices = [f.device.ref for fs in fittings.values() for f in fs]
    last_seen = _last_seen(devices)
    today = local_today()
    out: dict[int, tuple[MonitoringStatus, list[str]]] = {}

    def most_serious_first(items: list[Any]) -> list[Any]:
        return sorted(items, key=lambda i: (-i.severity_enum.rank, i.start))

    for p in people:
        needs: set[str] = set()
        for order in orders_of.get(p.pk, []):
            if order.status_on(today) != OrderStatus.ACTIVE:
                continue
            for c in order.conditions.all():
                kind = device_kind_needed(c.to_spec())
                if c.removed_in_version is None and c.applies_on(today) and c.raises_alerts and kind:
                    needs.add(kind)
        fitted = {f.device.kind for f in fittings.get(p.pk, [])}
        opened = open_v.get(p.pk, [])
        behaviour = [v for v in opened if v.category == "behaviour"]
        equipment = [v for v in opened if v.category == "equipment" and v.type != "not_fitted"]
        waiting = most_serious_first(incidents.get(p.pk, []))
        unacknowledged = [i for i in waiting if i.status == IncidentStatus.OPEN]
        # A breach stored moments ago, before triage has made it an incident, is not acknowledged either.
        untriaged = [v for v in recent.get(p.pk, []) if v.triage_pending and v.incident_id is None and v.end]
        past = [v for v in recent.get(p.pk, []) if v.end is not None]
        missing = sorted(k for k in needs if k not in fitted)
        silent = [f.device.ref for f in fittings.get(p.pk, []) if f.device.ref not in last_seen]
        if missing or any(v.type == "not_fitted" for v in opened):
            out[p.pk] = (
                MonitoringStatus.NOT_FITTED,
                [f"No {k.replace('_', ' ')} device fitted" for k in missing] or ["Not fitted"],
            )
        elif behaviour:
            out[p.pk] = (
                MonitoringStatus.VIOLATION_OPEN, [f"{v.type_enum.label} since {when(v.start, now)}" for v in behaviour]
            )  # fmt: skip
        elif unacknowledged or untriaged:
            out[p.pk] = (
                MonitoringStatus.NOT_ACKNOWLEDGED,
                [f"{i.summary} {when(i.start, now)}, not acknowledged" for i in unacknowledged]
                + [f"{v.type_enum.label} {when(v.start, now)}, not acknowledged" for v in untriaged],
            )
        elif waiting:
            out[p.pk] = (
                MonitoringStatus.INCIDENT_OPEN,
                [f"{i.summary} {when(i.start, now)}, acknowledged: no decision recorded" for i in waiting],
            )
        elif equipment:
            out[p.pk] = (MonitoringStatus.EQUIPMENT, [v.type_enum.label for v in equipment])
        elif silent:
            out[p.pk] = (MonitoringStatus.NO_DATA, [f"Nothing received from {d}" for d in silent])
        elif past:
            out[p.pk] = (
                MonitoringStatus.RECENT_VIOLATIONS,
                [f"{v.type_enum.label} {when(v.start, now)}" for v in reversed(past)],
            )
        elif ending := [
            r for o in orders_of.get(p.pk, []) for r in reviews_due(o, today) if r.stage == ReviewStage.END
        ]:
            out[p.pk] = (
                MonitoringStatus.ENDING,
                [f"{r.order.ref} ends in {(r.order.end - today).days} days: end-of-monitoring review not recorded"
                 for r in ending],
            )  # fmt: skip
        elif needs:
            out[p.pk] = (MonitoringStatus.COMPLIANT, [])
        else:
            out[p.pk] = (MonitoringStatus.NOT_MONITORED, [])
    return out


def _needed_now(today: date) -> QuerySet[Condition]:
    """The conditions in force today, in orders active today, that need a device (``needs`` in
    ``monitoring_statuses``), by their stored ``device_kind``."""
    from django.db.models.functions import Coalesce

    return (
        Condition.objects.filter(order__start__lte=today, order__end__gte=today, removed_in_version__isnull=True)
        .exclude(device_kind="")
        .annotate(first=Coalesce("start", "order__start"), last=Coalesce("end", "order__end"))
        .filter(first__lte=today, last__gte=today)
    )


def _person_kind(person: str, kind: str) -> models.Expression:
    """A person and a kind of device as one number: person id * 8 + the kind's place in DeviceKind."""
    from openem.engine.enums import DeviceKind

    place = models.Case(
        *[models.When(**{kind: k.value}, then=i) for i, k in enumerate(DeviceKind, start=1)],
        default=0,
        output_field=models.IntegerField(),
    )
    return models.F(person) * 8 + place


def _status_tests(now: datetime) -> list[tuple[MonitoringStatus, Q]]:
    """``monitoring_statuses`` as SQL: for each status, most urgent first, a test on Person that holds when
    the status applies and none before it does. Each test is a set the database builds once per query
    (``pk IN (...)``, not a subquery per person)."""
    from openem.alerts.models import Incident, IncidentKind, IncidentStatus, Violation
    from openem.devices.models import Fitting

    today = timezone.localdate(now)
    since = now - timedelta(days=RECENT_VIOLATION_DAYS)
    needed = _needed_now(today)
    fitted = Fitting.objects.filter(removed_at__isnull=True)
    live = Violation.objects.filter(retracted=False)
    opened = live.filter(end__isnull=True)
    recent = live.filter(category="behaviour", end__isnull=False).filter(Q(start__gte=since) | Q(end__gte=since))
    waiting = Incident.objects.filter(kind=IncidentKind.BEHAVIOUR).exclude(status=IncidentStatus.CLEARED)
    ending = (
        Order.objects.filter(start__lte=today, end__gte=today, end__lte=today + timedelta(days=END_REVIEW_FROM_DAYS))
        .filter(models.Exists(needed.filter(order_id=models.OuterRef("pk"))))
        .exclude(reviews__stage=ReviewStage.END.value)
    )

    def among(qs: QuerySet[Any], field: str = "person_id") -> Q:
        # Without NULLs: "id IN (..., NULL)" is unknown rather than false, and its negation too (an area
        # outage's incident has no person).
        return Q(pk__in=qs.filter(**{f"{field}__isnull": False}).values(field))

    # A condition in force whose kind of device the person has none of fitted: (person, kind) pairs as one
    # number each, so that the database can look each up in a hashed set (a subquery per condition was the
    # slowest part of the whole status on PostgreSQL).
    unfitted = needed.annotate(pair=_person_kind("order__person_id", "device_kind")).exclude(
        pair__in=fitted.annotate(pair=_person_kind("person_id", "device__kind")).values("pair")
    )
    missing = among(unfitted, "order__person_id")
    S = MonitoringStatus
    return [
        (S.NOT_FITTED, missing | among(opened.filter(type="not_fitted"))),
        (S.VIOLATION_OPEN, among(opened.filter(category="behaviour"))),
        (
            S.NOT_ACKNOWLEDGED,
            among(waiting.filter(status=IncidentStatus.OPEN))
            | among(recent.filter(triage_pending=True, incident__isnull=True)),
        ),
        (S.INCIDENT_OPEN, among(waiting)),
        (S.EQUIPMENT, among(opened.filter(category="equipment").exclude(type="not_fitted"))),
        (S.NO_DATA, among(_silent_fittings())),
        (S.RECENT_VIOLATIONS, among(recent)),
        (S.ENDING, among(ending)),
        (S.COMPLIANT, among(needed, "order__person_id")),
    ]


def monitoring_rank_sql(now: datetime | None = None) -> models.Case:
    """``monitoring_statuses`` as one SQL expression on Person, the status's ``rank``, for whole caseloads:
    the list sorted by status, the centre's counts. tests/test_caselist_scale.py checks it gives the same
    status as ``monitoring_statuses`` in every case."""
    return models.Case(
        *[models.When(test, then=status.rank) for status, test in _status_tests(now or timezone.now())],
        default=MonitoringStatus.NOT_MONITORED.rank,
        output_field=models.IntegerField(),
    )


def in_status(status: MonitoringStatus, now: datetime | None = None) -> Q:
    """People whose monitoring status is ``status``: its own test and none of those before it (cheaper than
    working out everyone's status and comparing it)."""
    tests = _status_tests(now or timezone.now())
    out = Q()
    for s, test in tests:
        if s == status:
            return out & test
        out &= ~test
    return out  # NOT_MONITORED: none of them


def monitoring_overview(
    people: QuerySet[Person], listed: MonitoringStatus, now: datetime | None = None
) -> tuple[dict[MonitoringStatus, int], list[int]]:
    """How many of ``people`` have each monitoring status, and the ids of those whose status is ``listed``
    (by name), in one aggregate query: the statuses are worked out once, in a materialised common table.
    (Grouped directly, SQLite works the expression out twice, for the column and for the group; a separate
    query for the list would work it out again.)"""
    from django.db import connections

    ranked = people.annotate(monitoring_rank=monitoring_rank_sql(now)).order_by()
    sql, params = ranked.values_list("pk", "name", "monitoring_rank").query.sql_with_params()
    with connections[people.db].cursor() as cursor:
        cursor.execute(
            f"WITH ranked (pk, name, r) AS MATERIALIZED ({sql}) "
            "SELECT r, COUNT(*), NULL, NULL FROM ranked GROUP BY r "
            "UNION ALL SELECT r, NULL, pk, name FROM ranked WHERE r = %s",
            [*params, listed.rank],
        )
        rows = cursor.fetchall()
    found = {r: n for r, n, pk, _ in rows if pk is None}
    named = sorted((name, pk) for _, _, pk, name in rows if pk is not None)
    return {s: found.get(s.rank, 0) for s in MonitoringStatus}, [pk for _, pk in named]


# ------------------------------------------------------------------ supervision reviews

REVIEW_EVERY_DAYS = 28
START_REVIEW_WITHIN_DAYS = 7
END_REVIEW_FROM_DAYS = 14


class ReviewStage(LabelledEnum):
    START = "start"
    DURING = "during"
    END = "end"

    @property
    def label(self) -> str:
        return {
            "start": "Start of monitoring",
            "during": "During supervision",
            "end": "End of monitoring",
        }[self.value]


# The guide's prompts for practitioners at each stage: what to go through with the person, recorded.
PROMPTS: dict[ReviewStage, list[tuple[str, str]]] = {
    ReviewStage.START: [
        ("explained", "Explain what each device does and does not do, what counts as a breach and its consequences"),
        ("impact", "Ask about the impact on them and their household: work, caring, health, faith, money"),
        ("routine", "Check the curfew and zones fit their routine and appointments; consider a variation if not"),
        ("plans", "Record in the risk management and sentence plans how monitoring supports them"),
    ],
    ReviewStage.DURING: [
        ("data", "Go through the compliance data with them: curfew, trail, alcohol, any incidents"),
        ("progress", "Recognise progress and compliance; discuss any explanation for incidents"),
        ("proportionate", "Is monitoring still necessary and proportionate? Consider varying or ending it"),
        ("plans", "Update the risk management and sentence plans with what the data shows"),
    ],
    ReviewStage.END: [
        ("praise", "Acknowledge the completion of monitoring and praise their compliance"),
        ("removal", "Arrange the removal of the devices and the return of the home unit"),
        ("impact", "Reflect with them on the impact monitoring had, for them and their household"),
        ("plans", "Update the risk management and sentence plans for life after monitoring"),
    ],
}


@dataclass(frozen=True)
class ReviewDue:
    order: Order
    stage: ReviewStage
    due: date

    def overdue(self, day: date | None = None) -> bool:
        return (day or local_today()) > self.due

    @property
    def prompts(self) -> list[tuple[str, str]]:
        return PROMPTS[self.stage]


class Review(models.Model):
    """A supervision review of an order's monitoring, with the person, at the start, during or the end."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="reviews")
    stage = models.CharField(max_length=8, choices=ReviewStage.choices())
    held_on = models.DateField()
    notes = models.JSONField(default=dict, help_text="what was said, by prompt")
    summary = models.TextField()
    risk_plan_updated = models.BooleanField("risk management plan updated", default=False)
    sentence_plan_updated = models.BooleanField("sentence plan updated", default=False)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-held_on", "-id"]

    def __str__(self) -> str:
        return f"{self.order} {self.stage} {self.held_on}"

    @property
    def stage_enum(self) -> ReviewStage:
        return ReviewStage(self.stage)

    def notes_with_prompts(self) -> list[tuple[str, str]]:
        return [(text, self.notes.get(key, "")) for key, text in PROMPTS[self.stage_enum] if self.notes.get(key)]

    def to_json(self) -> dict[str, Any]:
        return {
            "order": self.order.ref,
            "stage": self.stage,
            "held_on": self.held_on.isoformat(),
            "summary": self.summary,
            "notes": [{"prompt": prompt, "note": note} for prompt, note in self.notes_with_prompts()],
            "risk_plan_updated": self.risk_plan_updated,
            "sentence_plan_updated": self.sentence_plan_updated,
            "by": self.by.username,
        }


def reviews_due(order: Order, day: date | None = None) -> list[ReviewDue]:
    """The supervision reviews an active monitored order is waiting for, soonest first."""
    day = day or local_today()
    if order.status_on(day) != OrderStatus.ACTIVE:
        return []
    if not any(device_kind_needed(c.to_spec()) for c in order.conditions_in_force(day)):
        return []  # nothing electronically monitored: nothing to review here
    done = {r.stage: r.held_on for r in sorted(order.reviews.all(), key=lambda r: r.held_on)}
    out = []
    if ReviewStage.START not in done:
        out.append(ReviewDue(order, ReviewStage.START, order.start + timedelta(days=START_REVIEW_WITHIN_DAYS)))
    ending = order.end - day <= timedelta(days=END_REVIEW_FROM_DAYS)
    if ending and ReviewStage.END not in done:
        out.append(ReviewDue(order, ReviewStage.END, order.end))
    elif not ending and ReviewStage.START in done:
        last = max(d for s, d in done.items() if s != ReviewStage.END)
        out.append(ReviewDue(order, ReviewStage.DURING, last + timedelta(days=REVIEW_EVERY_DAYS)))
    return sorted(out, key=lambda r: r.due)
