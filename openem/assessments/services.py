"""What may be done with an assessment, by whom, and what it leaves on record. A curfew or electronic
monitoring recommendation cannot be submitted until both checks are answered for every proposed address,
or a manager has recorded why the court or release must go ahead without them: the one path is the
right one (inspectorate recommendation 8)."""

from __future__ import annotations

from datetime import date, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from openem.accounts.models import Role, User
from openem.audit.models import AuditAction, AuditEvent
from openem.cases.models import Person
from openem.inputs import written

from .models import (
    Assessment,
    AssessmentStatus,
    AssessmentVersion,
    Check,
    CheckAnswer,
    CheckKind,
    Decision,
    ProposalType,
    ProposedAddress,
    VictimPlace,
)


class NotAllowed(Exception):
    """The step cannot be taken: every reason, in words."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__("; ".join(reasons))
        self.reasons = reasons


def working_days_after(day: date, n: int) -> date:
    while n > 0:
        day += timedelta(days=1)
        n -= day.weekday() < 5
    return day


@transaction.atomic  # its own transaction when called alone: the row lock needs one (PostgreSQL)
def _record(assessment: Assessment, user: User | None, what: str, action: AuditAction = AuditAction.CHANGE) -> None:
    """A new version with what changed, and the audit event: like an order's. The number is taken under a
    row lock (two people changing one assessment at once get consecutive versions)."""
    current = Assessment.objects.select_for_update().filter(pk=assessment.pk).values_list("version", flat=True).get()
    assessment.version = current + 1
    Assessment.objects.filter(pk=assessment.pk).update(version=assessment.version)
    AssessmentVersion.objects.create(
        assessment=assessment, number=assessment.version, changed_by=user, what=what[:300],
        snapshot=assessment.snapshot(),
    )  # fmt: skip
    AuditEvent.record(user, action, person=assessment.person, obj=assessment, summary=f"assessment: {what}"[:300])


@transaction.atomic
def start(person: Person, proposal: ProposalType, offence: str, user: User) -> Assessment:
    assessment = Assessment.objects.create(person=person, proposal=proposal.value, offence=offence, created_by=user)
    AssessmentVersion.objects.create(
        assessment=assessment, number=1, changed_by=user, what="Assessment started", snapshot=assessment.snapshot()
    )
    AuditEvent.record(user, AuditAction.CREATE, person=person, obj=assessment, summary="assessment started")
    return assessment


@transaction.atomic
def ask(address: ProposedAddress, kind: CheckKind, asked_whom: str, asked_on: date, user: User) -> Check:
    """Ask the police (domestic abuse) or children's services (safeguarding) about the address's household."""
    due = working_days_after(asked_on, settings.OPENEM_CHECK_DUE_WORKING_DAYS)
    check = Check.objects.create(address=address, kind=kind.value, asked_whom=asked_whom, asked_on=asked_on, due_on=due)
    _record(address.assessment, user, f"{kind.label} for {address.label} asked of {asked_whom}, due {due:%d/%m/%Y}")
    return check


@transaction.atomic
def answer(
    check: Check, answer: CheckAnswer, answered_on: date, said: str, user: User, person_may_be_victim: bool = False
) -> None:
    """Record the answer. An answer is recorded once: two people recording at once, the second is refused."""
    updated = Check.objects.filter(pk=check.pk, answer="").update(
        answer=answer.value, answered_on=answered_on, said=said, person_may_be_victim=person_may_be_victim
    )
    if not updated:
        raise NotAllowed([f"{check.kind_enum.label} for {check.address.label} has already been answered"])
    check.refresh_from_db()
    if person_may_be_victim:
        # An address where the person is at risk is not suitable for them (the guide's case).
        ProposedAddress.objects.filter(pk=check.address_id).update(person_at_risk_here=True)
    _record(check.address.assessment, user, f"{check.kind_enum.label} for {check.address.label}: {answer.label}")


@transaction.atomic
def override(assessment: Assessment, manager: User, reason: str) -> None:
    """A manager records why the court or release must go ahead without both checks (shown on the report,
    counted and audited). Nobody else may."""
    if manager.role != Role.MANAGER:
        raise NotAllowed(["Only a manager can record why the assessment goes ahead without both checks"])
    if not written(reason):
        raise NotAllowed(["Say why the court or release cannot wait for the checks"])
    assessment.override_reason, assessment.override_by, assessment.override_at = reason, manager, timezone.now()
    assessment.save(update_fields=["override_reason", "override_by", "override_at", "updated"])
    _record(assessment, manager, f"Checks waived by {manager.display_name}: {reason}")


@transaction.atomic
def submit(assessment: Assessment, user: User) -> None:
    """Submit to the court or the release decision. Refused, with every reason, while a curfew or monitoring
    is recommended and a check is missing (without a manager's recorded reason), an address is unsuitable,
    or the rationale (recommendation 13) is not written."""
    locked = Assessment.objects.select_for_update().get(pk=assessment.pk)
    reasons: list[str] = []
    if locked.status != AssessmentStatus.DRAFT:
        reasons.append(f"It has been {locked.status_enum.label.lower()} already")
    from .facts import problems_with_choices

    reasons += problems_with_choices(locked)
    if locked.recommends_curfew:
        if not locked.overridden:
            reasons += locked.missing_checks()
        if not written(locked.rationale):
            reasons.append("Write how monitoring will support risk management and desistance")
        for address in locked.addresses.all():
            if address.person_at_risk_here and not written(address.alternative_accommodation):
                reasons.append(
                    f"{address.label}: the person may be at risk there; record the alternative accommodation"
                )
    if reasons:
        raise NotAllowed(reasons)
    locked.status = AssessmentStatus.SUBMITTED
    locked.save(update_fields=["status", "updated"])
    _record(
        locked, user, "Submitted" + (" without both checks (manager's reason recorded)" if locked.overridden else "")
    )
    assessment.refresh_from_db()


@transaction.atomic
def recommend(
    assessment: Assessment, user: User, responses: list[dict[str, str]], curfew_windows: list[dict], rationale: str
) -> None:
    """The practitioner's recommendation: the response to each suggestion, what is added, the curfew hours
    and the rationale. A curfew or monitoring is recommended when any requirement is chosen."""
    assessment.responses, assessment.proposed_curfew_windows = responses, curfew_windows
    assessment.rationale, assessment.recommends_curfew = rationale, bool(assessment.chosen())
    fields = ["responses", "proposed_curfew_windows", "rationale", "recommends_curfew", "updated"]
    assessment.save(update_fields=fields)
    from .eligibility import BY_KEY

    def named(key: str) -> str:
        return BY_KEY[key].label if key in BY_KEY else key

    parts = [named(r["candidate"]) + f" {r['response']}" + (f" to {named(r['to'])}" if r["to"] else "")
             for r in responses]  # fmt: skip
    _record(assessment, user, "Recommendation: " + ("; ".join(parts) if parts else "no curfew or monitoring"))


@transaction.atomic
def add_victim_place(person: Person, user: User, **fields: object) -> VictimPlace:
    """A victim's home or another place to keep them safe: audited (it is personal data of the victim)."""
    place = VictimPlace.objects.create(person=person, recorded_by=user, **fields)
    AuditEvent.record(user, AuditAction.CREATE, person=person, obj=place, summary="victim's place recorded")
    for assessment in person.assessments.filter(status=AssessmentStatus.DRAFT):
        _record(assessment, user, f"A place that protects a victim recorded: {place.kind_enum.label.lower()}")
    return place


@transaction.atomic
def record_victim_views(assessment: Assessment, user: User, views: str) -> None:
    """What the victim has asked for, from the victim liaison officer; shown to the practitioner."""
    assessment.victim_views, assessment.victim_views_by, assessment.victim_views_at = views, user, timezone.now()
    assessment.save(update_fields=["victim_views", "victim_views_by", "victim_views_at", "updated"])
    _record(assessment, user, f"The victim's views recorded by {user.display_name}")


@transaction.atomic
def decide(assessment: Assessment, decision: Decision, on: date, user: User) -> None:
    locked = Assessment.objects.select_for_update().get(pk=assessment.pk)
    if locked.status != AssessmentStatus.SUBMITTED:
        raise NotAllowed(["Record the decision once the assessment has been submitted"])
    release = locked.proposal_enum.is_release
    if release != (decision in (Decision.RELEASED, Decision.REFUSED)):
        raise NotAllowed([f"{decision.label} is not a decision on {locked.proposal_enum.label.lower()}"])
    locked.status, locked.decision, locked.decided_on = AssessmentStatus.DECIDED, decision.value, on
    locked.save(update_fields=["status", "decision", "decided_on", "updated"])
    _record(locked, user, f"Decided: {decision.label} on {on:%d/%m/%Y}")
    assessment.refresh_from_db()


@transaction.atomic
def add_address(assessment: Assessment, user: User, **fields: object) -> ProposedAddress:
    address = ProposedAddress.objects.create(assessment=assessment, **fields)
    _record(assessment, user, f"Address proposed: {address.label}")
    return address


@transaction.atomic
def conclude(address: ProposedAddress, user: User, suitability: str, **fields: object) -> None:
    """The address's conclusion. An address where the person may be at risk, or with children in the
    household when the domestic-abuse or safeguarding check raised concerns, is not concluded suitable."""
    from .models import Suitability

    problems = []
    if suitability == Suitability.SUITABLE.value:
        if address.person_at_risk_here:
            problems.append(f"{address.label}: the person may be at risk there, so it is not suitable for them")
        concerns = address.checks.filter(answer=CheckAnswer.CONCERNS.value)
        if concerns.exists() and any(o.is_child for o in address.occupants.all()):
            problems.append(f"{address.label}: a check raised concerns and children live there")
        if address.electricity is False:
            problems.append(f"{address.label}: no mains electricity, so a home unit cannot work there")
        if address.occupier_consents is False:
            problems.append(f"{address.label}: the main occupier does not consent")
    if problems:
        raise NotAllowed(problems)
    for name, value in fields.items():
        setattr(address, name, value)
    address.suitability = suitability
    address.save()
    _record(address.assessment, user, f"{address.label} concluded {address.suitability_enum.label.lower()}")


@transaction.atomic
def order_made(assessment: Assessment, order: object, user: User) -> bool:
    """Link the order made from the assessment, once: False when another order was linked first (two
    people, or a double click, making it at once); the caller then undoes its order."""
    if not Assessment.objects.filter(pk=assessment.pk, order__isnull=True).update(order=order):
        return False
    _record(assessment, user, f"Order {getattr(order, 'ref', '')} made from this assessment")
    return True
