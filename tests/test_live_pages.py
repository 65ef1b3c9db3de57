"""Live pages (openem/portal/live.py): a page refreshes its own region from its own URL, filters included; an
automatic refresh is not a new look for the audit log and keeps nobody signed in; one-click acknowledge from
the Alerts queue, for exactly those who may acknowledge on the incident page. The browser side:
tests/browser/test_live_browser.py."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import timedelta
from unittest import mock

import pytest
from django.urls import reverse
from django.utils import timezone

from openem.alerts.models import Incident, IncidentStatus
from openem.audit.models import AuditAction, AuditEvent
from tests.helpers import PERSONAS, client_for

REFRESH = {"HTTP_HX_REQUEST": "true", "HTTP_OPENEM_REFRESH": "1"}


@contextmanager
def clock_at(minutes: float):
    """Everything that reads the time (the session limits, the audit rule, an audit event's time) runs
    ``minutes`` from now."""
    at = timezone.now() + timedelta(minutes=minutes)
    stamped = AuditEvent._meta.get_field("at")  # its default is the function, taken before any patch
    with (
        mock.patch("django.utils.timezone.now", return_value=at),
        mock.patch.object(stamped, "_get_default", lambda: at),
    ):
        yield


def views_of(person, summary: str) -> int:
    return AuditEvent.objects.filter(action=AuditAction.VIEW, person=person, summary=summary).count()


# ------------------------------------------------------------------ the regions


@pytest.mark.django_db
@pytest.mark.parametrize(
    "persona, page, region",
    [
        ("practitioner", "/cases/?q=Sam&sort=status", "live-cases"),
        ("practitioner", "/alerts/?show=active", "live-queue"),
        ("operator", "/centre/", "live-centre"),
        ("practitioner", "person", "live-person"),
        ("practitioner", "incident", "live-incident"),
    ],
)
def test_each_live_page_refreshes_its_region_from_its_own_url(persona, page, region, personas, incident, settings):
    settings.OPENEM_LIVE_SECONDS = 7
    page = {"person": f"/people/{incident.person.pk}/", "incident": f"/alerts/{incident.pk}/"}.get(page, page)
    c = client_for(personas[persona])
    html = c.get(page).content.decode()
    # The same URL, query and all, so the user's filters are what is refreshed.
    assert f'id="{region}" data-live hx-get="{page.replace("&", "&amp;")}" hx-trigger="every 7s"' in html
    assert "Updates by itself every 7 seconds" in html
    refreshed = c.get(page, **REFRESH)
    assert refreshed.status_code == 200 and f'id="{region}"' in refreshed.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("persona", PERSONAS)
def test_a_refresh_goes_through_the_same_access_checks_as_the_page(persona, personas, incident):
    c = client_for(personas[persona])
    for page in (f"/people/{incident.person.pk}/", f"/alerts/{incident.pk}/", "/centre/", "/cases/", "/alerts/"):
        assert c.get(page, **REFRESH).status_code == c.get(page).status_code, page


@pytest.mark.django_db
def test_a_critical_incident_is_marked_for_announcing_where_it_is_listed(personas, incident):
    Incident.objects.filter(pk=incident.pk).update(severity="critical")
    mark = f'data-live-critical="{incident.pk}"'
    assert mark in client_for(personas["practitioner"]).get("/cases/").content.decode()
    assert mark in client_for(personas["practitioner"]).get("/alerts/").content.decode()
    centre = client_for(personas["operator"]).get("/centre/").content.decode()
    assert mark in centre and 'id="live-sound"' in centre
    # Another practitioner's page says nothing about it.
    assert mark not in client_for(personas["other"]).get("/cases/").content.decode()
    Incident.objects.filter(pk=incident.pk).update(status=IncidentStatus.CLEARED)
    assert mark not in client_for(personas["operator"]).get("/centre/").content.decode()


# ------------------------------------------------------------------ the audit log


@pytest.mark.django_db
def test_a_refresh_is_not_a_new_look_but_a_page_left_open_is_recorded_again_after_a_while(personas, incident):
    person = incident.person
    c = client_for(personas["practitioner"])
    c.get(f"/people/{person.pk}/")
    assert views_of(person, "person page") == 1
    for minutes in (1, 5, 14):  # the page polls: nothing new in the log
        with clock_at(minutes):
            assert c.get(f"/people/{person.pk}/", **REFRESH).status_code == 200
    assert views_of(person, "person page") == 1
    with clock_at(16):  # still open a quarter of an hour later: recorded once more
        c.get(f"/people/{person.pk}/", **REFRESH)
        c.get(f"/people/{person.pk}/", **REFRESH)
    assert views_of(person, "person page") == 2
    c.get(f"/people/{person.pk}/")  # opening the page again is always a look
    assert views_of(person, "person page") == 3


@pytest.mark.django_db
def test_the_refresh_header_cannot_hide_a_look(personas, incident):
    # Sent without the page ever being opened, a "refresh" is recorded like a view.
    c = client_for(personas["manager"])
    c.get(f"/alerts/{incident.pk}/", **REFRESH)
    assert AuditEvent.objects.filter(
        action=AuditAction.VIEW, actor=personas["manager"], summary=f"incident {incident.pk}"
    )
    # Another user's look does not cover this one's.
    client_for(personas["practitioner"]).get(f"/people/{incident.person.pk}/")
    client_for(personas["operator"]).get(f"/people/{incident.person.pk}/", **REFRESH)
    assert AuditEvent.objects.filter(actor=personas["operator"], person=incident.person, summary="person page")


@pytest.mark.django_db
def test_a_searched_case_list_left_open_is_one_search_not_one_per_refresh(personas, case):
    c = client_for(personas["practitioner"])
    c.get("/cases/?q=Sam")
    for minutes in (1, 2, 3):
        with clock_at(minutes):
            c.get("/cases/?q=Sam", **REFRESH)
    searches = AuditEvent.objects.filter(action=AuditAction.SEARCH, actor=personas["practitioner"])
    assert [e.summary for e in searches] == ['case list: "Sam": 1 found']


# ------------------------------------------------------------------ the session


@pytest.mark.django_db
def test_a_page_left_polling_past_the_idle_timeout_is_signed_out(personas, case):
    c = client_for(personas["practitioner"])
    assert c.get("/cases/").status_code == 200
    for minutes in (10, 20, 29):
        with clock_at(minutes):
            r = c.get("/cases/", **REFRESH)
            assert r.status_code == 200 and "HX-Redirect" not in r, minutes
    with clock_at(31):
        r = c.get("/cases/", **REFRESH)
    # The whole page goes to the sign-in page (htmx follows HX-Redirect), not a fragment of it into the region.
    assert r["HX-Redirect"] == "/sign-in/?next=/cases/"
    assert AuditEvent.objects.filter(action=AuditAction.SIGN_OUT, summary="signed out: 30 minutes without activity")
    signed_out = c.get("/cases/", follow=True)
    assert b"You were signed out after 30 minutes without activity" in signed_out.content
    assert not signed_out.context["user"].is_authenticated


@pytest.mark.django_db
def test_what_the_user_does_keeps_the_session_while_the_page_polls(personas, case):
    c = client_for(personas["practitioner"])
    c.get("/cases/")
    with clock_at(20):
        c.get("/alerts/")  # a click
    with clock_at(45):
        assert "HX-Redirect" not in c.get("/cases/", **REFRESH)


@pytest.mark.django_db
def test_a_refresh_after_signing_out_elsewhere_takes_the_page_to_sign_in(personas, case):
    c = client_for(personas["practitioner"])
    c.get("/cases/?q=Sam")
    c.logout()
    r = c.get("/cases/?q=Sam", **REFRESH)
    assert r.status_code == 200 and r["HX-Redirect"] == "/sign-in/?next=/cases/%3Fq%3DSam"


@pytest.mark.django_db
def test_a_refresh_leaves_a_message_for_the_page_the_user_opens_next(personas, incident):
    c = client_for(personas["practitioner"])
    c.post(reverse("alerts:acknowledge", args=[incident.pk]))
    c.get("/cases/", **REFRESH)  # another tab polling meanwhile
    assert b"Acknowledged: " in c.get("/alerts/").content


# ------------------------------------------------------------------ one-click acknowledge


# Exactly who may acknowledge on the incident page (tests/test_alert_views.py): the case's practitioner, their
# manager and the centre; the other practitioner and another team's manager do not learn it exists; police
# analysts and victim liaison officers are refused; administrators manage reference data only.
ACKNOWLEDGES = {"practitioner": 302, "other": 404, "manager": 302, "other_manager": 404,
                "operator": 302, "police": 403, "vlo": 403,
            "hub": 403, "hub_manager": 403, "analyst": 403, "admin": 403}  # fmt: skip


@pytest.mark.django_db
@pytest.mark.parametrize("persona", PERSONAS)
def test_one_click_acknowledge_from_the_queue(persona, personas, incident):
    user = personas[persona]
    r = client_for(user).post(
        reverse("alerts:acknowledge", args=[incident.pk]), {"back": "show=active&kind=behaviour&next=//evil.example"}
    )
    assert r.status_code == ACKNOWLEDGES[persona]
    incident.refresh_from_db()
    audited = AuditEvent.objects.filter(action=AuditAction.CHANGE, summary=f"incident {incident.pk}: acknowledged")
    if r.status_code == 302:
        # Back to the queue as the user had it, and only the queue's own filters.
        assert r["Location"] == "/alerts/?show=active&kind=behaviour"
        assert incident.status == IncidentStatus.ACKNOWLEDGED and incident.acknowledged_by == user
        assert audited.get().actor == user
    else:
        assert incident.status == IncidentStatus.OPEN and not audited.exists()


@pytest.mark.django_db
def test_the_queue_offers_acknowledge_only_on_what_the_user_may_acknowledge(personas, incident, equipment):
    button = f'id="ack-{incident.pk}"'
    assert button in client_for(personas["practitioner"]).get("/alerts/").content.decode()
    assert button not in client_for(personas["admin"]).get("/alerts/").content.decode()
    operator = client_for(personas["operator"]).get("/alerts/").content.decode()
    assert button in operator and f'id="ack-{equipment.pk}"' in operator
    # Equipment is the centre's: not in a practitioner's queue, and not theirs to acknowledge.
    r = client_for(personas["practitioner"]).post(reverse("alerts:acknowledge", args=[equipment.pk]))
    assert r.status_code == 404
    equipment.refresh_from_db()
    assert equipment.status == IncidentStatus.OPEN


@pytest.mark.django_db
def test_acknowledging_what_someone_else_acknowledged_says_so(personas, incident):
    client_for(personas["operator"]).post(reverse("alerts:acknowledge", args=[incident.pk]))
    c = client_for(personas["practitioner"])
    r = c.post(reverse("alerts:acknowledge", args=[incident.pk]), {"back": "show=active"}, follow=True)
    assert "Already acknowledged by Omar" in r.content.decode()
    incident.refresh_from_db()
    assert incident.acknowledged_by == personas["operator"]
    assert AuditEvent.objects.filter(action=AuditAction.CHANGE, summary__endswith="acknowledged").count() == 1
    assert f'id="ack-{incident.pk}"' not in r.content.decode()


@pytest.mark.django_db
def test_a_cleared_incident_is_not_acknowledged(personas, incident):
    Incident.objects.filter(pk=incident.pk).update(status=IncidentStatus.CLEARED, cleared_at=timezone.now())
    r = client_for(personas["practitioner"]).post(reverse("alerts:acknowledge", args=[incident.pk]), follow=True)
    assert "Already cleared" in r.content.decode()
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.CLEARED and incident.acknowledged_at is None


@pytest.mark.django_db
def test_a_refresh_does_not_read_out_the_centres_degraded_banner_again(personas, case):
    from openem.health.models import Component, Heartbeat

    now = timezone.now()
    for name, component, ago in (("engine", Component.ENGINE, 17 * 60), ("alerts", Component.ALERTS, 2)):
        Heartbeat.objects.create(
            name=name, component=component.value, host="em-app-1", pid=100, started_at=now - timedelta(hours=2),
            beat_at=now - timedelta(seconds=ago), lag_s=0, backlog=0,
        )  # fmt: skip
    c = client_for(personas["operator"])
    opened = c.get("/centre/").content.decode()
    assert 'role="alert" aria-labelledby="service-status-title"' in opened
    refreshed = c.get("/centre/", **REFRESH).content.decode()
    assert 'role="region" aria-labelledby="service-status-title"' in refreshed
