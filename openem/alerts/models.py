"""Violations as the engine found them, stored; alerts, triage and enforcement build on these."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Coalesce
from django.utils import timezone

from openem.accounts.models import Role, User
from openem.alerts.triage import DEFAULT_POLICY, EQUIPMENT_ACTION, Delivery, IncidentKind, PolicyRule, Severity
from openem.cases.models import local_today
from openem.engine.enums import LabelledEnum
from openem.engine.violations import Category, ViolationType


class ViolationQuerySet(models.QuerySet["Violation"]):
    def visible_to(self, user: User) -> ViolationQuerySet:
        """Violations of the people the user may see (an area outage holds other teams' people too)."""
        from openem.cases.models import Person

        return self.filter(person__in=Person.objects.visible_to(user))


def violation_detail(vtype: ViolationType, evidence: dict[str, Any], ongoing: bool = False) -> str:
    """A curfew absence is a late arrival (out when the curfew began), an early departure (out when it
    ended), the whole period, or out and back within it; a zone entry may be a pass-through."""
    if vtype == ViolationType.CURFEW_ABSENCE:
        if evidence.get("whole_period"):
            return "absent for the whole curfew period"
        # The absence ends where the home unit fell silent: whether and when the wearer came back is
        # not known (the silence is its own no-signal alert), so never say "came back".
        silent = "; then no signal from the home unit" if evidence.get("unit_silent_from") else ""
        if evidence.get("late_arrival"):
            return "late arrival: not home when the curfew began" + (", not back yet" if ongoing else silent)
        if ongoing:
            return "left during the curfew, not back yet"
        if evidence.get("early_departure"):
            return "early departure: left before the curfew ended"
        if silent:
            return "left during the curfew" + silent
        return "left and came back during the curfew"
    if evidence.get("pass_through"):
        return "passed through without stopping (between two fixes)"
    return ""


def violation_lasted(start: Any, end: Any) -> str:
    from openem.uktime import duration

    if end is None:
        return f"ongoing, {duration((timezone.now() - start).total_seconds())} so far"
    return duration((end - start).total_seconds())


class Violation(models.Model):
    key = models.CharField(max_length=40, unique=True, help_text="same violation, same key, after any re-evaluation")
    person = models.ForeignKey("cases.Person", on_delete=models.CASCADE, related_name="violations")
    order_ref = models.CharField(max_length=40)
    condition_ref = models.CharField(max_length=40, blank=True)
    device = models.CharField(max_length=40, blank=True)
    type = models.CharField(max_length=32, choices=ViolationType.choices())
    category = models.CharField(max_length=12, choices=Category.choices())
    start = models.DateTimeField()
    end = models.DateTimeField(null=True, blank=True)
    evidence = models.JSONField(default=dict)
    retracted = models.BooleanField(default=False, help_text="later readings showed it did not happen")
    incident = models.ForeignKey(
        "Incident", null=True, blank=True, on_delete=models.SET_NULL, related_name="violations"
    )
    triage_pending = models.BooleanField(default=True, help_text="new or changed since triage last saw it")
    where = models.JSONField(null=True, blank=True, help_text="last known position [lat, lon], for silences")
    first_seen = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    objects = ViolationQuerySet.as_manager()

    class Meta:
        ordering = ["-start"]
        indexes = [
            models.Index(fields=["person", "-start"]),
            models.Index(fields=["triage_pending", "id"]),
        ]

    def __str__(self) -> str:
        return f"{self.person_id} {self.type} {self.start:%Y-%m-%d %H:%M}"

    @property
    def type_enum(self) -> ViolationType:
        return ViolationType(self.type)

    @property
    def is_open(self) -> bool:
        return self.end is None and not self.retracted

    @property
    def action(self) -> str:
        """What the monitoring centre does about an equipment problem."""
        return EQUIPMENT_ACTION.get(self.type_enum, "")

    @property
    def duration_s(self) -> float | None:
        return (self.end - self.start).total_seconds() if self.end else None

    @property
    def detail(self) -> str:
        """What kind of curfew absence or zone visit it was, in the same words on every page."""
        return violation_detail(self.type_enum, self.evidence, ongoing=self.end is None)

    @property
    def lasted(self) -> str:
        """How long it lasted, or has lasted so far ("ongoing, 2 hours 5 minutes")."""
        return violation_lasted(self.start, self.end)

    def to_json(self) -> dict[str, Any]:
        return {
            "person": self.person.ref,
            "order": self.order_ref,
            "condition": self.condition_ref or None,
            "type": self.type,
            "category": self.category,
            "start": self.start.isoformat(),
            "end": self.end.isoformat() if self.end else None,
            "evidence": self.evidence,
        }


class DeviceSummary(models.Model):
    """What the engine last worked out about a device that is not a violation (sober days, say)."""

    device = models.CharField(max_length=40, unique=True)
    person = models.ForeignKey("cases.Person", on_delete=models.CASCADE, related_name="device_summaries")
    data = models.JSONField(default=dict)
    updated = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.device}: {self.data}"


# ------------------------------------------------------------------ incidents (alerts)

ACK_WITHIN = {
    Severity.CRITICAL: timedelta(minutes=15),
    Severity.HIGH: timedelta(hours=1),
    Severity.MEDIUM: timedelta(hours=4),
    Severity.LOW: timedelta(hours=24),
}
DECISION_WITHIN_WORKING_DAYS = 2


class IncidentStatus(LabelledEnum):
    OPEN = "open"  # nobody has picked it up yet: the acknowledgement timer runs
    ACKNOWLEDGED = "acknowledged"
    CLEARED = "cleared"


class ClearReason(LabelledEnum):
    DEALT_WITH = "dealt_with"
    AUTHORISED = "authorised"
    EXPLAINED = "explained"
    EQUIPMENT_FIXED = "equipment_fixed"
    RETRACTED = "retracted"
    MERGED = "merged"

    @property
    def label(self) -> str:
        return {
            "dealt_with": "Dealt with: contact made and decision recorded",
            "authorised": "Authorised absence (for example a medical emergency or a varied curfew)",
            "explained": "Not a breach: the evidence explains it",
            "equipment_fixed": "Equipment problem fixed",
            "retracted": "Withdrawn: later readings showed it did not happen",
            "merged": "Part of an area outage",
        }[self.value]


class IncidentQuerySet(models.QuerySet["Incident"]):
    def visible_to(self, user: User) -> IncidentQuerySet:
        """Incidents of the people the user may see. Area outages: every one to the monitoring centre; to a
        manager only those that silenced one of their team's people. Each row carries ``shown_devices``,
        how many of its devices the user may see (a device silent twice is one device), so that an outage
        never counts another team's."""
        from openem.cases.models import Person

        people = Person.objects.visible_to(user)
        mine = Violation.objects.filter(incident=models.OuterRef("pk"), retracted=False, person__in=people)
        shown = models.Subquery(
            mine.order_by().values("incident").annotate(n=models.Count("device", distinct=True)).values("n"),
            output_field=models.IntegerField(),
        )
        if user.sees_all_cases:
            qs = self.filter(models.Q(person__in=people) | models.Q(person__isnull=True))
        elif user.role == Role.MANAGER:
            qs = self.filter(
                models.Q(person__in=people) | (models.Q(person__isnull=True) & models.Q(models.Exists(mine)))
            )
        else:
            qs = self.filter(person__in=people)
        return qs.annotate(shown_devices=Coalesce(shown, 0))

    def active(self) -> IncidentQuerySet:
        return self.exclude(status=IncidentStatus.CLEARED)


class Incident(models.Model):
    """One person's episode (or one area outage): what people see in the alert queue and act on."""

    person = models.ForeignKey(
        "cases.Person", null=True, blank=True, on_delete=models.CASCADE, related_name="incidents"
    )
    kind = models.CharField(max_length=16, choices=IncidentKind.choices())
    severity = models.CharField(max_length=10, choices=Severity.choices())
    status = models.CharField(max_length=14, choices=IncidentStatus.choices(), default=IncidentStatus.OPEN)
    start = models.DateTimeField()
    end = models.DateTimeField(null=True, blank=True, help_text="empty while the episode goes on")
    delivery = models.CharField(max_length=10, choices=Delivery.choices(), default=Delivery.QUEUE)
    delivery_reason = models.CharField(max_length=200, blank=True)
    notified = models.BooleanField(default=False, help_text="its one message has been queued")
    digest_sent_at = models.DateTimeField(null=True, blank=True)
    area = models.JSONField(null=True, blank=True)
    summary = models.CharField(max_length=200)
    action = models.CharField(max_length=300, blank=True, help_text="what to do next")
    opened = models.DateTimeField(default=timezone.now)
    updated = models.DateTimeField(auto_now=True)
    ack_due = models.DateTimeField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    escalated_at = models.DateTimeField(null=True, blank=True)
    cleared_at = models.DateTimeField(null=True, blank=True)
    cleared_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    clear_reason = models.CharField(max_length=16, choices=ClearReason.choices(), blank=True)
    decision_due = models.DateField(null=True, blank=True)

    objects = IncidentQuerySet.as_manager()

    class Meta:
        ordering = ["-opened"]
        indexes = [
            models.Index(fields=["status", "ack_due"]),
            models.Index(fields=["person", "status"]),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.summary}"

    @property
    def kind_enum(self) -> IncidentKind:
        return IncidentKind(self.kind)

    @property
    def severity_enum(self) -> Severity:
        return Severity(self.severity)

    @property
    def status_enum(self) -> IncidentStatus:
        return IncidentStatus(self.status)

    @property
    def is_active(self) -> bool:
        return self.status != IncidentStatus.CLEARED

    @property
    def headline(self) -> str:
        """The summary as the reader may see it: an area outage counts only the devices of people they may
        see (``shown_devices``, from ``visible_to``), never another team's."""
        shown = getattr(self, "shown_devices", None)
        if self.kind == IncidentKind.INFRASTRUCTURE and shown is not None:
            return f"Area outage: {shown} device{'s' if shown != 1 else ''} silent together"
        if self.kind == IncidentKind.EQUIPMENT and self.end is None and self.status != IncidentStatus.CLEARED:
            # A monitoring gap says how long nobody has been able to see what the person is doing.
            from openem.uktime import duration, when

            return f"{self.summary}: not monitored since {when(self.start)} ({duration(self.since_s())})"
        return self.summary

    def since_s(self) -> float:
        return max(0.0, (timezone.now() - self.start).total_seconds())

    @property
    def for_practitioner(self) -> bool:
        """Behaviour goes to the practitioner; equipment and outages are monitoring-centre work."""
        return self.kind == IncidentKind.BEHAVIOUR

    def ack_overdue(self, now: datetime | None = None) -> bool:
        now = now or timezone.now()
        return self.status == IncidentStatus.OPEN and self.ack_due is not None and self.ack_due < now

    @property
    def latest_decision(self) -> EnforcementDecision | None:
        return self.decisions.order_by("-at").first()

    def decision_overdue(self, today: date | None = None) -> bool:
        """Recommendation 17: every behaviour incident gets an enforcement decision in time."""
        if not self.for_practitioner or self.decision_due is None or self.clear_reason in _NO_DECISION:
            return False
        return (today or local_today()) > self.decision_due and not self.decisions.exists()

    def _log(self, kind: ActionKind, by: User | None, text: str = "", **extra: Any) -> IncidentAction:
        return IncidentAction.objects.create(incident=self, kind=kind, by=by, text=text, **extra)

    def record_refusal(self) -> str:
        """Why nothing more may be logged on this incident, or "": a cleared incident is a record (there is
        no reopening today), so its history stays as it was when it was cleared. A further enforcement
        decision is the exception (``decide``): breach proceedings can follow a clearance."""
        if self.is_active:
            return ""
        when = f" on {_day(timezone.localtime(self.cleared_at).date())}" if self.cleared_at else ""
        return (
            f"This incident was cleared{when} and is now a record: notes, contacts and acknowledgements can no "
            "longer be added to it."
        )

    def _refuse_if_cleared(self) -> None:
        refusal = self.record_refusal()
        if refusal:
            raise ClearRefused(refusal)

    def acknowledge(self, user: User, note: str = "") -> None:
        self._refuse_if_cleared()
        if self.status != IncidentStatus.OPEN:
            return
        self.status, self.acknowledged_at, self.acknowledged_by = IncidentStatus.ACKNOWLEDGED, timezone.now(), user
        self.save(update_fields=["status", "acknowledged_at", "acknowledged_by", "updated"])
        self._log(ActionKind.ACKNOWLEDGED, user, note)

    def add_note(self, user: User, text: str) -> None:
        self._refuse_if_cleared()
        self._log(ActionKind.NOTE, user, text)

    def record_contact(self, user: User, method: str, outcome: str, text: str = "") -> None:
        self._refuse_if_cleared()
        if self.status == IncidentStatus.OPEN:
            self.acknowledge(user)
        self._log(ActionKind.CONTACT, user, text, contact_method=method, contact_outcome=outcome)

    # ---- who may clear what, and when (the views ask these; ``clear_by`` enforces them)

    def clear_reasons(self) -> list[ClearReason]:
        """What a person may give as the reason, by kind: behaviour is dealt with, authorised or explained;
        equipment and outages are fixed or explained."""
        if self.for_practitioner:
            return [ClearReason.DEALT_WITH, ClearReason.AUTHORISED, ClearReason.EXPLAINED]
        return [ClearReason.EQUIPMENT_FIXED, ClearReason.EXPLAINED]

    def clear_refusal(self, user: User) -> str:
        """Why ``user`` may not clear this incident, or "" if they may. Behaviour is for the case's
        practitioner or a manager of its team (enforcement is theirs); equipment and area outages are the
        monitoring centre's work."""
        if not self.is_active:
            return "This incident has already been cleared."
        if self.for_practitioner:
            if self.person is None or not self.person.is_responsible(user):
                return "Only the case's practitioner or a manager of the team can clear a behaviour incident."
            return ""
        if user.role != Role.OPERATOR:
            return "Equipment and infrastructure incidents are cleared by the monitoring centre."
        return ""

    def can_work(self, user: User) -> bool:
        """Acknowledge, note, record contact: those who work alerts; an area outage only the monitoring
        centre (a manager who may see one must not stop the centre's acknowledgement timer)."""
        if self.kind == IncidentKind.INFRASTRUCTURE:
            return user.role == Role.OPERATOR
        return user.works_alerts

    def can_clear(self, user: User) -> bool:
        return not self.clear_refusal(user)

    def can_decide(self, user: User) -> bool:
        """Enforcement decisions: behaviour incidents, by the case's practitioner or a manager of the team."""
        return self.for_practitioner and self.person is not None and self.person.is_responsible(user)

    def decision_required(self, reason: ClearReason) -> bool:
        """The policy that gives every behaviour incident a decision date (recommendation 17) requires a
        recorded enforcement decision before it is cleared, unless it was not a breach at all."""
        return self.for_practitioner and self.decision_due is not None and reason not in _NO_DECISION

    def clear_problem(self, reason: ClearReason) -> str:
        """What stops clearing for ``reason`` now, or ""."""
        if reason not in self.clear_reasons():
            return f"{reason.label} is not a reason to clear a {self.kind_enum.label.lower()} incident"
        if self.decision_required(reason) and not self.decisions.exists():
            return "Record the enforcement decision first, then clear it as dealt with"
        return ""

    @staticmethod
    def details_problem(reason: ClearReason, text: str) -> str:
        """A clearance that records no enforcement decision must say why in its details, or nothing on
        the record would show what was decided and on what grounds."""
        if reason in _NEEDS_DETAILS and not text.strip():
            return _NEEDS_DETAILS[reason]
        return ""

    def clear_by(self, user: User, reason: ClearReason, text: str = "") -> None:
        """A person clears the incident: refused (ClearRefused) unless they may, for a reason that fits."""
        refusal = self.clear_refusal(user)
        if refusal:
            raise ClearRefused(refusal, forbidden=True)
        problem = self.clear_problem(reason) or self.details_problem(reason, text)
        if problem:
            raise ClearRefused(problem)
        self.clear(user, reason, text)

    def clear(self, user: User | None, reason: ClearReason, text: str = "") -> None:
        """Clear it, unchecked: for OpenEM itself (retracted, merged); people go through ``clear_by``."""
        if self.status == IncidentStatus.OPEN and user is not None:
            self.acknowledged_at, self.acknowledged_by = timezone.now(), user
        self.status, self.cleared_at, self.cleared_by, self.clear_reason = (
            IncidentStatus.CLEARED, timezone.now(), user, reason,
        )  # fmt: skip
        self.save()
        self._log(ActionKind.CLEARED, user, text or reason.label)

    def decision_date_problems(self, decided_on: date | None, action_on: date | None,
                               today: date | None = None) -> dict[str, str]:  # fmt: skip
        """Implausible dates of an enforcement decision, by field: a decision is made after the incident
        began and not later than tomorrow (a day's allowance for clocks and late entries); the action
        follows the decision."""
        today = today or local_today()
        began = timezone.localtime(self.start).date()
        out: dict[str, str] = {}
        if decided_on and decided_on < began:
            out["decided_on"] = (
                f"The date of decision ({_day(decided_on)}) is before the incident began on {_day(began)}"
            )
        elif decided_on and decided_on > today + timedelta(days=1):
            out["decided_on"] = (
                f"The date of decision ({_day(decided_on)}) is more than a day in the future: today is {_day(today)}"
            )
        if action_on and decided_on and action_on < decided_on:
            out["action_on"] = f"The action ({_day(action_on)}) cannot come before the decision ({_day(decided_on)})"
        elif action_on and action_on < began:
            out["action_on"] = f"The action ({_day(action_on)}) is before the incident began on {_day(began)}"
        elif action_on and action_on > today + timedelta(days=1):
            out["action_on"] = (
                f"The date the action was taken ({_day(action_on)}) is more than a day in the future: today is "
                f"{_day(today)}. Record the action once it has been taken"
            )
        return out

    def decide(self, user: User, decision: DecisionKind, reason: str, decided_on: date,
               action_on: date | None = None) -> EnforcementDecision:  # fmt: skip
        if not self.can_decide(user):
            raise ClearRefused(
                "Only the case's practitioner or a manager of the team records an enforcement decision.",
                forbidden=True,
            )
        problems = self.decision_date_problems(decided_on, action_on)
        if problems:
            raise ValidationError(problems)
        if self.status == IncidentStatus.OPEN:
            self.acknowledge(user)
        made = EnforcementDecision.objects.create(
            incident=self, decision=decision, reason=reason, decided_on=decided_on, action_on=action_on, by=user
        )
        self._log(ActionKind.DECISION, user, f"{decision.label}: {reason}")
        return made

    def to_json(self) -> dict[str, Any]:
        """The incident as the read API gives it: what happened, what was done and decided."""

        def when(value: datetime | date | None) -> str | None:
            return value.isoformat() if value is not None else None

        def name(user: User | None) -> str | None:
            return user.username if user is not None else None

        return {
            "id": self.pk, "kind": self.kind, "severity": self.severity, "status": self.status,
            "summary": self.summary, "next_step": self.next_step, "start": when(self.start), "end": when(self.end),
            "opened": when(self.opened), "acknowledged": when(self.acknowledged_at),
            "acknowledged_by": name(self.acknowledged_by), "cleared": when(self.cleared_at),
            "cleared_by": name(self.cleared_by), "clear_reason": self.clear_reason or None,
            "decision_due": when(self.decision_due),
            "violations": [v.key for v in self.violations.filter(retracted=False).order_by("start")],
            "actions": [
                {"kind": a.kind, "at": when(a.at), "by": name(a.by), "text": a.text,
                 "contact_method": a.contact_method or None, "contact_outcome": a.contact_outcome or None}
                for a in self.actions.select_related("by").order_by("at", "pk")
            ],
            "decisions": [
                {"decision": d.decision, "reason": d.reason, "decided_on": when(d.decided_on),
                 "action_on": when(d.action_on), "by": name(d.by), "at": when(d.at)}
                for d in self.decisions.select_related("by").order_by("at", "pk")
            ],
        }  # fmt: skip

    @property
    def next_step(self) -> str:
        if self.for_practitioner and self.decisions.exists():
            return "Decision recorded: clear the incident as dealt with once the action is taken"
        return self.action

    def timeline(self) -> list[IncidentAction]:
        return list(self.actions.select_related("by").order_by("at", "id"))

    def timeline_for(self, user: User) -> list[IncidentAction]:
        """The log as ``user`` may read it: OpenEM's own entries on an area outage count every device in
        it, other teams' too, so outside the monitoring centre they keep only what happened and when."""
        actions = self.timeline()
        if self.person_id is None and not user.sees_all_cases:
            for a in actions:
                if a.by_id is None:
                    a.text = ""
        return actions


class ClearRefused(Exception):
    """A person may not do this to the incident (``forbidden``: not theirs to do; otherwise not yet)."""

    def __init__(self, message: str, forbidden: bool = False) -> None:
        super().__init__(message)
        self.message, self.forbidden = message, forbidden


def _day(d: date) -> str:
    return f"{d.day} {d:%B %Y}"


_NO_DECISION = (ClearReason.RETRACTED, ClearReason.MERGED, ClearReason.AUTHORISED, ClearReason.EXPLAINED)
# The reasons a person gives that record no decision, and what their details must say.
_NEEDS_DETAILS = {
    ClearReason.EXPLAINED: "Say what explains it: clearing as not a breach needs the details of the evidence",
    ClearReason.AUTHORISED: "Say who authorised the absence and why: clearing as authorised needs the details",
}


class ActionKind(LabelledEnum):
    OPENED = "opened"
    UPDATED = "updated"
    NOTIFIED = "notified"
    ACKNOWLEDGED = "acknowledged"
    NOTE = "note"
    CONTACT = "contact"
    ESCALATED = "escalated"
    DECISION = "decision"
    CLEARED = "cleared"


class ContactMethod(LabelledEnum):
    PHONE = "phone"
    TEXT = "text"
    HOME_VISIT = "home_visit"
    IN_PERSON = "in_person"


class ContactOutcome(LabelledEnum):
    SPOKE_TO_WEARER = "spoke_to_wearer"
    NO_ANSWER = "no_answer"
    LEFT_MESSAGE = "left_message"
    WEARER_EXPLAINED = "wearer_explained"


class IncidentAction(models.Model):
    """The incident's log: who did what and when (system events have no user)."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="actions")
    kind = models.CharField(max_length=14, choices=ActionKind.choices())
    by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    at = models.DateTimeField(default=timezone.now)
    text = models.TextField(blank=True)
    contact_method = models.CharField(max_length=12, choices=ContactMethod.choices(), blank=True)
    contact_outcome = models.CharField(max_length=20, choices=ContactOutcome.choices(), blank=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.incident_id} {self.kind} {self.at:%Y-%m-%d %H:%M}"

    @property
    def kind_enum(self) -> ActionKind:
        return ActionKind(self.kind)

    @property
    def contact_label(self) -> str:
        if not self.contact_method:
            return ""
        return f"{ContactMethod(self.contact_method).label}: {ContactOutcome(self.contact_outcome).label.lower()}"


class DecisionKind(LabelledEnum):
    NO_ACTION = "no_action"
    WARNING = "warning"
    BREACH = "breach"
    RECALL = "recall"

    @property
    def label(self) -> str:
        return {
            "no_action": "No further action",
            "warning": "Warning",
            "breach": "Breach proceedings",
            "recall": "Recall request",
        }[self.value]

    @property
    def action_label(self) -> str:
        return {
            "no_action": "",
            "warning": "Warning letter issued on",
            "breach": "Breach laid before the court on",
            "recall": "Recall requested on",
        }[self.value]


class EnforcementDecision(models.Model):
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="decisions")
    decision = models.CharField(max_length=12, choices=DecisionKind.choices())
    reason = models.TextField()
    decided_on = models.DateField()
    action_on = models.DateField(null=True, blank=True)
    by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-at"]

    def __str__(self) -> str:
        return f"{self.incident_id}: {self.decision}"

    @property
    def decision_enum(self) -> DecisionKind:
        return DecisionKind(self.decision)


# ------------------------------------------------------------------ notification policy and channels


class NotificationRule(models.Model):
    """One row of the notification policy, editable by administrators; first match wins."""

    position = models.PositiveSmallIntegerField(default=0)
    name = models.CharField(max_length=200)
    delivery = models.CharField(
        max_length=10, choices=[(d.value, d.label) for d in (Delivery.IMMEDIATE, Delivery.DIGEST)]
    )
    types = models.JSONField(default=list, blank=True, help_text="violation types; empty for any behaviour")
    high_risk_only = models.BooleanField(default=False, help_text="RoSH high or very high, or MAPPA level 2 or 3")
    min_severity = models.CharField(max_length=10, choices=Severity.choices(), blank=True)
    enabled = models.BooleanField(default=True)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.name

    def to_rule(self) -> PolicyRule:
        return PolicyRule(
            self.name,
            Delivery(self.delivery),
            frozenset(ViolationType(t) for t in self.types) if self.types else None,
            self.high_risk_only,
            Severity(self.min_severity) if self.min_severity else None,
        )

    @classmethod
    def policy(cls) -> list[PolicyRule]:
        rows = [r.to_rule() for r in cls.objects.filter(enabled=True)]
        return rows or list(DEFAULT_POLICY)


class ChannelKind(LabelledEnum):
    EMAIL = "email"
    NOTIFY = "notify"
    WEBHOOK = "webhook"

    @property
    def label(self) -> str:
        return {"email": "Email", "notify": "GOV.UK Notify (email)", "webhook": "Signed webhook"}[self.value]


class Channel(models.Model):
    """Where one user's (or the monitoring centre's) notifications go."""

    user = models.ForeignKey(User, null=True, blank=True, on_delete=models.CASCADE, related_name="channels")
    kind = models.CharField(max_length=8, choices=ChannelKind.choices())
    target = models.CharField(max_length=300, help_text="email address or webhook URL")
    secret = models.CharField(max_length=100, blank=True, help_text="webhooks: the key their signature uses")
    enabled = models.BooleanField(default=True)

    def __str__(self) -> str:
        return f"{self.kind_enum.label} {self.target}"

    @property
    def kind_enum(self) -> ChannelKind:
        return ChannelKind(self.kind)

    @classmethod
    def for_user(cls, user: User) -> list[Channel]:
        """A user's channels; email to their address when they have set none."""
        channels: list[Channel] = list(cls.objects.filter(user=user, enabled=True))
        if not channels and user.email:
            channel, _ = cls.objects.get_or_create(user=user, kind=ChannelKind.EMAIL, target=user.email)
            channels = [channel]
        return channels


class NotificationKind(LabelledEnum):
    IMMEDIATE = "immediate"
    DIGEST = "digest"
    ESCALATION = "escalation"


class NotificationStatus(LabelledEnum):
    PENDING = "pending"  # waiting for its (next) attempt
    SENT = "sent"
    FAILED = "failed"  # given up: an operator must look


class NotificationQuerySet(models.QuerySet["Notification"]):
    def visible_to(self, user: User) -> NotificationQuerySet:
        """Scoped like the incident it is about: the monitoring centre sees every message; anyone else
        the messages about people they may see, and the ones addressed to themselves that name nobody."""
        from openem.cases.models import Person

        if not user.is_authenticated or not user.sees_case_records:
            return self.none()
        if user.sees_all_cases:
            return self.all()
        about_mine = models.Q(incident__person__in=Person.objects.visible_to(user))
        to_me = models.Q(user=user) & (models.Q(incident__isnull=True) | models.Q(incident__person__isnull=True))
        return self.filter(about_mine | to_me)


class Notification(models.Model):
    """The outbox: every message, sent or not, with its attempts."""

    incident = models.ForeignKey(
        Incident, null=True, blank=True, on_delete=models.CASCADE, related_name="notifications"
    )
    user = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="notifications")
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=12, choices=NotificationKind.choices())
    subject = models.CharField(max_length=200)
    body = models.TextField()
    status = models.CharField(max_length=8, choices=NotificationStatus.choices(), default=NotificationStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    claimed_until = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    objects = NotificationQuerySet.as_manager()

    class Meta:
        ordering = ["-created"]
        indexes = [models.Index(fields=["status", "next_attempt_at"])]

    def __str__(self) -> str:
        return f"{self.kind} to {self.channel}: {self.status}"

    @property
    def status_enum(self) -> NotificationStatus:
        return NotificationStatus(self.status)
