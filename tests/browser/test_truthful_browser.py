"""What the portal shows is true, in a browser (issue 16): a breach that ended minutes ago is not
"Compliant"; a second curfew making 21 hours a day is refused; the evidence pack shows the terms of the
night, after the order was varied; absences say what kind and how long; the alcohol chart reads."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone
from pypdf import PdfReader

from openem.alerts.models import Violation
from openem.devices.models import Device, Fitting
from openem.telemetry.ingest import ingest_jsonl

from .conftest import shot
from .test_portal_browser import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_breach_minutes_ago_is_not_compliant_on_my_cases(page, live_server, personas, case):
    tag = Device.objects.create(ref="ALC-0001", kind="alcohol")
    Fitting.objects.create(device=tag, person=case, fitted_at=timezone.now() - timedelta(days=20))
    start = timezone.now() - timedelta(minutes=9)
    Violation.objects.create(
        key="ez", person=case, order_ref="O0001", condition_ref="C2", device="GPS-0001",
        type="exclusion_zone_entry", category="behaviour", start=start, end=start + timedelta(minutes=3),
    )  # fmt: skip
    sign_in(page, live_server)
    page.wait_for_selector("h1:has-text('My cases')")
    row = page.locator("tr", has_text="Sam Example")
    assert "Breach not acknowledged" in row.inner_text()
    assert f"Exclusion zone entry {timezone.localtime(start):%H:%M}, not acknowledged" in row.inner_text()
    assert "Compliant" not in row.inner_text()
    shot(page, "truth-01-my-cases-breach")


def test_a_second_curfew_making_21_hours_a_day_is_refused(page, live_server, personas, case):
    order = case.orders.get()
    sign_in(page, live_server)
    page.wait_for_selector("h1")
    page.goto(f"{live_server.url}/orders/{order.pk}/conditions/new/curfew/")
    page.fill("input[name=address_label]", "12 Station Road")
    page.fill("input[name=lat]", "52.6702")
    page.fill("input[name=lon]", "-0.7321")
    page.fill("input[name=radius_m]", "30")
    for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun"):
        page.check(f"input[name=w0_days][value={day}]")
    page.fill("input[name=w0_start]", "07:00")
    page.fill("input[name=w0_end]", "16:00")
    page.fill("textarea[name=reason], input[name=reason]", "Court added a daytime curfew")
    page.locator("form button[type=submit]").last.click()
    summary = page.locator(".govuk-error-summary")
    summary.wait_for()
    assert "Curfews C1 and C7 together: 21 hours of curfew from 19:00 every day" in summary.inner_text()
    assert order.conditions.filter(type="curfew", removed_in_version__isnull=True).count() == 1
    shot(page, "truth-02-curfews-together-refused")


def test_the_evidence_pack_shows_the_terms_of_that_night_after_a_variation(page, live_server, personas, incident):
    from openem.cases.services import save_order

    order = incident.person.orders.get()
    spec = order.to_spec()
    curfew = next(c for c in spec.conditions if c.id == "C1")
    curfew.windows = (curfew.windows[0].__class__(curfew.windows[0].days, 21 * 60, 6 * 60),)
    save_order(incident.person, spec, personas["practitioner"], "Varied at court", order=order)
    sign_in(page, live_server)
    page.wait_for_selector("h1")
    page.goto(f"{live_server.url}/alerts/{incident.pk}/")
    shot(page, "truth-03-incident")
    with page.expect_download() as download:
        page.get_by_role("link", name="evidence pack").first.click()
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(download.value.path().read_bytes())).pages)
    assert "19:00" in text and "21:00" not in text


def test_absences_and_the_alcohol_chart_on_the_person_page(page, live_server, personas, incident):
    tag = Device.objects.get(ref="ALC-0001")
    t0 = datetime(2026, 11, 8, 0, 0, tzinfo=UTC)
    ingest_jsonl(
        "\n".join(
            json.dumps({"device": tag.ref, "time": (t0 + timedelta(minutes=30 * k)).isoformat().replace("+00:00", "Z"),
                        "type": "alcohol", "tac_g_dl": 0.0})
            for k in range(3 * 48)
        )
    )  # fmt: skip
    sign_in(page, live_server)
    page.wait_for_selector("h1")
    page.goto(f"{live_server.url}/people/{incident.person.pk}/")
    violations = page.locator("table.app-violations")
    assert "left during the curfew, not back yet" in violations.inner_text()
    assert "ongoing" in violations.inner_text()
    chart = page.locator("figure.app-chart")
    assert chart.locator(".app-chart__day--sober").count() >= 2
    shot(page, "truth-04-person")
