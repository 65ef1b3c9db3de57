"""An operator adds a tag to stock, copies its key from the one page that shows it, then rotates it."""

from __future__ import annotations

import pytest

from openem.devices.models import Device, DeviceKey

from .conftest import shot
from .test_portal_browser import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_add_a_device_see_its_key_once_and_rotate_it(page, live_server, personas, case):
    sign_in(page, live_server, "omar.operator")
    page.click("nav >> text=Devices")
    page.wait_for_selector("h1:has-text('Devices')")
    shot(page, "devices-01-list")
    page.click("text=Add a device")
    page.fill("#id_ref", "GPS-0200")
    page.get_by_label("GPS", exact=True).check()
    shot(page, "devices-02-add")
    page.click("button:has-text('Add the device and issue its key')")
    page.wait_for_selector("#device-key")
    shot(page, "devices-03-key")
    key = page.inner_text("#device-key").strip()
    assert len(key) == 32
    assert f"/{key}" in page.inner_text("main")  # the server URL to set in Traccar Client
    page.click("text=Back to GPS-0200")
    page.wait_for_selector("h1:has-text('GPS-0200')")
    assert key not in page.content() and key[:6] in page.inner_text("main")
    page.fill("#id_reason", "Key read out over the phone to the wrong person")
    page.click("button:has-text('Issue a new key')")
    page.wait_for_selector("h1:has-text('New key for GPS-0200')")
    shot(page, "devices-04-rotated")
    new = page.inner_text("#device-key").strip()
    assert new != key and "The previous key no longer works" in page.inner_text("main")
    device = Device.objects.get(ref="GPS-0200")
    assert DeviceKey.objects.filter(device=device).count() == 2 and device.key.hint == new[:6]
    page.goto(f"{live_server.url}/devices/{device.pk}/")
    shot(page, "devices-05-detail")
    assert page.js_errors == []
