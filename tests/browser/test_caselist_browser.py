"""An operator pages through every case, filtered and sorted, and through the centre's lists."""

from __future__ import annotations

import pytest

from openem.portal import paging
from tests.test_caselist_scale import grow

from .conftest import shot
from .test_portal_browser import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_page_through_the_cases_and_the_centre(page, live_server, personas, monkeypatch):
    monkeypatch.setattr(paging, "PER_PAGE", 20)
    grow(personas, 0, 130)
    sign_in(page, live_server, "omar.operator")
    page.goto(f"{live_server.url}/cases/")
    page.wait_for_selector("h1:has-text('All cases')")
    assert "130 people" in page.inner_text("h1")
    assert page.locator("tbody tr").count() == 20
    shot(page, "caselist-01-first-page")
    page.click(".govuk-pagination__next a")
    page.wait_for_selector(".govuk-pagination__item--current:has-text('2')")
    assert "Showing 21 to 40 of 130 people" in page.inner_text("main")

    # Sorted by status and filtered by order type: the pages keep both.
    page.select_option("#sort", "status")
    page.select_option("#type", "hdc")
    page.click("button:has-text('Apply')")
    page.wait_for_selector("select#sort >> option[value=status][selected]", state="attached")
    first = page.locator("tbody tr").first.inner_text()
    page.click(".govuk-pagination__item a[aria-label='Page 2']")
    page.wait_for_selector(".govuk-pagination__item--current:has-text('2')")
    assert "sort=status" in page.url and "type=hdc" in page.url and "page=2" in page.url
    assert page.locator("tbody tr").first.inner_text() != first
    shot(page, "caselist-02-sorted-filtered-page-2")

    monkeypatch.setattr(paging, "PER_PAGE", 3)  # a few to a page, to see the centre's lists paginated
    page.goto(f"{live_server.url}/centre/")
    page.wait_for_selector("h1:has-text('Monitoring centre')")
    page.click("#tags-not-fitted ~ nav .govuk-pagination__next a")
    page.wait_for_selector("#tags-not-fitted ~ nav .govuk-pagination__item--current:has-text('2')")
    assert "#tags-not-fitted" in page.url
    shot(page, "caselist-03-centre")
    assert page.js_errors == []
