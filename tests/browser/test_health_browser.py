"""An operator opens the monitoring centre while an engine shard is down and one person's evaluation has
failed: a red banner says what is degraded and since when, the operational alert names the person, its
traceback opens for operators, and marking it resolved removes it. A practitioner is told evaluation is late."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from openem.health.faults import raise_fault
from openem.health.models import Component, FaultKind, Heartbeat

from .conftest import shot
from .test_portal_browser import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SHOTS = Path(os.environ.get("OPENEM_HEALTH_SHOTS", "/tmp"))


def heartbeat(name: str, component: Component, ago: float, lag_s: float | None = None) -> None:
    now = timezone.now()
    Heartbeat.objects.create(
        name=name, component=component.value, host="em-app-1", pid=100, started_at=now - timedelta(hours=2),
        beat_at=now - timedelta(seconds=ago), lag_s=lag_s, backlog=0,
    )  # fmt: skip


def test_the_centre_shows_what_is_degraded_and_an_operator_resolves_an_alert(page, live_server, personas, case):
    heartbeat("engine shard 1 of 2", Component.ENGINE, 2, lag_s=4)
    heartbeat("engine shard 2 of 2", Component.ENGINE, 17 * 60)
    heartbeat("alerts", Component.ALERTS, 3)
    try:
        {}["curfew-C1"]
    except KeyError as exc:
        raise_fault(
            FaultKind.EVALUATION_FAILED, "RF-0001", "The curfew rule failed for RF-0001: Sam Example is not evaluated",
            component=Component.ENGINE, device="RF-0001", person=case, rule="C1", exc=exc,
        )  # fmt: skip
    sign_in(page, live_server, "omar.operator")
    page.wait_for_selector("h1")
    page.goto(f"{live_server.url}/centre/")
    banner = page.locator("#service-status")
    assert banner.is_visible()
    assert "Monitoring is degraded" in banner.inner_text()
    assert "Engine shard 2 of 2 is down since" in banner.inner_text()
    row = page.locator(".app-faults tbody tr").first
    assert "Sam Example" in row.inner_text() and "Device RF-0001" in row.inner_text()
    assert not page.locator(".app-traceback").is_visible()
    page.click("text=Details for operators")
    assert "KeyError: 'curfew-C1'" in page.locator(".app-traceback").inner_text()
    page.screenshot(path=str(SHOTS / "openem-health-centre.png"), full_page=True)
    shot(page, "health-centre")
    page.fill("#operational-alerts ~ table input[name=note]", "Rule fixed and redeployed")
    page.click("button:has-text('Mark resolved')")
    page.wait_for_selector("text=Marked resolved")
    assert page.locator(".app-faults").count() == 0
    assert page.js_errors == []


def test_a_practitioner_is_told_evaluation_is_late(page, live_server, personas, case):
    heartbeat("engine", Component.ENGINE, 2, lag_s=12 * 60)
    heartbeat("alerts", Component.ALERTS, 2)
    sign_in(page, live_server)
    page.wait_for_selector("h1:has-text('My cases')")
    notice = page.locator("#service-notice")
    assert "Device data is being evaluated 12 minutes late: statuses may be out of date" in notice.inner_text()
    page.screenshot(path=str(SHOTS / "openem-health-my-cases.png"), full_page=False)
    assert page.js_errors == []
