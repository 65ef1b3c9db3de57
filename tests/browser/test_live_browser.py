"""Live pages in a browser: a breach arriving while My cases is open changes the row within seconds, with the
filters and the scroll as they were; the centre announces a new critical incident (and beeps when asked to)
without losing a note being typed; one click acknowledges from the Alerts queue; a page left polling past
the idle timeout goes to the sign-in page."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.utils import timezone
from playwright.sync_api import expect

from openem.accounts.signin import LAST_SEEN
from openem.alerts.models import Incident, Violation
from openem.alerts.worker import AlertsWorker
from openem.audit.models import AuditAction, AuditEvent
from openem.cases.models import Person
from openem.devices.models import Device, Fitting
from openem.health.faults import raise_fault
from openem.health.models import Component, FaultKind, Heartbeat

from .conftest import shot
from .test_health_browser import heartbeat
from .test_portal_browser import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SHOTS = Path(os.environ.get("OPENEM_LIVE_SHOTS", "/tmp"))
# Refreshes every second here (OPENEM_LIVE_SECONDS, 10 by default): "within seconds" is 5.
WITHIN = 5000


@pytest.fixture(autouse=True)
def _fast_refresh(settings):
    settings.OPENEM_LIVE_SECONDS = 1


def breach_now(person, key="ez-live"):
    """Sam walks into his victim's exclusion zone two minutes ago and is still there; the alerts worker has
    triaged it into an incident."""
    Violation.objects.create(
        key=key, person=person, order_ref="O0001", condition_ref="C2", device="GPS-0001",
        type="exclusion_zone_entry", category="behaviour", start=timezone.now() - timedelta(minutes=2),
    )  # fmt: skip
    AlertsWorker("t").cycle()
    return Incident.objects.get(person=person, kind="behaviour")


def open_page(page, live_server, path: str, username: str = "alex.practitioner") -> None:
    sign_in(page, live_server, username)
    page.wait_for_selector("h1")
    page.goto(f"{live_server.url}{path}")


def region_top(page) -> float:
    """Where the list stands in the window: the same when the reader has not been moved about."""
    return page.evaluate("document.getElementById('live-cases').getBoundingClientRect().top")


def fit_alcohol_tag(person):
    """Every device Sam's order needs is fitted, so that a breach is what his row is about."""
    tag = Device.objects.create(ref="ALC-0001", kind="alcohol")
    Fitting.objects.create(device=tag, person=person, fitted_at=timezone.now() - timedelta(days=3))


def critical_incident(person, summary="Exclusion zone entry: victim's home"):
    now = timezone.now()
    return Incident.objects.create(
        person=person, kind="behaviour", severity="critical", start=now - timedelta(minutes=1), summary=summary,
        ack_due=now + timedelta(minutes=14),
    )  # fmt: skip


def test_a_breach_arriving_while_my_cases_is_open_changes_the_row_within_seconds(page, live_server, personas, case):
    fit_alcohol_tag(case)
    sign_in(page, live_server)
    page.wait_for_selector("h1:has-text('My cases')")
    page.set_viewport_size({"width": 1280, "height": 420})
    page.goto(f"{live_server.url}/cases/?q=Sam&sort=status")
    row = page.locator(f"#case-{case.pk}")
    before = row.inner_text()
    assert "Violation open" not in before
    page.fill("#q", "Sam Ex")  # typing a new search, not submitted yet
    page.evaluate("window.scrollTo(0, 150)")
    assert page.evaluate("window.scrollY") > 0
    where = region_top(page)
    shot(page, "live-01-my-cases-before")

    incident = breach_now(case)
    page.wait_for_selector(f"#case-{case.pk} :text('Violation open')", timeout=WITHIN)
    after = row.inner_text()
    assert "Exclusion zone entry" in after and after != before
    # Nothing the user had is lost: the page was not reloaded, the URL keeps its filters, the search being
    # typed is still there, and the page has not jumped.
    assert page.url.endswith("/cases/?q=Sam&sort=status")
    assert page.input_value("#q") == "Sam Ex" and page.input_value("#sort") == "status"
    assert region_top(page) == where
    assert incident.severity == "critical"  # a high-risk person in his victim's zone
    assert "New critical incident" in page.locator(".app-live-announcement").inner_text()
    page.evaluate("window.scrollTo(0, 0)")
    page.set_viewport_size({"width": 1280, "height": 900})
    page.screenshot(path=str(SHOTS / "openem-live-my-cases.png"), full_page=True)
    shot(page, "live-02-my-cases-after")
    assert page.js_errors == []


def test_the_centre_announces_a_new_critical_incident_and_keeps_a_note_being_typed(page, live_server, personas, case):
    raise_fault(
        FaultKind.EVALUATION_FAILED, "RF-0001", "Evaluation failed for RF-0001", component=Component.ENGINE,
        device="RF-0001", person=case,
    )  # fmt: skip
    open_page(page, live_server, "/centre/", "omar.operator")
    assert page.locator(".app-live-announcement").count() == 0
    sound = page.locator("#live-sound")
    assert sound.is_visible() and not sound.is_checked()  # off until the operator asks for it
    page.check("#live-sound")
    note = page.locator(".app-faults input[name=note]")
    note.fill("Rebooted the engine")
    first = page.locator("[data-live-at]").inner_text()

    incident = critical_incident(case)
    banner = page.locator(".app-live-announcement")
    banner.wait_for(timeout=WITHIN)
    assert banner.get_attribute("role") == "alert"
    assert "New critical incident" in banner.inner_text()
    assert "Sam Example: Exclusion zone entry: victim's home" in banner.inner_text()
    assert banner.locator("a").get_attribute("href") == f"/alerts/{incident.pk}/"
    assert page.get_attribute("body", "data-live-beeped") == "1"
    assert page.locator("[data-live-at]").inner_text() != first
    assert page.input_value(".app-faults input[name=note]") == "Rebooted the engine"
    page.screenshot(path=str(SHOTS / "openem-live-centre.png"), full_page=True)
    shot(page, "live-03-centre-announcement")
    # Announced once, not at every refresh; the choice of sound is remembered.
    page.wait_for_timeout(2500)
    assert banner.count() == 1 and page.get_attribute("body", "data-live-beeped") == "1"
    page.reload()
    assert page.is_checked("#live-sound")
    assert page.locator(".app-live-announcement").count() == 0  # there when the page opened: not new
    assert page.js_errors == []


def test_one_click_acknowledge_from_the_queue(page, live_server, personas, case):
    incident = critical_incident(case)
    open_page(page, live_server, "/alerts/?show=active&kind=behaviour", "omar.operator")
    row = page.locator(f"#incident-{incident.pk}")
    assert "New" in row.inner_text()
    shot(page, "live-04-queue")
    row.locator("button:has-text('Acknowledge')").click()
    page.wait_for_selector("text=Acknowledged: Exclusion zone entry")
    assert page.url.endswith("/alerts/?show=active&kind=behaviour")
    assert "Acknowledged" in row.inner_text() and "Omar" in row.inner_text()
    assert row.locator("button").count() == 0
    incident.refresh_from_db()
    assert incident.status == "acknowledged" and incident.acknowledged_by == personas["operator"]
    page.screenshot(path=str(SHOTS / "openem-live-queue-acknowledged.png"), full_page=True)
    shot(page, "live-05-queue-acknowledged")
    assert page.js_errors == []


def test_a_page_left_polling_past_the_idle_timeout_goes_to_sign_in(page, live_server, personas, case):
    open_page(page, live_server, "/alerts/")
    page.wait_for_timeout(2500)  # polling: still signed in
    assert page.url.endswith("/alerts/")
    # Thirty-one minutes without the user doing anything, however often the page polled meanwhile.
    key = next(c["value"] for c in page.context.cookies() if c["name"] == "sessionid")
    session = SessionStore(session_key=key)
    session[LAST_SEEN] -= 31 * 60
    session.save()
    page.wait_for_selector("text=You were signed out after 30 minutes without activity", timeout=WITHIN)
    assert "/sign-in/?next=/alerts/" in page.url
    shot(page, "live-06-signed-out")
    assert page.js_errors == []


def test_the_incident_and_person_pages_follow_what_others_do(page, live_server, personas, case):
    fit_alcohol_tag(case)
    incident = breach_now(case)
    open_page(page, live_server, f"/alerts/{incident.pk}/")
    page.wait_for_selector(".app-map--ready")
    assert "New" in page.locator("#incident-status").inner_text()
    assert page.locator("#incident-acknowledge button").count() == 1
    page.click("text=Add a note")
    page.fill("#id_note-text", "Calling him now")

    incident.acknowledge(personas["operator"])  # the centre picks it up meanwhile
    page.wait_for_selector("#incident-status :text('Acknowledged')", timeout=WITHIN)
    assert "Omar Haddad" in page.locator("#live-incident").inner_text()
    assert "Acknowledged by Omar Haddad" in page.locator("#incident-history").inner_text()
    assert page.locator("#incident-acknowledge button").count() == 0
    # The note being written and the map are untouched.
    assert page.input_value("#id_note-text") == "Calling him now"
    assert page.locator(".app-map--ready").count() == 1
    page.screenshot(path=str(SHOTS / "openem-live-incident.png"), full_page=True)
    shot(page, "live-07-incident")

    page.goto(f"{live_server.url}/people/{case.pk}/")
    page.wait_for_selector(".app-map--ready")
    rows = page.locator("#live-person tbody tr")
    assert rows.count() == 1  # the zone entry
    Violation.objects.create(
        key="att-live", person=case, order_ref="O0001", condition_ref="C4", device="GPS-0001",
        type="attendance_missed", category="behaviour", start=timezone.now() - timedelta(minutes=1),
    )  # fmt: skip
    expect(rows).to_have_count(2, timeout=WITHIN)
    assert "Ongoing" in rows.first.inner_text() and "C4" in rows.first.inner_text()
    assert page.locator(".app-map--ready").count() == 1
    shot(page, "live-08-person")
    assert page.js_errors == []


def test_a_page_no_longer_the_users_stops_refreshing_and_says_so(page, live_server, personas, case):
    open_page(page, live_server, f"/people/{case.pk}/")
    page.wait_for_selector(".app-map--ready")
    Person.objects.filter(pk=case.pk).update(practitioner=personas["other"])  # the case is reallocated
    note = page.locator("[data-live-note]")
    expect(note).to_contain_text("This page can no longer be updated", timeout=WITHIN)
    page.wait_for_timeout(3000)  # three more refreshes' time: none is asked for
    refusals = AuditEvent.objects.filter(action=AuditAction.DENIED, actor=personas["practitioner"])
    assert refusals.count() == 1
    shot(page, "live-09-no-longer-yours")


def test_the_centre_shows_monitoring_degraded_as_it_happens(page, live_server, personas, case):
    heartbeat("engine", Component.ENGINE, 2, lag_s=0)
    heartbeat("alerts", Component.ALERTS, 2)
    open_page(page, live_server, "/centre/", "omar.operator")
    assert page.locator("#service-status").count() == 0
    # The engine stops reporting.
    Heartbeat.objects.filter(name="engine").update(beat_at=timezone.now() - timedelta(minutes=17))
    banner = page.locator("#service-status")
    banner.wait_for(timeout=WITHIN)
    assert "Monitoring is degraded" in banner.inner_text()
    assert banner.get_attribute("role") == "alert"  # new: read out once
    page.wait_for_timeout(2500)
    assert banner.get_attribute("role") == "region"  # refreshed since: not read out again and again
    shot(page, "live-10-centre-degraded")
    assert page.js_errors == []
