"""An assessment before the order: no curfew or monitoring recommendation leaves OpenEM without both
checks answered for every proposed address, or a manager's recorded reason (issue 17's blocking rule)."""

from __future__ import annotations

from datetime import date

import pytest

from openem.assessments import services
from openem.assessments.models import (
    Assessment,
    AssessmentStatus,
    Check,
    CheckAnswer,
    CheckKind,
    Decision,
    ProposalType,
    ProposedAddress,
)
from openem.audit.models import AuditEvent

MONDAY = date(2026, 11, 30)


@pytest.fixture
def assessment(case, personas) -> Assessment:
    a = services.start(case, ProposalType.COMMUNITY_ORDER, "Assault by beating", personas["practitioner"])
    ProposedAddress.objects.create(assessment=a, label="14 Mill Lane (his mother's)", electricity=True)
    # The case is at high Risk of Serious Harm: OpenEM suggests location monitoring, and it is accepted.
    accepted = [{"candidate": "trail:gps", "response": "accepted", "to": "", "why": ""}]
    why = "Location monitoring keeps him away from the victim's area in the evenings."
    services.recommend(a, personas["practitioner"], accepted, [], why)
    assert a.recommends_curfew
    return a


def test_checks_are_due_in_working_days(assessment, personas) -> None:
    address = assessment.addresses.get()
    check = services.ask(
        address, CheckKind.DOMESTIC_ABUSE, "Leicestershire Police MASH", MONDAY, personas["practitioner"]
    )
    assert check.due_on == date(2026, 12, 14)  # ten working days: two weekends skipped
    assert list(Check.objects.overdue(date(2026, 12, 15))) == [check]
    assert not Check.objects.overdue(date(2026, 12, 14)).exists()


def test_a_curfew_recommendation_cannot_be_submitted_without_both_checks(assessment, personas) -> None:
    alex = personas["practitioner"]
    with pytest.raises(services.NotAllowed) as refused:
        services.submit(assessment, alex)
    assert refused.value.reasons == [
        "Domestic-abuse check (police) for 14 Mill Lane (his mother's): not answered",
        "Safeguarding check (children's services) for 14 Mill Lane (his mother's): not answered",
    ]
    address = assessment.addresses.get()
    police = services.ask(address, CheckKind.DOMESTIC_ABUSE, "Police", MONDAY, alex)
    services.answer(police, CheckAnswer.NO_CONCERNS, MONDAY, "Nothing held at this address", alex)
    with pytest.raises(services.NotAllowed):
        services.submit(assessment, alex)
    children = services.ask(address, CheckKind.SAFEGUARDING, "Children's services", MONDAY, alex)
    services.answer(children, CheckAnswer.NO_CONCERNS, MONDAY, "No open cases", alex)
    services.submit(assessment, alex)
    assert assessment.status == AssessmentStatus.SUBMITTED
    assert assessment.versions.count() == 7  # started, recommended, 2 asked, 2 answered, submitted
    assert AuditEvent.objects.filter(summary__startswith="assessment:", person=assessment.person).count() == 6


def test_only_a_manager_can_let_it_go_ahead_without_the_checks_and_it_is_recorded(assessment, personas) -> None:
    with pytest.raises(services.NotAllowed, match="Only a manager"):
        services.override(assessment, personas["practitioner"], "Court sits tomorrow")
    services.override(assessment, personas["manager"], "Sentencing tomorrow; police check requested, not back")
    services.submit(assessment, personas["practitioner"])
    assert assessment.status == AssessmentStatus.SUBMITTED and assessment.overridden
    assert assessment.versions.filter(what__contains="without both checks").exists()
    assert AuditEvent.objects.filter(summary__contains="Checks waived by").exists()


def test_an_answer_is_recorded_once_and_a_victim_at_the_address_makes_it_unsuitable(assessment, personas) -> None:
    alex = personas["practitioner"]
    address = assessment.addresses.get()
    police = services.ask(address, CheckKind.DOMESTIC_ABUSE, "Police", MONDAY, alex)
    services.answer(police, CheckAnswer.CONCERNS, MONDAY, "Call-outs: he is also a victim here", alex, True)
    with pytest.raises(services.NotAllowed, match="already been answered"):
        services.answer(police, CheckAnswer.NO_CONCERNS, MONDAY, "", personas["other"])
    children = services.ask(address, CheckKind.SAFEGUARDING, "Children's services", MONDAY, alex)
    services.answer(children, CheckAnswer.NO_CONCERNS, MONDAY, "", alex)
    with pytest.raises(services.NotAllowed, match="may be at risk there; record the alternative accommodation"):
        services.submit(assessment, alex)


def test_a_decision_fits_the_proposal(assessment, personas) -> None:
    services.override(assessment, personas["manager"], "Court tomorrow")
    services.submit(assessment, personas["practitioner"])
    with pytest.raises(services.NotAllowed, match="not a decision on"):
        services.decide(assessment, Decision.RELEASED, MONDAY, personas["practitioner"])
    services.decide(assessment, Decision.IMPOSED, MONDAY, personas["practitioner"])
    assert (assessment.status, assessment.decision) == (AssessmentStatus.DECIDED, "imposed")


def test_the_person_page_shows_assessments_and_overdue_checks(assessment, personas) -> None:
    from django.urls import reverse

    from tests.helpers import client_for

    address = assessment.addresses.get()
    services.ask(address, CheckKind.DOMESTIC_ABUSE, "Leicestershire Police", date(2026, 1, 5), personas["practitioner"])
    page = client_for(personas["practitioner"]).get(reverse("portal:person", args=[assessment.person.pk]))
    text = page.content.decode()
    assert "Court report: community order" in text and "14 Mill Lane (his mother&#x27;s)" in text
    assert "overdue since 19 Jan" in text and "Safeguarding" not in text
    other = client_for(personas["other"]).get(reverse("portal:person", args=[assessment.person.pk]))
    assert other.status_code == 404


def test_a_practitioner_takes_a_proposal_through_the_pages_to_an_order(case, personas) -> None:
    """New assessment, address proposed and concluded, the victim's home recorded (the distance is shown),
    each suggestion accepted or rejected with the rationale, refused without the checks, checks asked and
    answered, submitted, decided, the report downloaded and the order made from it with the conditions
    recommended: every step a POST on the assessment's page."""
    from django.urls import reverse

    from openem.cases.models import Order
    from tests.helpers import client_for

    alex = client_for(personas["practitioner"])
    r = alex.post(
        reverse("assessments:create", args=[case.pk]),
        {"proposal": "community_order", "offence": "Assault on a partner", "offending_times": "22:00-02:00",
         "victim_to_protect": "on"},
    )  # fmt: skip
    assessment = Assessment.objects.get(person=case)
    assert r.status_code == 302 and r["Location"] == reverse("assessments:detail", args=[assessment.pk])
    assert assessment.offending_times == [
        {"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "start": "22:00", "end": "02:00"}
    ]
    page = reverse("assessments:detail", args=[assessment.pk])

    def post(action: str, **data: str) -> str:
        fields = {f"{action}-{k}" if k not in ("address", "check") else k: v for k, v in data.items()}
        return alex.post(page, {"action": action, **fields}, follow=True).content.decode()

    post("address", label="14 Mill Lane", lat="52.6702", lon="-0.7321", occupier_consents="yes", electricity="yes",
         home_visit_on="1/12/2026")  # fmt: skip
    address = assessment.addresses.get()
    post("occupant", address=str(address.pk), name="Jo Smith", relationship="Mother", age="58")
    post("conclude", address=str(address.pk), suitability="suitable")
    # The exclusion zone on his current order protects the victim's street: 579 m from the address.
    text = post("victim_place", kind="home", description="The victim's home (Ms A)", lat="52.6560", lon="-0.7330")
    assert "579 m from exclusion zone Victim&#x27;s street on order O0001: under the 1,000 m warning" in text
    assert "1,581 m from The victim&#x27;s home (Ms A)" in text  # the description as typed
    # Every suggestion must be answered; a rejection needs its reason.
    assert "OpenEM suggests RF curfew: accept, change or reject it" in text
    text = post("recommend", resp_curfew_rf="accepted", resp_exclusion_zone_gps="accepted",
                resp_trail_gps="rejected", curfew_times="19:00-07:00", rationale="Evenings at home.")  # fmt: skip
    assert "Say why it is rejected" in text
    text = post("recommend", resp_curfew_rf="accepted", resp_exclusion_zone_gps="accepted",
                resp_trail_gps="rejected", why_trail_gps="Not needed", curfew_times="19:00-07:00",
                rationale="Evenings at home.")  # fmt: skip
    # The exclusion zone is monitored by GPS location monitoring: rejecting it leaves the zone ineligible.
    assert "GPS exclusion zone is not eligible" in text
    text = post("recommend", resp_curfew_rf="accepted", resp_exclusion_zone_gps="accepted",
                resp_trail_gps="accepted", curfew_times="19:00-07:00",
                rationale="Evenings at home, and kept out of the victim's area.")  # fmt: skip
    assessment.refresh_from_db()
    assert assessment.chosen() == ["curfew:rf", "exclusion_zone:gps", "trail:gps"] and assessment.recommends_curfew
    assert "Recommended: <strong>RF curfew; GPS exclusion zone; GPS location monitoring (trail)</strong>" in text
    text = post("submit")
    assert "Domestic-abuse check (police) for 14 Mill Lane: not answered" in text
    assessment.refresh_from_db()
    assert assessment.status == AssessmentStatus.DRAFT
    for kind in ("domestic_abuse", "safeguarding"):
        post("ask", address=str(address.pk), kind=kind, asked_whom="Duty desk", asked_on="30/11/2026")
    for check in address.checks.all():
        post("answer", check=str(check.pk), answer="no_concerns", answered_on="1/12/2026", said="Nothing held")
    text = post("submit")
    assessment.refresh_from_db()
    assert assessment.status == AssessmentStatus.SUBMITTED, text
    pdf = alex.get(reverse("assessments:report", args=[assessment.pk]))
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    post("decide", decision="imposed", decided_on="2/12/2026")
    assessment.refresh_from_db()
    assert assessment.decision == "imposed"
    history = alex.get(page).content.decode()
    assert "Submitted" in history and "Decided: Imposed on 02/12/2026" in history
    assert "Recommendation: RF curfew accepted; GPS exclusion zone accepted; GPS location monitoring" in history

    # The order form lists the conditions recommended, ticked; the order is made with them.
    url = reverse("portal:order-create", args=[case.pk])
    form = alex.get(url, {"assessment": assessment.pk}).content.decode()
    assert "RF curfew at 14 Mill Lane, 19:00 to 07:00" in form
    assert "GPS exclusion zone: 1 zone around the victim (GPS-monitored, hidden from the person's own map)" in form
    r = alex.post(url, {"assessment": assessment.pk, "ref": "O0002-P0001", "type": "community_order",
                        "start": "02/12/2026", "end": "01/12/2027", "reason": "Imposed at court",
                        "take": ["0", "1", "2"]})  # fmt: skip
    assert r.status_code == 302, r.content.decode()[:3000]
    order = Order.objects.get(ref="O0002-P0001")
    conditions = {c.ref: c for c in order.live_conditions()}
    assert [c.type for c in conditions.values()] == ["curfew", "exclusion_zone", "trail"]
    curfew, zone = conditions["C1"].spec, conditions["C2"].spec
    assert curfew["address"]["lat"] == 52.6702 and curfew["windows"][0]["start"] == "19:00"
    assert zone["monitored"] and zone["victim_sensitive"] and zone["area"]["radius_m"] == 500
    assessment.refresh_from_db()
    assert assessment.order == order

    # A manager of another team cannot see it; only a manager may waive the checks.
    assert client_for(personas["other_manager"]).get(page).status_code == 404
    assert alex.post(page, {"action": "override", "override-reason": "x"}).status_code == 403


def test_a_suggestion_changed_to_another_technology_needs_the_reason(case, personas) -> None:
    """Alcohol abstinence suggested; the practitioner changes it to alcohol level monitoring, with why."""
    from django.urls import reverse

    from tests.helpers import client_for

    alex = client_for(personas["practitioner"])
    a = services.start(case, ProposalType.COMMUNITY_ORDER, "Drink driving", personas["practitioner"])
    Assessment.objects.filter(pk=a.pk).update(alcohol_link=True, audit_score=12)
    page = reverse("assessments:detail", args=[a.pk])
    base = {"action": "recommend", "recommend-resp_trail_gps": "rejected", "recommend-why_trail_gps": "Not needed",
            "recommend-rationale": "Sobriety supports his desistance."}  # fmt: skip
    text = alex.post(page, {**base, "recommend-resp_alcohol_alcohol_abstinence": "changed"}).content.decode()
    assert "Choose what to recommend instead" in text and "Say why it is changed" in text
    alex.post(page, {**base, "recommend-resp_alcohol_alcohol_abstinence": "changed",
                     "recommend-to_alcohol_alcohol_abstinence": "alcohol:alcohol:level",
                     "recommend-why_alcohol_alcohol_abstinence": "He works with a licensed trade"})  # fmt: skip
    a.refresh_from_db()
    assert a.chosen() == ["alcohol:alcohol:level"]
    assert a.response_to("alcohol:alcohol:abstinence")["why"] == "He works with a licensed trade"


def test_a_requirement_the_rules_refuse_cannot_be_recommended(case, personas) -> None:
    """A dependent drinker: alcohol monitoring is refused, so adding it is refused with the rule's reason
    and nothing is saved."""
    from django.urls import reverse

    from tests.helpers import client_for

    a = services.start(case, ProposalType.COMMUNITY_ORDER, "Assault", personas["practitioner"])
    Assessment.objects.filter(pk=a.pk).update(alcohol_link=False, alcohol_dependent=True)
    page = reverse("assessments:detail", args=[a.pk])
    alex = client_for(personas["practitioner"])
    shown = alex.get(page).content.decode()
    assert 'value="alcohol:alcohol:level"' not in shown  # not offered: the rules refuse it
    assert "Alcohol level monitoring</strong>: " in shown  # and the reason is given under "Not eligible"
    r = alex.post(page, {
        "action": "recommend", "recommend-resp_trail_gps": "accepted", "recommend-add": "alcohol:alcohol:level",
        "recommend-rationale": "x",
    })  # fmt: skip
    assert r.status_code == 400  # a hand-made request for it is refused too
    assert "alcohol:alcohol:level is not one of the available choices" in r.content.decode()
    a.refresh_from_db()
    assert a.responses == []


def test_a_curfew_at_an_address_never_assessed_or_found_unsuitable_is_flagged(assessment, personas) -> None:
    """Only the mother's address was proposed and checked; the order's curfew is at the partner's: flagged
    on the order (and so on the person page and My cases). Once the curfew's address is the assessed one
    but found not suitable, that is flagged instead."""
    from django.urls import reverse

    from tests.helpers import client_for

    order = assessment.person.orders.get()
    assert not [f for f in order.findings() if "not assessed" in f.message]  # no location: nothing to compare
    ProposedAddress.objects.filter(assessment=assessment).update(lat=52.70, lon=-0.70)  # a few km away
    flagged = [f.message for f in order.findings() if "curfew C1" in f.message]
    assert flagged == [
        "the curfew C1 is at an address that was not assessed before the order (assessed: 14 Mill Lane (his "
        "mother's)): ask for the domestic-abuse and safeguarding checks for it and assess it"
    ]
    page = client_for(personas["practitioner"]).get(reverse("portal:order", args=[order.pk])).content.decode()
    assert "was not assessed before the order" in page
    ProposedAddress.objects.filter(assessment=assessment).update(
        lat=52.6702, lon=-0.7321, suitability="not_suitable", not_suitable_reason="children in the household"
    )
    assert [f.message for f in order.findings() if "curfew C1" in f.message] == [
        "the curfew C1 is at 14 Mill Lane (his mother's), which was found not suitable (children in the household)"
    ]
    ProposedAddress.objects.filter(assessment=assessment).update(suitability="suitable")
    assert not [f for f in order.findings() if "curfew C1" in f.message]


def test_the_timeline_includes_the_assessment(assessment, personas) -> None:
    from openem.portal.presenters import timeline

    services.override(assessment, personas["manager"], "Court sits tomorrow")
    titles = [(e["title"], e["detail"]) for e in timeline(assessment.person)]
    assert ("Assessment: Court report: community order", "Assessment started (Alex Okafor)") in titles
    assert any(d.startswith("Checks waived by") for _t, d in titles)


def test_the_page_shows_what_the_eligibility_rules_suggest_and_refuse(case, personas) -> None:
    """A burglar released on licence with a victim: a trail and an exclusion zone are suggested, each with
    its rule; a dependent drinker's alcohol monitoring is refused with the reason."""
    from django.urls import reverse

    from tests.helpers import client_for

    a = services.start(case, ProposalType.LICENCE, "Burglary of a dwelling", personas["practitioner"])
    Assessment.objects.filter(pk=a.pk).update(
        acquisitive=True, victim_to_protect=True, victim_location_recorded=True, alcohol_link=True,
        alcohol_dependent=True, audit_score=25,
    )  # fmt: skip
    page = client_for(personas["practitioner"]).get(reverse("assessments:detail", args=[a.pk])).content.decode()
    assert "What OpenEM suggests" in page
    assert "GPS location monitoring (trail)" in page and "GPS exclusion zone" in page
    assert "[ACQUISITIVE_TRAIL]" in page and "[VICTIM_EXCLUSION_ZONE]" in page
    assert "Not eligible" in page and "dependent" in page.lower()


def test_the_report_section_is_a_pdf_with_the_checks_and_any_waiver(assessment, personas) -> None:
    import io

    from django.urls import reverse
    from pypdf import PdfReader

    from tests.helpers import client_for

    address = assessment.addresses.get()
    police = services.ask(address, CheckKind.DOMESTIC_ABUSE, "Leicestershire Police", MONDAY, personas["practitioner"])
    services.answer(police, CheckAnswer.NO_CONCERNS, MONDAY, "Nothing held", personas["practitioner"])
    services.override(assessment, personas["manager"], "Sentencing tomorrow; children's services not back")
    r = client_for(personas["practitioner"]).get(reverse("assessments:report", args=[assessment.pk]))
    assert r.status_code == 200 and r["Content-Type"] == "application/pdf"
    text = " ".join("".join(p.extract_text() for p in PdfReader(io.BytesIO(r.content)).pages).split())
    assert "Domestic-abuse check (police)" in text and "No concerns" in text and "30 Nov 2026" in text
    assert "No check was asked for" not in text
    assert "goes ahead without both checks answered" in text and "children's services not back" in text
    assert "keeps him away from the victim" in text
    assert AuditEvent.objects.filter(summary__contains="report section (PDF)").exists()


def test_the_order_is_made_from_the_decided_assessment(assessment, personas) -> None:
    """After the court imposed it: "Make the order from this assessment" opens the order form with the type
    and the decision's date; the order it makes is linked back, once."""
    from django.urls import reverse

    from tests.helpers import client_for

    services.override(assessment, personas["manager"], "Court tomorrow")
    services.submit(assessment, personas["practitioner"])
    services.decide(assessment, Decision.IMPOSED, MONDAY, personas["practitioner"])
    alex = client_for(personas["practitioner"])
    detail = alex.get(reverse("assessments:detail", args=[assessment.pk])).content.decode()
    assert "Make the order from this assessment" in detail
    url = reverse("portal:order-create", args=[assessment.person.pk])
    form = alex.get(url, {"assessment": assessment.pk}).content.decode()
    assert 'value="30/11/2026"' in form and "Made from the assessment of" in form
    r = alex.post(url, {"assessment": assessment.pk, "ref": "O0002-P0001", "type": "community_order",
                        "start": "30/11/2026", "end": "29/11/2027", "reason": "Imposed at court"})  # fmt: skip
    assert r.status_code == 302, r.content.decode()[:2000]
    assessment.refresh_from_db()
    assert assessment.order is not None and assessment.order.ref == "O0002-P0001"
    assert not assessment.can_make_order
    assert (
        "The order made from it: O0002-P0001"
        in alex.get(reverse("assessments:detail", args=[assessment.pk])).content.decode()
    )


def test_the_curfew_proposed_is_shown_against_the_times_of_the_offending(case, personas) -> None:
    """Offending late at night (22:00-02:00); a curfew from 23:00 to 07:00 leaves 22:00-23:00 every day."""
    from django.urls import reverse

    from tests.helpers import client_for

    alex = client_for(personas["practitioner"])
    start = {"proposal": "community_order", "offence": "Criminal damage", "offending_times": "22:00-02:00"}
    alex.post(reverse("assessments:create", args=[case.pk]), start)
    a = Assessment.objects.get(person=case)
    page = reverse("assessments:detail", args=[a.pk])
    recommend = {"recommend-resp_trail_gps": "rejected", "recommend-why_trail_gps": "A curfew is enough",
                 "recommend-curfew_times": "23:00-07:00"}  # fmt: skip
    alex.post(page, {"action": "recommend", **recommend, "recommend-rationale": "Nights at home"})
    a.refresh_from_db()
    assert a.coverage().percent == 75
    text = alex.get(page).content.decode()
    assert "The curfew proposed covers 75% of the times of the offending; not covered: Monday 22:00 to 23:00" in text
    a.proposed_curfew_windows = [{"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "start": "21:00",
                                  "end": "07:00"}]  # fmt: skip
    assert a.coverage_text() == "The curfew proposed covers all the times of the offending."


def test_the_api_gives_the_assessments_read_only(assessment, personas) -> None:
    from django.test import Client

    from openem.accounts.models import ApiToken

    address = assessment.addresses.get()
    services.ask(address, CheckKind.DOMESTIC_ABUSE, "Police", MONDAY, personas["practitioner"])
    _t, token = ApiToken.issue(personas["practitioner"], "test")
    api = Client(HTTP_AUTHORIZATION=f"Token {token}")
    got = api.get(f"/api/v1/people/{assessment.person.ref}/assessments").json()["assessments"]
    assert got[0]["proposal"] == "community_order" and got[0]["status"] == "draft"
    assert got[0]["addresses"][0]["checks"][0] == {
        "kind": "domestic_abuse", "asked_of": "Police", "asked_on": "2026-11-30", "due_on": "2026-12-14",
        "answer": None, "answered_on": None,
    }  # fmt: skip
    assert api.post(f"/api/v1/people/{assessment.person.ref}/assessments").status_code == 405


def test_an_order_is_made_from_an_assessment_once_even_by_two_at_once(assessment, personas) -> None:
    """A second "Make order" (a double click, or the manager at the same moment) makes no second order:
    the one that loses the race is undone and told which order was made; a later visit is told too."""
    from django.urls import reverse

    from openem.cases.models import Order
    from openem.portal.orders import _AlreadyMade, _assessment_to_make, _save_from
    from tests.helpers import client_for

    services.override(assessment, personas["manager"], "Court tomorrow")
    services.submit(assessment, personas["practitioner"])
    services.decide(assessment, Decision.IMPOSED, MONDAY, personas["practitioner"])
    person = assessment.person
    alex = client_for(personas["practitioner"])
    url = reverse("portal:order-create", args=[person.pk])
    form = {"assessment": assessment.pk, "type": "community_order", "start": "30/11/2026", "end": "29/11/2027",
            "reason": "Imposed at court"}  # fmt: skip
    # Both requests found the assessment free; the first links its order before the second saves.
    source, _ = _assessment_to_make(person, str(assessment.pk))
    assert alex.post(url, {**form, "ref": "FIRST"}).status_code == 302
    before = Order.objects.count()
    spec = Order.objects.get(ref="FIRST").to_spec()
    with pytest.raises(_AlreadyMade, match=r"An order \(FIRST\) has already been made from this assessment"):
        _save_from(person, spec.__class__(id="SECOND", type=spec.type, start=spec.start, end=spec.end),
                   personas["manager"], "Imposed at court", source)  # fmt: skip
    assert Order.objects.count() == before  # the losing order was undone
    # Sending the form again later is refused with the same words, and no plain order is made.
    again = alex.post(url, {**form, "ref": "AFTER"})
    assert again.status_code == 200 and "An order (FIRST) has already been made" in again.content.decode()
    assert not Order.objects.filter(ref="AFTER").exists()
    assert "An order (FIRST) has already been made" in alex.get(url, {"assessment": assessment.pk}).content.decode()


@pytest.mark.parametrize("bad", ["abc", "", "1.5", "²", "9" * 5000])
def test_a_hand_made_id_is_not_found_never_a_server_error(assessment, personas, bad) -> None:
    from django.urls import reverse

    from tests.helpers import client_for

    alex = client_for(personas["practitioner"])
    page = reverse("assessments:detail", args=[assessment.pk])
    assert alex.post(page, {"action": "occupant", "address": bad, "occupant-name": "A", "occupant-relationship": "B"}
                     ).status_code == 404  # fmt: skip
    assert alex.post(page, {"action": "answer", "check": bad, "answer-answer": "no_concerns",
                            "answer-answered_on": "1/12/2026"}).status_code == 404  # fmt: skip
    url = reverse("portal:order-create", args=[assessment.person.pk])
    assert alex.get(url, {"assessment": bad}).status_code == 200
    assert alex.post(url, {"assessment": bad, "take": bad, "ref": "X"}).status_code == 200  # the form, with its errors


def test_a_rationale_of_invisible_characters_is_not_written(case, personas) -> None:
    """A non-breaking and a zero-width space pass `strip()`; they are not how monitoring supports anything."""
    from django.urls import reverse

    from tests.helpers import client_for

    a = services.start(case, ProposalType.COMMUNITY_ORDER, "Assault", personas["practitioner"])
    page = reverse("assessments:detail", args=[a.pk])
    r = client_for(personas["practitioner"]).post(page, {
        "action": "recommend", "recommend-resp_trail_gps": "accepted", "recommend-rationale": "\u00a0\u200b",
    })  # fmt: skip
    assert r.status_code == 400 and "Write how monitoring will support risk management" in r.content.decode()
    Assessment.objects.filter(pk=a.pk).update(
        responses=[{"candidate": "trail:gps", "response": "accepted", "to": "", "why": ""}],
        recommends_curfew=True, rationale="\u200b",
    )  # fmt: skip
    with pytest.raises(services.NotAllowed, match="Write how monitoring will support"):
        services.submit(a, personas["practitioner"])
