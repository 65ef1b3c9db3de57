"""An assessment in a browser, from proposal to order (issue 17's journey): start one from the person page,
propose and conclude on the address, record the victim's home, answer each suggestion with the rationale,
be refused without the checks, ask for and record both checks, submit, download the report, record the
court's decision and make the order with the conditions recommended. And the victim liaison officer's page."""

from __future__ import annotations

import pytest

from openem.assessments.models import Assessment, AssessmentStatus

from .conftest import shot
from .test_portal_browser import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _post_step(page, summary: str, fields: dict[str, str], button: str, card: str | None = None) -> None:
    """Open a step's details (within an address's card if given), fill it in and send it."""
    scope = page.locator(f"#{card}") if card else page
    scope.locator(f'summary:has-text("{summary}")').first.click()
    for selector, value in fields.items():
        scope.locator(selector).first.fill(value)
    scope.get_by_role("button", name=button, exact=True).first.click()
    page.wait_for_load_state()


def test_a_proposal_taken_from_assessment_to_order(page, live_server, personas, case):
    sign_in(page, live_server)
    page.wait_for_selector("h1")
    page.goto(f"{live_server.url}/people/{case.pk}/")
    page.get_by_role("link", name="Assess a proposal").click()
    page.select_option("select[name=proposal]", "community_order")
    page.fill("textarea[name=offence]", "Assault on a partner")
    page.fill("input[name=offending_times]", "22:00-02:00")
    page.check("input[name=victim_to_protect]")
    page.get_by_role("button", name="Start the assessment").click()
    page.wait_for_selector("h1:has-text('Court report')")
    page.fill("input[name=address-label]", "14 Mill Lane")
    page.fill("input[name=address-lat]", "52.6702")
    page.fill("input[name=address-lon]", "-0.7321")
    page.select_option("select[name=address-occupier_consents]", "yes")
    page.select_option("select[name=address-electricity]", "yes")
    page.get_by_role("button", name="Propose the address").click()
    page.wait_for_selector("h3:has-text('14 Mill Lane')")
    card = page.locator("[id^=address-]").first.get_attribute("id")
    page.locator(f"#{card} summary:has-text('Conclude on the address')").click()
    page.locator(f"#{card} input[name=conclude-suitability][value=suitable]").check()
    page.locator(f"#{card}").get_by_role("button", name="Record the conclusion").click()
    page.wait_for_selector("h3:has-text('14 Mill Lane') .govuk-tag:has-text('Suitable')")

    # The victim's home: the distance from the proposed address is shown, with the warning.
    page.locator('summary:has-text("Record the victim\'s home or another place")').click()
    page.locator("input[name=victim_place-kind][value=home]").check()
    page.fill("input[name=victim_place-description]", "The victim's home (Ms A)")
    page.fill("input[name=victim_place-lat]", "52.6560")
    page.fill("input[name=victim_place-lon]", "-0.7330")
    page.get_by_role("button", name="Record the place").click()
    near = "579 m from exclusion zone Victim's street on order O0001: under the 1,000 m warning"
    assert page.get_by_text(near).is_visible()

    # Each suggestion answered; the recommendation saved with its rationale.
    for key in ("curfew_rf", "exclusion_zone_gps", "trail_gps"):
        page.locator(f"input[name=recommend-resp_{key}][value=accepted]").check()
    page.fill("input[name=recommend-curfew_times]", "19:00-07:00")
    page.fill("textarea[name=recommend-rationale]", "Evenings at his mother's, and kept away from the victim's street.")
    shot(page, "assessment-01-suggestions")
    page.get_by_role("button", name="Save the recommendation").click()
    page.wait_for_selector("text=Recommendation saved.")
    page.get_by_role("button", name="Submit to the court").click()
    assert page.get_by_text("Domestic-abuse check (police) for 14 Mill Lane: not answered").first.is_visible()
    assert Assessment.objects.get().status == AssessmentStatus.DRAFT

    asked = (("domestic_abuse", "Leicestershire Police MASH"), ("safeguarding", "Rutland children's services"))
    for kind, whom in asked:
        page.locator(f"#{card} summary:has-text('Ask for a check')").click()
        page.locator(f"#{card} select[name=ask-kind]").select_option(kind)
        page.locator(f"#{card} input[name=ask-asked_whom]").fill(whom)
        page.locator(f"#{card}").get_by_role("button", name="Ask", exact=True).click()
        page.wait_for_selector(f"text=asked of {whom}")
    for _ in range(2):
        page.locator(f"#{card} summary:has-text('Record the answer')").first.click()
        form = page.locator(f"#{card} form:has(input[name=action][value=answer])").first
        form.locator("input[name=answer-answer][value=no_concerns]").check()
        form.locator("textarea[name=answer-said]").fill("Nothing held")
        form.get_by_role("button", name="Record the answer").click()
        page.wait_for_load_state()
    page.get_by_role("button", name="Submit to the court").click()
    page.wait_for_selector("h1 .govuk-tag:has-text('Submitted')")

    with page.expect_download() as got:
        page.get_by_role("link", name="Download the report section (PDF)").click()
    assert got.value.suggested_filename.endswith(".pdf")

    page.locator("input[name=decide-decision][value=imposed]").check()
    page.get_by_role("button", name="Record the decision").click()
    page.wait_for_selector("h1 .govuk-tag:has-text('Decided')")
    page.get_by_role("link", name="Make the order from this assessment").click()
    page.wait_for_selector("h2:has-text('Conditions recommended in the assessment')")
    assert page.locator("input[name=take]:checked").count() == 3
    page.fill("input[name=ref]", "O0002-P0001")
    page.fill("input[name=end]", "01/12/2027")
    shot(page, "assessment-02-order-from-it")
    page.get_by_role("button", name="Make order").click()
    page.wait_for_selector("text=made with 3 conditions from the assessment")
    shot(page, "assessment-03-the-order")
    assert Assessment.objects.get().order.ref == "O0002-P0001"
    assert not page.js_errors


def test_the_victim_liaison_officer_sees_the_victims_side(page, live_server, personas, case):
    from openem.assessments import services
    from openem.assessments.models import ProposalType, ProposedAddress

    a = services.start(case, ProposalType.HDC, "Assault on a former partner", personas["practitioner"])
    Assessment.objects.filter(pk=a.pk).update(victim_to_protect=True)
    ProposedAddress.objects.create(assessment=a, label="14 Mill Lane", lat=52.6702, lon=-0.7321)
    sign_in(page, live_server, "vera.liaison")
    page.wait_for_selector("h1:has-text('Victims')")
    page.get_by_role("link", name="Sam Example").click()
    page.wait_for_selector("h1:has-text('Protecting the victim')")
    page.fill("textarea[name=views-views]", "Ms A asks for an exclusion zone around her street and her work.")
    page.get_by_role("button", name="Save the victim's views").click()
    page.wait_for_selector("text=The victim's views are recorded")
    shot(page, "assessment-04-victim-liaison")
    assert "14 Mill Lane" not in page.content()
    assert not page.js_errors
