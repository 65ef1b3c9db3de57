"""An assessment as the eligibility rules read it, and what they answer: shared by the assessment page, the
report, submitting and "make the order from this assessment", so every one of them reads the same answer."""

from __future__ import annotations

from django.conf import settings

from openem.engine.enums import OrderType, RiskFlag, Rosh
from openem.engine.schedule import Window
from openem.uktime import local_today

from . import eligibility, victims
from .models import Assessment, Suitability


def facts_of(assessment: Assessment, places: list[victims.Place] | None = None) -> eligibility.AssessmentFacts:
    """Its facts, the person's age and risk, its best proposed address (a suitable one if any) with the
    distance from it to the nearest place that protects a victim (``places``: when the caller has them)."""
    person = assessment.person
    age = None
    if person.date_of_birth:
        today, born = local_today(), person.date_of_birth
        age = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
    addresses = list(assessment.addresses.all())
    suitable = [a for a in addresses if a.suitability == Suitability.SUITABLE.value]
    best = (suitable or addresses)[0] if addresses else None
    places = victims.places(person) if places is None else places
    address = None
    if best is not None:
        near = victims.distances(best, places)
        address = eligibility.AddressFacts(
            eligibility.Suitability(best.suitability), best.not_suitable_reason, best.no_measures_can_make_suitable,
            best.electricity, best.occupier_consents, best.person_at_risk_here,
            near[0].metres if near else None,
        )  # fmt: skip
    return eligibility.AssessmentFacts(
        OrderType(assessment.proposal), age_years=age, offences=(assessment.offence,),
        acquisitive=assessment.acquisitive, alcohol_link=assessment.alcohol_link, audit_score=assessment.audit_score,
        alcohol_dependent=assessment.alcohol_dependent,
        alcohol_treatment_requirement=assessment.alcohol_treatment_requirement,
        rosh=Rosh(person.rosh) if person.rosh else None, mappa_category=person.mappa_category,
        mappa_level=person.mappa_level, flags=frozenset(RiskFlag(f) for f in person.flags),
        victim_to_protect=assessment.victim_to_protect,
        victim_location_recorded=assessment.victim_location_recorded or bool(places),
        stable_address=any(a.suitability == Suitability.SUITABLE.value for a in addresses), address=address,
        offending_times=tuple(Window.from_json(w) for w in assessment.offending_times),
        proposed_curfew_windows=tuple(Window.from_json(w) for w in assessment.proposed_curfew_windows),
        sentence_days=assessment.sentence_days, sex_offender_notification=assessment.sex_offender_notification,
    )  # fmt: skip


def recommendation(
    assessment: Assessment, the_facts: eligibility.AssessmentFacts | None = None
) -> eligibility.Recommendation | None:
    """What the eligibility rules propose for the facts recorded (None if they cannot be read)."""
    try:
        the_facts = facts_of(assessment) if the_facts is None else the_facts
    except ValueError:
        return None
    return eligibility.assess(the_facts, settings.OPENEM_VICTIM_WARNING_M)


def refused_choices(the_facts: eligibility.AssessmentFacts, chosen: list[eligibility.Candidate]) -> list[str]:
    """Every reason a requirement chosen is not eligible, each judged alongside the others chosen."""
    return [
        f"{cand.title} is not eligible: {refusal.message}"
        for cand in chosen
        for refusal in eligibility.check(the_facts, cand, [c for c in chosen if c != cand])
    ]


def problems_with_choices(assessment: Assessment, the_facts: eligibility.AssessmentFacts | None = None) -> list[str]:
    """Why the requirements chosen cannot go to the court or release decision as they stand: a suggestion
    neither accepted, changed nor rejected, or a requirement chosen that the rules refuse."""
    try:
        the_facts = facts_of(assessment) if the_facts is None else the_facts
    except ValueError:
        return ["The facts recorded cannot be read by the eligibility rules: correct them"]
    rec = eligibility.assess(the_facts, settings.OPENEM_VICTIM_WARNING_M)
    out = [
        f"OpenEM suggests {p.candidate.label}: accept, change or reject it"
        for p in rec.proposed
        if assessment.response_to(p.candidate.key) is None
    ]
    return out + refused_choices(
        the_facts, [eligibility.BY_KEY[k] for k in assessment.chosen() if k in eligibility.BY_KEY]
    )
