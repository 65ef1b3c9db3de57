"""A practitioner signs in, finds a person and sees their exclusion zone on the map."""

from __future__ import annotations

import pytest

from .conftest import shot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def sign_in(page, live_server, username="alex.practitioner"):
    page.goto(f"{live_server.url}/")
    assert page.title().startswith("Sign in")
    page.fill("#id_username", username)
    page.fill("#id_password", "pw")
    shot(page, "01-sign-in")
    page.click("button[type=submit]")


def test_sign_in_open_a_person_and_see_the_zone_on_the_map(page, live_server, personas, case):
    sign_in(page, live_server)
    page.wait_for_selector("h1:has-text('My cases')")
    shot(page, "02-my-cases")
    page.click("text=Sam Example")
    page.wait_for_selector(".app-map--ready")
    shot(page, "03-person")
    # Curfew address, exclusion zone, inclusion zone and appointment place are drawn.
    assert page.get_attribute("#map", "data-layer-count") == "4"
    zone = page.locator(".leaflet-overlay-pane path[stroke='#d4351c']")
    assert zone.count() == 1
    box = zone.bounding_box()
    assert box["width"] > 20 and box["height"] > 20, "the exclusion zone is visible, not a speck"
    assert page.js_errors == []


def test_vary_a_curfew_in_the_browser(page, live_server, personas, case):
    sign_in(page, live_server)
    page.goto(f"{live_server.url}/orders/{case.orders.get().pk}/")
    page.click("#condition-C1 >> text=Vary")
    page.fill("#id_w0_start", "21:00")
    page.fill("#id_reason", "Varied by the court on 20 November")
    shot(page, "04-vary-curfew")
    page.click("button:has-text('Save variation')")
    page.wait_for_selector("text=Curfew C1 varied (order version 2).")
    shot(page, "05-order")
    assert "21:00 to 07:00" in page.inner_text("#condition-C1")
    assert page.js_errors == []


def test_see_a_trail_and_play_it_back(page, live_server, personas, case):
    import json
    from datetime import UTC, datetime, timedelta

    from openem.telemetry.ingest import ingest_jsonl

    t0 = datetime(2026, 11, 10, 9, 0, tzinfo=UTC)
    ingest_jsonl(
        "\n".join(
            json.dumps(
                {
                    "device": "GPS-0001",
                    "time": (t0 + timedelta(minutes=i)).isoformat().replace("+00:00", "Z"),
                    "type": "fix",
                    "lat": 52.6702 + i * 0.0003,
                    "lon": -0.7321 - (i % 20) * 0.0002,
                    "accuracy_m": 8,
                }
            )
            for i in range(90)
        )
    )
    sign_in(page, live_server)
    page.goto(f"{live_server.url}/people/{case.pk}/")
    page.click("text=See the trail")
    page.fill("#id_start", "2026-11-10T08:00")
    page.fill("#id_end", "2026-11-10T12:00")
    page.check("input[name=reason][value=supervision]")
    page.click("button:has-text('Show the trail')")
    page.wait_for_selector("#trail-map[data-trail-points='90']")
    assert page.locator("path.app-trail-line").count() == 1
    page.fill("#trail-slider", "10")
    page.dispatch_event("#trail-slider", "input")
    assert "Tue 10 Nov" in page.inner_text("#trail-time")
    shot(page, "06-trail")
    assert page.js_errors == []
