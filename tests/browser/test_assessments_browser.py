"""An assessment in a browser: start one from the person page, propose the address, ask for both checks;
submitting before they are answered is refused with the reasons (issue 17)."""

from __future__ import annotations

import pytest

from openem.assessments.models import Assessment, AssessmentStatus

from .conftest import shot
from .test_portal_browser import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_start_an_assessment_propose_an_address_and_be_refused_without_the_checks(page, live_server, personas, case):
    sign_in(page, live_server)
    page.wait_for_selector("h1")
    page.goto(f"{live_server.url}/people/{case.pk}/")
    page.get_by_role("link", name="Assess a proposal").click()
    page.select_option("select[name=proposal]", "community_order")
    page.fill("textarea[name=offence]", "Assault on a partner")
    page.fill("input[name=offending_times]", "22:00-02:00")
    page.get_by_role("button", name="Start the assessment").click()
    page.wait_for_selector("h1:has-text('Court report')")
    page.fill("input[name=address-label]", "14 Mill Lane")
    page.get_by_role("button", name="Propose the address").click()
    page.wait_for_selector("h3:has-text('14 Mill Lane')")
    page.check("input[name=recommend-recommends_curfew]")
    page.fill("textarea[name=recommend-rationale]", "Evenings at his mother's, away from the victim's street.")
    page.get_by_role("button", name="Save the recommendation").click()
    page.get_by_role("button", name="Submit to the court").click()
    assert page.get_by_text("Domestic-abuse check (police) for 14 Mill Lane: not answered").first.is_visible()
    assert Assessment.objects.get().status == AssessmentStatus.DRAFT
    page.locator("summary:has-text('Ask for a check')").click()
    page.fill("input[name=ask-asked_whom]", "Leicestershire Police MASH")
    page.get_by_role("button", name="Ask", exact=True).click()
    page.wait_for_selector("text=asked of Leicestershire Police MASH")
    shot(page, "assessment-01")


def test_the_suggestions_read_clearly(page, live_server, personas, case):
    from openem.assessments import services
    from openem.assessments.models import ProposalType

    a = services.start(case, ProposalType.LICENCE, "Burglary of a dwelling", personas["practitioner"])
    Assessment.objects.filter(pk=a.pk).update(
        acquisitive=True, victim_to_protect=True, victim_location_recorded=True, alcohol_link=True,
        alcohol_dependent=True, audit_score=25,
    )  # fmt: skip
    sign_in(page, live_server)
    page.wait_for_selector("h1")
    page.goto(f"{live_server.url}/assessments/{a.pk}/")
    page.locator("summary:has-text('Not eligible')").click()
    assert page.get_by_text("What OpenEM suggests").is_visible()
    shot(page, "assessment-02-suggestions")
