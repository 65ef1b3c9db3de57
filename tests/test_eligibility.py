"""Eligibility and recommended technology for an assessment (issue 17): one test per rule, then whole cases."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from openem.assessments.eligibility import (
    ALCOHOL_ABSTINENCE,
    ALCOHOL_LEVEL,
    GPS_ATTENDANCE,
    GPS_CURFEW,
    GPS_EXCLUSION_ZONE,
    GPS_TRAIL,
    RF_CURFEW,
    RULES,
    AddressFacts,
    AssessmentFacts,
    Candidate,
    Recommendation,
    Suitability,
    assess,
    check,
    curfew_coverage,
    describe_run,
)
from openem.engine.enums import AlcoholRequirement, ConditionType, Day, DeviceKind, OrderType, RiskFlag, Rosh
from openem.engine.schedule import Window, parse_hhmm

SUITABLE = AddressFacts(Suitability.SUITABLE, electricity_supply=True, occupier_consent=True)
DOCS = Path(__file__).resolve().parent.parent / "docs" / "assessments.md"


def facts(proposal: OrderType = OrderType.COMMUNITY_ORDER, **kw) -> AssessmentFacts:
    kw.setdefault("age_years", 30)
    if proposal == OrderType.HDC:
        kw.setdefault("sentence_days", 365)
    return AssessmentFacts(proposal, **kw)


def window(start: str, end: str, *days: Day) -> Window:
    return Window(days or tuple(Day), parse_hhmm(start), parse_hhmm(end))


def reasons(rec: Recommendation, cand: Candidate) -> list[str]:
    proposal = rec.proposal(cand)
    return [r.rule for r in proposal.reasons] if proposal else []


def refused(rec: Recommendation, cand: Candidate) -> dict[str, str]:
    return {r.rule: r.message for r in rec.refusals(cand)}


def noted(rec: Recommendation) -> dict[str, str]:
    return {n.rule: n.message for n in rec.notes}


def refused_by(code: str, fx: AssessmentFacts, cand: Candidate, alongside=(GPS_TRAIL,)) -> str | None:
    return next((r.message for r in check(fx, cand, alongside) if r.rule == code), None)


# --- The registry --------------------------------------------------------------------------------------------


def test_every_rule_has_its_own_test_a_plain_statement_a_source_and_a_line_in_the_docs():
    module = sys.modules[__name__]
    docs = DOCS.read_text()
    for code, rule in RULES.items():
        assert hasattr(module, f"test_rule_{code.lower()}"), f"no test for rule {code}"
        assert rule.says and rule.source, code
        assert f"`{code}`" in docs, f"rule {code} is not listed in docs/assessments.md"


def test_the_rules_import_no_django():
    # The same rules run on forms, the report PDF and imports; Django must not be needed to evaluate them.
    code = "import sys, openem.assessments.eligibility; print(any(m.split('.')[0] == 'django' for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=DOCS.parents[1])
    assert out.stdout.strip() == "False"


# --- Suggestions ---------------------------------------------------------------------------------------------


def test_rule_hdc_curfew():
    rec = assess(facts(OrderType.HDC, address=SUITABLE))
    assert reasons(rec, RF_CURFEW) == ["HDC_CURFEW"]
    # On a court order the same address alone suggests nothing: nobody said it is a stable home.
    assert reasons(assess(facts(address=SUITABLE)), RF_CURFEW) == []


def test_rule_stable_address_curfew():
    rec = assess(facts(stable_address=True, address=SUITABLE))
    assert reasons(rec, RF_CURFEW) == ["STABLE_ADDRESS_CURFEW"]
    assert "home unit" in rec.proposal(RF_CURFEW).reasons[0].message
    assert RF_CURFEW in assess(facts(address=SUITABLE)).available


def test_rule_victim_exclusion_zone():
    rec = assess(facts(victim_to_protect=True, victim_location_recorded=True))
    assert reasons(rec, GPS_EXCLUSION_ZONE) == ["VICTIM_EXCLUSION_ZONE"]
    assert reasons(rec, GPS_TRAIL) == ["VICTIM_EXCLUSION_ZONE"]  # the zone is monitored through the trail
    plain = assess(facts())
    assert plain.proposed == ()
    assert GPS_EXCLUSION_ZONE in plain.available


def test_rule_acquisitive_trail():
    rec = assess(facts(acquisitive=True, offences=("burglary (dwelling)",)))
    assert reasons(rec, GPS_TRAIL) == ["ACQUISITIVE_TRAIL"]
    assert "acquisitive" in rec.proposal(GPS_TRAIL).reasons[0].message


def test_rule_high_risk_trail():
    assert reasons(assess(facts(rosh=Rosh.HIGH)), GPS_TRAIL) == ["HIGH_RISK_TRAIL"]
    assert reasons(assess(facts(rosh=Rosh.VERY_HIGH)), GPS_TRAIL) == ["HIGH_RISK_TRAIL"]
    assert reasons(assess(facts(mappa_category=2, mappa_level=2)), GPS_TRAIL) == ["HIGH_RISK_TRAIL"]
    assert reasons(assess(facts(rosh=Rosh.MEDIUM, mappa_category=1, mappa_level=1)), GPS_TRAIL) == []


def test_rule_alcohol_link_monitoring():
    court = assess(facts(alcohol_link=True, audit_score=12))
    assert reasons(court, ALCOHOL_ABSTINENCE) == ["ALCOHOL_LINK_MONITORING"]
    assert court.proposal(ALCOHOL_ABSTINENCE).alcohol_requirement == AlcoholRequirement.AAMR
    assert ALCOHOL_LEVEL in court.available  # the practitioner may choose a level instead
    licence = assess(facts(OrderType.LICENCE, alcohol_link=True, audit_score=12))
    assert licence.proposal(ALCOHOL_ABSTINENCE).alcohol_requirement == AlcoholRequirement.AML


# --- Refusals ------------------------------------------------------------------------------------------------


def test_rule_adult_court_order():
    young = facts(OrderType.SUSPENDED_SENTENCE_ORDER, age_years=17, acquisitive=True)
    rec = assess(young)
    assert rec.proposed == ()
    assert "youth rehabilitation order" in refused(rec, GPS_TRAIL)["ADULT_COURT_ORDER"]
    assert refused_by("ADULT_COURT_ORDER", facts(OrderType.LICENCE, age_years=17), GPS_TRAIL) is None
    assert refused_by("ADULT_COURT_ORDER", facts(age_years=18), GPS_TRAIL) is None


def test_rule_hdc_sentence_length():
    def why(days):
        return refused_by("HDC_SENTENCE_LENGTH", facts(OrderType.HDC, sentence_days=days, address=SUITABLE), RF_CURFEW)

    assert "under 12 weeks" in why(60)
    assert "4 years or more" in why(4 * 365)
    assert "record the length" in why(None)
    assert why(12 * 7) is None
    assert why(4 * 365 - 1) is None
    assert refused_by("HDC_SENTENCE_LENGTH", facts(OrderType.LICENCE), GPS_TRAIL) is None


def test_rule_hdc_sex_offender():
    rec = assess(facts(OrderType.HDC, address=SUITABLE, sex_offender_notification=True))
    assert "sex offender notification" in refused(rec, RF_CURFEW)["HDC_SEX_OFFENDER"]
    assert rec.proposed == ()
    assert refused_by("HDC_SEX_OFFENDER", facts(OrderType.LICENCE, sex_offender_notification=True), GPS_TRAIL) is None


def test_rule_technology_table():
    rf_zone = refused_by("TECHNOLOGY_TABLE", facts(), Candidate(ConditionType.EXCLUSION_ZONE, DeviceKind.RF))
    assert rf_zone == "a radio-frequency tag cannot monitor an exclusion zone; it is monitored by a GPS tag"
    alcohol_curfew = refused_by("TECHNOLOGY_TABLE", facts(), Candidate(ConditionType.CURFEW, DeviceKind.ALCOHOL))
    assert "a radio-frequency tag or a GPS tag" in alcohol_curfew
    assert refused_by("TECHNOLOGY_TABLE", facts(), Candidate(ConditionType.TRAIL, DeviceKind.RF))
    for cand in (RF_CURFEW, GPS_CURFEW, GPS_EXCLUSION_ZONE, GPS_TRAIL, GPS_ATTENDANCE, ALCOHOL_ABSTINENCE):
        assert refused_by("TECHNOLOGY_TABLE", facts(), cand) is None


def test_rule_gps_needs_trail():
    fx = facts(stable_address=True, address=SUITABLE)
    assert "add GPS location monitoring" in refused_by("GPS_NEEDS_TRAIL", fx, GPS_CURFEW, alongside=())
    assert "or use an RF curfew" in refused_by("GPS_NEEDS_TRAIL", fx, GPS_CURFEW, alongside=())
    assert refused_by("GPS_NEEDS_TRAIL", fx, GPS_EXCLUSION_ZONE, alongside=())
    assert refused_by("GPS_NEEDS_TRAIL", fx, GPS_ATTENDANCE, alongside=())
    assert refused_by("GPS_NEEDS_TRAIL", fx, GPS_CURFEW) is None
    assert refused_by("GPS_NEEDS_TRAIL", fx, RF_CURFEW, alongside=()) is None


def test_rule_curfew_needs_address():
    rec = assess(facts())
    assert "no stable address" in refused(rec, RF_CURFEW)["CURFEW_NEEDS_ADDRESS"]
    assert "CURFEW_NEEDS_ADDRESS" in refused(rec, GPS_CURFEW)
    assert refused(rec, GPS_TRAIL) == {}
    # A proposed address (approved premises, say) is enough to assess, even without a settled home.
    assert refused_by("CURFEW_NEEDS_ADDRESS", facts(address=SUITABLE), RF_CURFEW) is None


def test_rule_curfew_address_assessed():
    not_yet = refused_by("CURFEW_ADDRESS_ASSESSED", facts(stable_address=True), RF_CURFEW)
    assert "has not been assessed" in not_yet
    visited = AddressFacts(Suitability.NOT_ASSESSED, electricity_supply=True, occupier_consent=True)
    assert refused_by("CURFEW_ADDRESS_ASSESSED", facts(stable_address=True, address=visited), GPS_CURFEW)
    assert refused_by("CURFEW_ADDRESS_ASSESSED", facts(stable_address=True, address=SUITABLE), RF_CURFEW) is None


def test_rule_curfew_address_unsuitable():
    children = AddressFacts(
        Suitability.NOT_SUITABLE, unsuitable_reason="children in the household", occupier_consent=True
    )
    court = refused_by("CURFEW_ADDRESS_UNSUITABLE", facts(address=children), RF_CURFEW)
    assert (
        court
        == "the curfew address was found unsuitable (children in the household): propose and assess another address"
    )
    hdc = refused_by("CURFEW_ADDRESS_UNSUITABLE", facts(OrderType.HDC, address=children), RF_CURFEW)
    assert "no measures" not in court and "whether any measures could make this address suitable" in hdc
    stated = AddressFacts(Suitability.NOT_SUITABLE, no_measures_can_make_suitable=True)
    assert "measures" not in refused_by("CURFEW_ADDRESS_UNSUITABLE", facts(OrderType.HDC, address=stated), RF_CURFEW)
    assert refused_by("CURFEW_ADDRESS_UNSUITABLE", facts(address=SUITABLE), RF_CURFEW) is None


def test_rule_curfew_person_at_risk():
    at_risk = AddressFacts(Suitability.SUITABLE, electricity_supply=True, occupier_consent=True, person_at_risk=True)
    rec = assess(facts(OrderType.HDC, address=at_risk))
    assert "alternative accommodation" in refused(rec, RF_CURFEW)["CURFEW_PERSON_AT_RISK"]
    assert rec.proposal(RF_CURFEW) is None
    assert refused_by("CURFEW_PERSON_AT_RISK", facts(address=SUITABLE), RF_CURFEW) is None


def test_rule_curfew_occupier_consent():
    unasked = AddressFacts(Suitability.SUITABLE, electricity_supply=True)
    assert "not recorded" in refused_by("CURFEW_OCCUPIER_CONSENT", facts(address=unasked), RF_CURFEW)
    refuses = AddressFacts(Suitability.SUITABLE, electricity_supply=True, occupier_consent=False)
    assert "does not consent" in refused_by("CURFEW_OCCUPIER_CONSENT", facts(address=refuses), GPS_CURFEW)
    assert refused_by("CURFEW_OCCUPIER_CONSENT", facts(address=SUITABLE), RF_CURFEW) is None


def test_rule_rf_needs_electricity():
    dark = AddressFacts(Suitability.SUITABLE, electricity_supply=False, occupier_consent=True)
    message = refused_by("RF_NEEDS_ELECTRICITY", facts(address=dark), RF_CURFEW)
    assert "no electricity supply" in message and "once a supply is connected" in message
    assert refused_by("RF_NEEDS_ELECTRICITY", facts(address=dark), GPS_CURFEW) is None  # no home unit
    unknown = AddressFacts(Suitability.SUITABLE, occupier_consent=True)
    assert "not recorded" in refused_by("RF_NEEDS_ELECTRICITY", facts(address=unknown), RF_CURFEW)
    assert refused_by("RF_NEEDS_ELECTRICITY", facts(address=SUITABLE), RF_CURFEW) is None


def test_rule_alcohol_needs_link():
    message = refused_by("ALCOHOL_NEEDS_LINK", facts(audit_score=12), ALCOHOL_ABSTINENCE)
    assert "no link between alcohol and the offending" in message
    assert refused_by("ALCOHOL_NEEDS_LINK", facts(audit_score=12), ALCOHOL_LEVEL)
    assert refused_by("ALCOHOL_NEEDS_LINK", facts(alcohol_link=True, audit_score=12), ALCOHOL_ABSTINENCE) is None


def test_rule_alcohol_not_dependent():
    dependent = facts(OrderType.LICENCE, alcohol_link=True, audit_score=9, alcohol_dependent=True)
    assert "dependent on alcohol" in refused_by("ALCOHOL_NOT_DEPENDENT", dependent, ALCOHOL_ABSTINENCE)
    assert refused_by("ALCOHOL_NOT_DEPENDENT", facts(alcohol_link=True, audit_score=9), ALCOHOL_ABSTINENCE) is None


def test_rule_audit_recorded():
    assert "AUDIT screening" in refused_by("AUDIT_RECORDED", facts(alcohol_link=True), ALCOHOL_ABSTINENCE)
    assert refused_by("AUDIT_RECORDED", facts(alcohol_link=True, audit_score=0), ALCOHOL_ABSTINENCE) is None
    # Without a link the link is what is missing; no second refusal asking for a score.
    assert refused_by("AUDIT_RECORDED", facts(), ALCOHOL_ABSTINENCE) is None


def test_rule_audit_dependent():
    at_15 = refused_by("AUDIT_DEPENDENT", facts(alcohol_link=True, audit_score=15), ALCOHOL_ABSTINENCE)
    assert at_15.startswith("an AUDIT score of 15 suggests alcohol dependency")
    assert "under 15" in at_15
    assert refused_by("AUDIT_DEPENDENT", facts(OrderType.LICENCE, alcohol_link=True, audit_score=22), ALCOHOL_LEVEL)
    assert refused_by("AUDIT_DEPENDENT", facts(alcohol_link=True, audit_score=14), ALCOHOL_ABSTINENCE) is None


def test_rule_aamr_not_with_treatment():
    both = facts(alcohol_link=True, audit_score=10, alcohol_treatment_requirement=True)
    assert "cannot be made with one" in refused_by("AAMR_NOT_WITH_TREATMENT", both, ALCOHOL_ABSTINENCE)
    on_licence = facts(OrderType.LICENCE, alcohol_link=True, audit_score=10, alcohol_treatment_requirement=True)
    assert refused_by("AAMR_NOT_WITH_TREATMENT", on_licence, ALCOHOL_ABSTINENCE) is None  # AML, not an AAMR


# --- Notes ---------------------------------------------------------------------------------------------------


def test_rule_abuse_flag_no_victim():
    rec = assess(facts(flags=frozenset({RiskFlag.DOMESTIC_ABUSE, RiskFlag.STALKING})))
    assert "domestic-abuse perpetrator and stalking" in noted(rec)["ABUSE_FLAG_NO_VICTIM"]
    with_victim = facts(flags=frozenset({RiskFlag.STALKING}), victim_to_protect=True, victim_location_recorded=True)
    assert "ABUSE_FLAG_NO_VICTIM" not in noted(assess(with_victim))
    assert "ABUSE_FLAG_NO_VICTIM" not in noted(assess(facts(flags=frozenset({RiskFlag.WEAPONS}))))


def test_rule_victim_location_missing():
    rec = assess(facts(victim_to_protect=True))
    assert "neither their address nor an exclusion area" in noted(rec)["VICTIM_LOCATION_MISSING"]
    assert rec.proposal(GPS_EXCLUSION_ZONE)  # still proposed: the zone is drawn once the place is recorded
    assert noted(assess(facts(victim_to_protect=True, victim_location_recorded=True))) == {}


def test_rule_victim_near_address():
    near = AddressFacts(Suitability.SUITABLE, electricity_supply=True, occupier_consent=True, distance_to_victim_m=400)
    rec = assess(facts(stable_address=True, address=near))
    assert noted(rec)["VICTIM_NEAR_ADDRESS"].startswith("the curfew address is 400 m from the victim's address")
    assert "VICTIM_NEAR_ADDRESS" not in noted(assess(facts(stable_address=True, address=near), victim_warning_m=300))


def test_rule_curfew_misses_offending():
    late_weekends = (window("22:00", "02:00", Day.FRI, Day.SAT),)
    rec = assess(facts(offending_times=late_weekends, proposed_curfew_windows=(window("23:00", "06:00"),)))
    message = noted(rec)["CURFEW_MISSES_OFFENDING"]
    assert message.startswith("the proposed curfew covers 75% of the times the offending happened")
    assert "not covered: Friday 22:00 to 23:00; Saturday 22:00 to 23:00" in message
    covering = facts(offending_times=late_weekends, proposed_curfew_windows=(window("21:00", "07:00"),))
    assert "CURFEW_MISSES_OFFENDING" not in noted(assess(covering))


def test_rule_audit_lower_risk():
    rec = assess(facts(alcohol_link=True, audit_score=5))
    assert "lower-risk drinking" in noted(rec)["AUDIT_LOWER_RISK"]
    assert rec.proposal(ALCOHOL_ABSTINENCE)  # a note, not a refusal: the law asks for a link, not a score
    assert "AUDIT_LOWER_RISK" not in noted(assess(facts(alcohol_link=True, audit_score=8)))


# --- Whole cases ---------------------------------------------------------------------------------------------


def test_burglar_on_licence_with_a_victim_gets_trail_and_an_exclusion_zone():
    rec = assess(
        facts(
            OrderType.LICENCE,
            offences=("burglary (dwelling)",),
            acquisitive=True,
            victim_to_protect=True,
            victim_location_recorded=True,
            rosh=Rosh.MEDIUM,
        )
    )
    assert [p.candidate for p in rec.proposed] == [GPS_EXCLUSION_ZONE, GPS_TRAIL]
    assert reasons(rec, GPS_TRAIL) == ["VICTIM_EXCLUSION_ZONE", "ACQUISITIVE_TRAIL"]
    assert "no stable address" in refused(rec, RF_CURFEW)["CURFEW_NEEDS_ADDRESS"]
    assert not refused(rec, GPS_EXCLUSION_ZONE) and not refused(rec, GPS_TRAIL)


def test_drink_driver_on_a_community_order_gets_alcohol_abstinence_monitoring():
    rec = assess(facts(offences=("drink driving",), alcohol_link=True, audit_score=12))
    assert [p.candidate for p in rec.proposed] == [ALCOHOL_ABSTINENCE]
    proposal = rec.proposal(ALCOHOL_ABSTINENCE)
    assert proposal.alcohol_requirement == AlcoholRequirement.AAMR
    assert proposal.reasons[0].message == "alcohol is linked to the offending: a transdermal tag can check abstinence"
    assert refused(rec, ALCOHOL_ABSTINENCE) == {}


def test_dependent_drinker_is_refused_alcohol_monitoring_with_the_reason():
    rec = assess(facts(offences=("assault",), alcohol_link=True, audit_score=24, alcohol_dependent=True))
    assert rec.proposal(ALCOHOL_ABSTINENCE) is None
    why = refused(rec, ALCOHOL_ABSTINENCE)
    assert set(why) == {"ALCOHOL_NOT_DEPENDENT", "AUDIT_DEPENDENT"}
    assert all(r.suggested for r in rec.refusals(ALCOHOL_ABSTINENCE))  # it was suggested, and refused
    assert "an AUDIT score of 24 suggests alcohol dependency" in why["AUDIT_DEPENDENT"]


def test_hdc_with_no_electricity_at_the_address_refuses_the_rf_curfew():
    dark = AddressFacts(Suitability.SUITABLE, electricity_supply=False, occupier_consent=True)
    rec = assess(facts(OrderType.HDC, address=dark, stable_address=True))
    assert rec.proposal(RF_CURFEW) is None
    [refusal] = rec.refusals(RF_CURFEW)
    assert refusal.rule == "RF_NEEDS_ELECTRICITY" and refusal.suggested
    assert refusal.path == "address.electricity_supply"
    assert str(refusal).startswith("RF curfew: there is no electricity supply at the curfew address")


def test_every_reason_a_curfew_is_refused_is_given_at_once():
    rec = assess(
        facts(
            OrderType.HDC,
            sentence_days=30,
            sex_offender_notification=True,
            address=AddressFacts(Suitability.NOT_SUITABLE, person_at_risk=True, occupier_consent=False),
        )
    )
    assert rec.proposed == ()
    assert set(refused(rec, RF_CURFEW)) == {
        "HDC_SENTENCE_LENGTH",
        "HDC_SEX_OFFENDER",
        "CURFEW_ADDRESS_UNSUITABLE",
        "CURFEW_PERSON_AT_RISK",
        "CURFEW_OCCUPIER_CONSENT",
        "RF_NEEDS_ELECTRICITY",
    }


# --- Curfew windows against the offending times --------------------------------------------------------------


def test_curfew_coverage_counts_overnight_windows_across_the_end_of_the_week():
    sunday_night = (window("23:00", "01:00", Day.SUN),)
    cover = curfew_coverage(sunday_night, (window("21:00", "07:00"),))
    assert cover.full and cover.percent == 100 and cover.offending_min == 120
    missed = curfew_coverage(sunday_night, (window("02:00", "07:00"),))
    assert missed.uncovered == ((6 * 1440 + 23 * 60, 7 * 1440 + 60),)  # one stretch, Sunday into Monday
    assert describe_run(*missed.uncovered[0]) == "Sunday 23:00 to Monday 01:00"


def test_describe_run_within_a_day_and_to_midnight():
    assert describe_run(4 * 1440 + 21 * 60, 4 * 1440 + 23 * 60) == "Friday 21:00 to 23:00"
    assert describe_run(4 * 1440 + 21 * 60, 5 * 1440) == "Friday 21:00 to 24:00"


# --- Bad facts -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"proposal": OrderType.BAIL}, "proposal: an assessment is for a community order"),
        ({"audit_score": 41}, "audit_score: 41 is not an AUDIT score (0 to 40)"),
        ({"mappa_level": 4}, "mappa_level: 4 is not a MAPPA level (1, 2 or 3)"),
    ],
)
def test_facts_that_cannot_be_true_are_refused_with_what_is_wrong(kw, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        facts(**kw)
