"""An assessment per proposal (a court report or a release): the proposed curfew addresses, their
households, and the domestic-abuse and safeguarding checks that must be answered before a curfew or
electronic monitoring can be recommended (inspectorate recommendations 8, 9, 11, 13 and 16).

Status logic lives here; what may be submitted, and by whom a check may be waived, in ``services``."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q

from openem.engine.enums import LabelledEnum


class ProposalType(LabelledEnum):
    COMMUNITY_ORDER = "community_order"  # a court report
    SUSPENDED_SENTENCE_ORDER = "suspended_sentence_order"  # a court report
    HDC = "hdc"  # a release on home detention curfew
    LICENCE = "licence"
    PAROLE_LICENCE = "parole_licence"

    @property
    def is_release(self) -> bool:
        return self in (ProposalType.HDC, ProposalType.LICENCE, ProposalType.PAROLE_LICENCE)

    @property
    def label(self) -> str:
        return {
            "community_order": "Court report: community order",
            "suspended_sentence_order": "Court report: suspended sentence order",
            "hdc": "Release on home detention curfew",
            "licence": "Release on licence",
            "parole_licence": "Release on parole licence",
        }[self.value]


class AssessmentStatus(LabelledEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    DECIDED = "decided"


class Decision(LabelledEnum):
    IMPOSED = "imposed"  # the court imposed the order
    NOT_IMPOSED = "not_imposed"
    RELEASED = "released"  # the release went ahead
    REFUSED = "refused"  # the release was refused


class CheckKind(LabelledEnum):
    DOMESTIC_ABUSE = "domestic_abuse"  # the police
    SAFEGUARDING = "safeguarding"  # children's services

    @property
    def label(self) -> str:
        return {
            "domestic_abuse": "Domestic-abuse check (police)",
            "safeguarding": "Safeguarding check (children's services)",
        }[self.value]


class CheckAnswer(LabelledEnum):
    NO_CONCERNS = "no_concerns"
    CONCERNS = "concerns"  # what was said is recorded with it
    NO_INFORMATION = "no_information"  # asked, and the agency holds nothing


class Suitability(LabelledEnum):
    NOT_ASSESSED = "not_assessed"
    SUITABLE = "suitable"
    NOT_SUITABLE = "not_suitable"


class Response(LabelledEnum):
    """The practitioner's answer to each requirement OpenEM suggests (or one they add themselves)."""

    ACCEPTED = "accepted"
    CHANGED = "changed"  # another requirement or technology instead, with the reason
    REJECTED = "rejected"  # with the reason
    ADDED = "added"  # not suggested, chosen by the practitioner (still checked for eligibility)


class VictimPlaceKind(LabelledEnum):
    HOME = "home"
    AREA = "area"

    @property
    def label(self) -> str:
        return {"home": "The victim's home", "area": "Somewhere the victim needs to be safe"}[self.value]


class VictimPlace(models.Model):
    """Where a victim of the person lives, or another place they need kept safe (work, school, family),
    recorded by the victim liaison officer or the practitioner. Never shown to the person; the distance
    from each proposed curfew address to it is computed (``victims.distances``)."""

    person = models.ForeignKey("cases.Person", on_delete=models.CASCADE, related_name="victim_places")
    kind = models.CharField(max_length=8, choices=VictimPlaceKind.choices(), default=VictimPlaceKind.HOME)
    description = models.CharField(max_length=200, help_text="for staff, for example: the victim's home (Ms A)")
    lat = models.FloatField()
    lon = models.FloatField()
    radius_m = models.PositiveIntegerField(default=0, help_text="an area around the point; 0 for an address")
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["recorded_at", "id"]

    def __str__(self) -> str:
        return self.description

    @property
    def kind_enum(self) -> VictimPlaceKind:
        return VictimPlaceKind(self.kind)


class Assessment(models.Model):
    """One proposal for one person, made by their practitioner."""

    person = models.ForeignKey("cases.Person", on_delete=models.CASCADE, related_name="assessments")
    proposal = models.CharField(max_length=28, choices=ProposalType.choices())
    offence = models.TextField(help_text="the offence, in a few words")
    alcohol_link = models.BooleanField(default=False, help_text="alcohol was a factor in the offending")
    audit_score = models.PositiveSmallIntegerField("AUDIT score", null=True, blank=True)
    alcohol_dependent = models.BooleanField(default=False)
    acquisitive = models.BooleanField(default=False, help_text="burglary, theft, robbery and the like")
    victim_to_protect = models.BooleanField(default=False, help_text="an identified victim to protect")
    victim_location_recorded = models.BooleanField(
        default=False, help_text="the victim's address or an area to keep out of is recorded"
    )
    alcohol_treatment_requirement = models.BooleanField(default=False, help_text="also proposed on the order")
    sentence_days = models.PositiveIntegerField(null=True, blank=True, help_text="the custodial term, for HDC")
    sex_offender_notification = models.BooleanField(default=False)
    offending_times = models.JSONField(
        default=list, blank=True, help_text="when the offending happened: windows as in a curfew (days, start, end)"
    )
    proposed_curfew_windows = models.JSONField(
        default=list, blank=True, help_text="the curfew recommended: windows as in a curfew (days, start, end)"
    )
    status = models.CharField(max_length=10, choices=AssessmentStatus.choices(), default=AssessmentStatus.DRAFT)
    decision = models.CharField(max_length=12, choices=Decision.choices(), blank=True)
    decided_on = models.DateField(null=True, blank=True)
    recommends_curfew = models.BooleanField(default=False, help_text="a curfew or electronic monitoring is proposed")
    rationale = models.TextField(blank=True, help_text="how monitoring will support risk management and desistance")
    override_reason = models.TextField(blank=True, help_text="why it goes ahead without both checks answered")
    override_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    override_at = models.DateTimeField(null=True, blank=True)
    responses = models.JSONField(
        default=list, blank=True,
        help_text="each suggestion accepted, changed or rejected, and any requirement added: "
        '[{"candidate": "curfew:rf", "response": "accepted", "to": "", "why": ""}]',
    )  # fmt: skip
    victim_views = models.TextField(blank=True, help_text="what the victim asked for, from the victim liaison officer")
    victim_views_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    victim_views_at = models.DateTimeField(null=True, blank=True)
    order = models.ForeignKey(
        "cases.Order", null=True, blank=True, on_delete=models.SET_NULL, related_name="assessments",
        help_text="the order made from this assessment",
    )  # fmt: skip
    version = models.PositiveIntegerField(default=1)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created"]

    def __str__(self) -> str:
        return f"{self.proposal_enum.label} for {self.person}"

    @property
    def proposal_enum(self) -> ProposalType:
        return ProposalType(self.proposal)

    @property
    def status_enum(self) -> AssessmentStatus:
        return AssessmentStatus(self.status)

    @property
    def can_make_order(self) -> bool:
        """Decided for monitoring (the court imposed it, or the release went ahead) and no order made yet."""
        return (
            self.status == AssessmentStatus.DECIDED and self.decision in ("imposed", "released") and not self.order_id
        )

    def coverage(self) -> Any:
        """How much of the offending times the proposed curfew covers (can the curfew disrupt the pattern?),
        or None until both are recorded."""
        from openem.engine.schedule import Window

        from .eligibility import curfew_coverage

        if not self.offending_times or not self.proposed_curfew_windows:
            return None
        return curfew_coverage(
            [Window.from_json(w) for w in self.offending_times],
            [Window.from_json(w) for w in self.proposed_curfew_windows],
        )

    def coverage_text(self) -> str:
        from .eligibility import describe_run

        c = self.coverage()
        if c is None:
            return ""
        if c.full:
            return "The curfew proposed covers all the times of the offending."
        missed = "; ".join(describe_run(a, b) for a, b in c.uncovered[:4])
        return f"The curfew proposed covers {c.percent}% of the times of the offending; not covered: {missed}."

    def response_to(self, key: str) -> dict[str, str] | None:
        return next((r for r in self.responses if r.get("candidate") == key), None)

    def chosen(self) -> list[str]:
        """The requirements recommended, as candidate keys: suggestions accepted, what changed ones became,
        and those added."""
        out = []
        for r in self.responses:
            key = r.get("to") if r.get("response") == Response.CHANGED.value else r.get("candidate")
            if r.get("response") != Response.REJECTED.value and key and key not in out:
                out.append(key)
        return out

    def suitable_address(self) -> ProposedAddress | None:
        return self.addresses.filter(suitability=Suitability.SUITABLE.value).first()

    @property
    def overridden(self) -> bool:
        return bool(self.override_reason and self.override_by_id)

    def missing_checks(self) -> list[str]:
        """Every check not yet answered, for each proposed address, in words ("Domestic-abuse check (police)
        for 12 Station Road: not answered")."""
        out = []
        for address in self.addresses.prefetch_related("checks"):
            answered = {c.kind for c in address.checks.all() if c.answered}
            for kind in CheckKind:
                if kind.value not in answered:
                    out.append(f"{kind.label} for {address.label}: not answered")
        if self.recommends_curfew and not self.addresses.exists():
            out.append("No curfew address has been proposed and checked")
        return out

    def snapshot(self) -> dict[str, Any]:
        return {
            "proposal": self.proposal, "status": self.status, "decision": self.decision,
            "decided_on": self.decided_on.isoformat() if self.decided_on else None,
            "recommends_curfew": self.recommends_curfew, "rationale": self.rationale, "responses": self.responses,
            "victim_views": self.victim_views,
            "override_reason": self.override_reason,
            "addresses": [
                {"label": a.label, "suitability": a.suitability,
                 "checks": [{"kind": c.kind, "answer": c.answer} for c in a.checks.all()]}
                for a in self.addresses.all()
            ],
        }  # fmt: skip


class AssessmentVersion(models.Model):
    """Every change of an assessment's status or terms: who, when, what it said."""

    assessment = models.ForeignKey(Assessment, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    changed_at = models.DateTimeField(auto_now_add=True)
    changed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    what = models.CharField(max_length=300)
    snapshot = models.JSONField()

    class Meta:
        ordering = ["assessment", "-number"]
        constraints = [models.UniqueConstraint(fields=["assessment", "number"], name="assessment_version_unique")]

    def __str__(self) -> str:
        return f"{self.assessment} v{self.number}"


class ProposedAddress(models.Model):
    """A proposed curfew address and its household: each is checked and concluded on by itself."""

    assessment = models.ForeignKey(Assessment, on_delete=models.CASCADE, related_name="addresses")
    label = models.CharField(max_length=200)
    lat = models.FloatField(null=True, blank=True)
    lon = models.FloatField(null=True, blank=True)
    occupier_consents = models.BooleanField(null=True, help_text="the main occupier agrees to the curfew there")
    electricity = models.BooleanField(null=True, help_text="a home unit needs mains electricity")
    home_visit_on = models.DateField(null=True, blank=True)
    person_at_risk_here = models.BooleanField(
        default=False, help_text="the person may be a victim at this address as well as a perpetrator"
    )
    alternative_accommodation = models.TextField(blank=True)
    suitability = models.CharField(max_length=14, choices=Suitability.choices(), default=Suitability.NOT_ASSESSED)
    not_suitable_reason = models.TextField(blank=True)
    no_measures_can_make_suitable = models.BooleanField(
        default=False, help_text="for HDC: no measures can make this address suitable (recommendation 11)"
    )

    def __str__(self) -> str:
        return self.label

    @property
    def suitability_enum(self) -> Suitability:
        return Suitability(self.suitability)


class Occupant(models.Model):
    address = models.ForeignKey(ProposedAddress, on_delete=models.CASCADE, related_name="occupants")
    name = models.CharField(max_length=200)
    relationship = models.CharField(max_length=100)
    age = models.PositiveSmallIntegerField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.relationship})"

    @property
    def is_child(self) -> bool:
        return self.age is not None and self.age < 18


class CheckQuerySet(models.QuerySet["Check"]):
    def overdue(self, today: date) -> CheckQuerySet:
        """Asked, not answered, past the due date: listed for the practitioner and their manager."""
        return self.filter(answer="", due_on__lt=today)

    def unanswered(self) -> CheckQuerySet:
        return self.filter(answer="")


class Check(models.Model):
    """A domestic-abuse or safeguarding check for one address and its household."""

    address = models.ForeignKey(ProposedAddress, on_delete=models.CASCADE, related_name="checks")
    kind = models.CharField(max_length=16, choices=CheckKind.choices())
    asked_whom = models.CharField(max_length=200, help_text="the team or person asked")
    asked_on = models.DateField()
    due_on = models.DateField()
    answer = models.CharField(max_length=16, choices=CheckAnswer.choices(), blank=True)
    answered_on = models.DateField(null=True, blank=True)
    said = models.TextField(blank=True, help_text="what the answer said")
    person_may_be_victim = models.BooleanField(default=False)

    objects = CheckQuerySet.as_manager()

    class Meta:
        ordering = ["asked_on", "id"]
        constraints = [
            models.UniqueConstraint(fields=["address", "kind"], name="one_check_of_a_kind_per_address"),
            models.CheckConstraint(
                condition=Q(answer="") | Q(answered_on__isnull=False), name="an_answer_has_its_date"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind_enum.label} for {self.address}"

    @property
    def answered(self) -> bool:
        return bool(self.answer)

    @property
    def kind_enum(self) -> CheckKind:
        return CheckKind(self.kind)
