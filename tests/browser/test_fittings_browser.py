"""An operator records a device swap from the person page: the old tag off and the new one on at one visit."""

from __future__ import annotations

import json
from datetime import UTC, timedelta

import pytest
from django.utils import timezone

from openem.devices.models import Device, Fitting
from openem.telemetry.ingest import ingest_jsonl

from .conftest import shot
from .test_portal_browser import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_record_a_swap_from_the_person_page(page, live_server, personas, case):
    Device.objects.create(ref="GPS-0002", kind="gps")
    now = timezone.now()
    ingest_jsonl(
        "\n".join(
            json.dumps({"device": d, "time": (now - timedelta(minutes=m)).astimezone(UTC).isoformat(), "type": "power",
                        "battery_pct": pct, "charging": False})
            for d, m, pct in (("GPS-0001", 95, 9), ("GPS-0002", 3, 100), ("RF-0001", 4, 76))
        )
    )  # fmt: skip
    sign_in(page, live_server, "omar.operator")
    page.goto(f"{live_server.url}/people/{case.pk}/")
    page.wait_for_selector("h2:has-text('Devices')")
    shot(page, "fitting-01-person-before")
    devices = page.inner_text(".app-fittings")
    assert "Battery 9%" in devices and "1 hour 35 minutes ago" in devices
    page.click("a:has-text('Swap GPS-0001')")
    page.wait_for_selector("h1:has-text('Swap GPS tag GPS-0001')")
    page.fill("#id_device", "GPS-0002")
    later = timezone.localtime(now + timedelta(hours=2))
    page.fill("#id_date", f"{later:%Y-%m-%d}")
    page.fill("#id_time", f"{later:%H:%M}")
    page.fill("#id_reason", "Battery no longer holds a charge")
    page.click("button:has-text('Record the swap')")
    page.wait_for_selector(".govuk-error-summary")
    assert "is in the future: enter when the visit happened" in page.inner_text(".govuk-error-summary")
    shot(page, "fitting-02a-swap-refused")
    page.fill("#id_date", f"{timezone.localtime(now):%Y-%m-%d}")
    page.fill("#id_time", f"{timezone.localtime(now):%H:%M}")
    page.fill("#id_reason", "Battery no longer holds a charge")
    page.check("#id_faulty")
    page.fill("#id_fitted_by", "Field officer Fay")
    shot(page, "fitting-02-swap-form")
    page.click("button:has-text('Record the swap')")
    page.wait_for_selector("text=GPS-0001 swapped for GPS-0002 on Sam Example")
    shot(page, "fitting-03-person-after")
    old = Fitting.objects.get(device__ref="GPS-0001")
    new = Fitting.objects.get(device__ref="GPS-0002")
    assert old.removed_at == new.fitted_at and new.fitted_by == "Field officer Fay"
    assert Device.objects.get(ref="GPS-0001").faulty
    devices = page.inner_text(".app-fittings")
    assert "Battery 100%" in devices and "Swapped for GPS-0002: Battery no longer holds a charge" in devices
    page.goto(f"{live_server.url}/devices/")
    page.wait_for_selector("h1:has-text('Devices')")
    shot(page, "fitting-04-device-list")
    assert "Battery 100%" in page.inner_text("table")
    assert page.js_errors == []
