"""The Statistics pages in a browser: the national analyst signs in and lands on them, opens a measure,
splits it by ethnic group, reads the table beside its chart, and downloads the spreadsheet; a manager
sees their region; the practitioner records equality monitoring on a person."""

from __future__ import annotations

import pytest

from openem.reports.measures import Period
from openem.reports.models import EqualityRecord

from .conftest import shot
from .test_portal_browser import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def national(personas):
    from openem.reports.bench import generate
    from openem.reports.refresh import refresh

    q3 = Period.parse("2026Q3")
    generate(400, q3.last_day, seed=5)
    for p in q3.last(3):
        refresh(p)
    return personas


def test_the_analyst_reads_a_measure_by_ethnic_group_and_downloads_the_spreadsheet(page, live_server, national):
    sign_in(page, live_server, "nina.analyst")
    page.wait_for_selector("h1:has-text('Electronic monitoring statistics')")
    assert page.get_by_role("link", name="Statistics", exact=True).is_visible()
    shot(page, "mi-01-statistics")
    page.get_by_role("link", name="Behaviour violations per 1,000 device-days").click()
    page.select_option("#by", "ethnic_group_high")
    page.locator("form:has(#by) button").click()
    page.wait_for_selector("#breakdown-table")
    table = page.locator("#breakdown-table").inner_text()
    assert "White" in table and "(reference)" in table and "Relative rate index" in table
    assert page.locator("figure svg[role=img] > title").count() == 1
    assert page.locator("#region-table").is_visible() and page.locator("#trend-table").is_visible()
    shot(page, "mi-02-measure")
    with page.expect_download() as download:
        page.goto(f"{live_server.url}/statistics/")
        page.get_by_role("link", name="OpenDocument spreadsheet (with notes and definitions)").click()
    assert download.value.suggested_filename.endswith(".ods")
    assert not page.js_errors


def test_a_manager_sees_their_region(page, live_server, national):
    sign_in(page, live_server, "morgan.manager")
    page.wait_for_selector("h1")
    page.get_by_role("link", name="Statistics", exact=True).click()
    page.wait_for_selector("h1:has-text('Electronic monitoring statistics')")
    assert page.locator(".govuk-caption-l").inner_text() == "East Midlands"
    shot(page, "mi-03-manager")


def test_the_practitioner_records_equality_monitoring(page, live_server, personas, case):
    sign_in(page, live_server)
    page.wait_for_selector("h1")
    page.goto(f"{live_server.url}/people/{case.pk}/")
    page.get_by_role("link", name="Record the answers").click()
    page.select_option("#ethnic_group", "white_gypsy_traveller")
    page.select_option("#sexual_orientation", "prefer_not_to_say")
    shot(page, "mi-04-equality-form")
    page.get_by_role("button", name="Save").click()
    page.wait_for_selector("text=Equality monitoring saved.")
    assert "Recorded by Alex Okafor" in page.locator(".app-equality-summary").inner_text()
    shot(page, "mi-05-person-after")
    record = EqualityRecord.objects.get(person=case)
    assert (record.ethnic_group, record.sexual_orientation, record.religion) == (
        "white_gypsy_traveller", "prefer_not_to_say", "",
    )  # fmt: skip
