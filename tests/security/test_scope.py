"""Scope and who may clear what, tried as a curious insider would.

Rutland's manager sees Rutland's people; the manager of another team (other_manager) opens every list
and learns nothing of them: no names, no counts, no failed messages, no rejected readings. Only the
case's practitioner or a manager of the team clears a behaviour incident, after the enforcement
decision the policy requires, with plausible dates; the monitoring centre clears equipment work.
"""

from __future__ import annotations

import json
import re
from datetime import date, timedelta

import pytest
from django.urls import reverse

from openem.accounts.models import ApiToken, Team
from openem.accounts.personas import OTHER_TEAM
from openem.alerts.models import (
    ClearReason,
    ClearRefused,
    DecisionKind,
    Incident,
    IncidentStatus,
    Notification,
    NotificationStatus,
    Violation,
)
from openem.cases.models import Person, local_today
from openem.telemetry.ingest import ingest_jsonl
from openem.telemetry.models import RejectedReading
from tests.helpers import PERSONAS, client_for

CENTRE = {"practitioner": 403, "other": 403, "manager": 200, "other_manager": 200,
          "operator": 200, "police": 403, "vlo": 403, "hub": 403, "hub_manager": 403, "analyst": 403,
          "admin": 200}  # fmt: skip


@pytest.fixture
def centre_data(incident):
    """Sam's incident with a message that could not be sent, a rejected reading of Sam's tag, and a
    rejected reading of a device nobody knows."""
    Notification.objects.filter(incident=incident).update(
        status=NotificationStatus.FAILED, last_error="mailbox unavailable (Sam's practitioner)"
    )
    bad = {"device": "RF-0001", "time": "yesterday", "type": "rf", "in_range": True}
    ingest_jsonl(json.dumps(bad) + "\n" + json.dumps({**bad, "device": "STRAY-9", "time": "2026-11-10T20:00:00Z"}))
    assert set(RejectedReading.objects.values_list("device", flat=True)) == {"RF-0001", "STRAY-9"}
    return incident


def centre_page(personas, persona):
    response = client_for(personas[persona]).get(reverse("portal:centre"))
    return response.status_code, response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("persona", PERSONAS)
def test_the_centre_page_shows_each_persona_only_their_scope(persona, personas, centre_data):
    status, page = centre_page(personas, persona)
    assert status == CENTRE[persona]
    if status != 200:
        assert "Sam Example" not in page
        return
    sees_sam = persona in ("manager", "operator", "admin")
    assert ("Sam Example" in page) == sees_sam
    assert ("mailbox unavailable" in page) == sees_sam
    assert ("RF-0001" in page or "time:" in page) == sees_sam
    # A device nobody knows belongs to nobody's case: the centre's alone.
    assert ("STRAY-9&quot; is not a known device" in page) == (persona in ("operator", "admin"))


@pytest.mark.django_db
def test_another_teams_manager_sees_no_rutland_names_or_counts(personas, centre_data):
    _, page = centre_page(personas, "other_manager")
    for rutland in ("Sam Example", "X123456", "Alex Okafor", "mailbox unavailable", "RF-0001", "STRAY-9"):
        assert rutland not in page
    assert "0 active orders" in page
    assert "Every notification has been delivered" in page
    # Every count on the page is nought: the alert queue, the statuses, the rejected readings.
    counts = [int(n) for n in re.findall(r'class="app-count__n">(\d+)<', page)]
    assert counts and not any(counts)
    assert '<strong class="app-warning">' not in page and "Readings not accepted" in page
    queue = client_for(personas["other_manager"]).get(reverse("alerts:queue")).content.decode()
    assert "Sam Example" not in queue and 'app-tabs__count">0<' in queue
    assert not Incident.objects.visible_to(personas["other_manager"]).exists()
    assert not Notification.objects.visible_to(personas["other_manager"]).exists()
    assert not RejectedReading.objects.visible_to(personas["other_manager"]).exists()
    # Rutland's own manager has them all but the unknown device.
    assert Notification.objects.visible_to(personas["manager"]).filter(status=NotificationStatus.FAILED).exists()
    assert list(RejectedReading.objects.visible_to(personas["manager"]).values_list("device", flat=True)) == ["RF-0001"]


@pytest.mark.django_db
def test_the_api_gives_another_teams_manager_nobody(personas, case):
    _, token = ApiToken.issue(personas["other_manager"], "curious")
    auth = {"HTTP_AUTHORIZATION": f"Token {token}"}
    client = client_for(personas["other_manager"])
    assert client.get("/api/v1/people", **auth).json() == {"people": []}
    assert client.get("/api/v1/devices", **auth).json() == {"devices": []}
    assert client.get(f"/api/v1/people/{case.ref}/incidents", **auth).status_code == 404


@pytest.fixture
def outage(incident):
    """An area outage that silenced Sam (Rutland) and Lee (the other team) together."""
    other_team = Team.objects.get(name=OTHER_TEAM)
    lee = Person.objects.create(ref="P0777", name="Lee Elsewhere", team=other_team)
    sam = incident.person
    area = Incident.objects.create(
        person=None, kind="infrastructure", severity="medium", start=incident.start, summary="Area outage: 2 devices",
        area={"lat": 52.67, "lon": -0.73, "radius_m": 5000},
    )  # fmt: skip
    area.actions.create(kind="opened", text="Area outage: 2 devices silent together (Medium)")
    for person, device in ((sam, "GPS-0001"), (lee, "GPS-0777")):
        Violation.objects.create(
            key=f"outage-{device}", person=person, order_ref="O1", device=device, type="no_signal",
            category="equipment", start=incident.start, incident=area,
        )  # fmt: skip
    return area


@pytest.mark.django_db
def test_an_area_outage_shows_each_manager_only_their_own_people(personas, outage):
    url = reverse("alerts:incident", args=[outage.pk])
    rutland = client_for(personas["manager"]).get(url).content.decode()
    assert "GPS-0001" in rutland and "1 device silent together" in rutland
    assert "Lee Elsewhere" not in rutland and "GPS-0777" not in rutland and "2 devices" not in rutland
    other = client_for(personas["other_manager"]).get(url).content.decode()
    assert "GPS-0777" in other and "GPS-0001" not in other and "Sam Example" not in other
    centre = client_for(personas["operator"]).get(url).content.decode()
    assert "GPS-0001" in centre and "GPS-0777" in centre and "2 devices silent together" in centre
    # Sam's tag silent a second time in the same outage is still one device.
    Violation.objects.create(
        key="outage-again", person=incident_person(outage), order_ref="O1", device="GPS-0001", type="no_signal",
        category="equipment", start=outage.start + timedelta(minutes=20), incident=outage,
    )  # fmt: skip
    assert "2 devices silent together" in client_for(personas["operator"]).get(url).content.decode()
    queue = client_for(personas["operator"]).get(reverse("alerts:queue") + "?kind=infrastructure").content.decode()
    assert "2 devices" in queue
    # The outage is the centre's work: a manager may read it but not acknowledge it for them.
    assert "Act on it" not in rutland and 'value="acknowledge"' not in rutland
    assert client_for(personas["manager"]).post(url, {"action": "acknowledge"}).status_code == 403
    outage.refresh_from_db()
    assert outage.status == IncidentStatus.OPEN
    assert client_for(personas["operator"]).post(url, {"action": "acknowledge"}).status_code == 302
    # An outage that touched none of a manager's people is not theirs to see at all.
    Violation.objects.filter(device="GPS-0777").delete()
    assert client_for(personas["other_manager"]).get(url).status_code == 404


def incident_person(outage):
    return Violation.objects.get(key="outage-GPS-0001").person


# ------------------------------------------------------------------ who may clear what


def clear(client, incident, reason="dealt_with", text=""):
    data = {"action": "clear", "clear-reason": reason, "clear-text": text}
    return client.post(reverse("alerts:incident", args=[incident.pk]), data)


def decide(client, incident, decided_on, action_on=""):
    data = {"action": "decision", "decision-decision": "warning", "decision-reason": "First absence",
            "decision-decided_on": decided_on, "decision-action_on": action_on}  # fmt: skip
    return client.post(reverse("alerts:incident", args=[incident.pk]), data)


@pytest.mark.django_db
def test_an_operator_cannot_clear_a_behaviour_incident(personas, incident):
    operator = client_for(personas["operator"])
    page = operator.get(reverse("alerts:incident", args=[incident.pk])).content.decode()
    assert "Clear this incident" not in page  # no button they may not use
    for reason in ("explained", "authorised", "dealt_with"):
        r = clear(operator, incident, reason)
        assert r.status_code == 403
        assert "Only the case&#x27;s practitioner or a manager of the team" in r.content.decode()
    incident.refresh_from_db()
    assert incident.status != IncidentStatus.CLEARED and not incident.cleared_by
    with pytest.raises(ClearRefused):
        incident.clear_by(personas["operator"], ClearReason.EXPLAINED)


@pytest.mark.django_db
def test_equipment_work_is_cleared_by_the_centre_only(personas, incident, equipment):
    url = reverse("alerts:incident", args=[equipment.pk])
    for persona in ("practitioner", "manager"):
        assert "Clear this incident" not in client_for(personas[persona]).get(url).content.decode()
        assert clear(client_for(personas[persona]), equipment, "equipment_fixed").status_code == 403
    assert client_for(personas["other_manager"]).post(url, {"action": "clear"}).status_code == 404
    operator = client_for(personas["operator"])
    assert "Clear this incident" in operator.get(url).content.decode()
    assert clear(operator, equipment, "equipment_fixed").status_code == 302
    equipment.refresh_from_db()
    assert equipment.status == IncidentStatus.CLEARED and equipment.cleared_by == personas["operator"]


@pytest.mark.django_db
@pytest.mark.parametrize("persona", ["practitioner", "manager"])
def test_a_behaviour_incident_needs_its_decision_before_it_is_dealt_with(persona, personas, incident):
    c = client_for(personas[persona])
    r = clear(c, incident, "dealt_with")
    assert r.status_code == 200 and "Record the enforcement decision first" in r.content.decode()
    # Equipment fixed is no way round it: it is not a reason a behaviour incident can be cleared for.
    r = clear(c, incident, "equipment_fixed")
    assert r.status_code == 200 and "Select a valid choice" in r.content.decode()
    incident.refresh_from_db()
    assert incident.status != IncidentStatus.CLEARED
    with pytest.raises(ClearRefused, match="Record the enforcement decision first"):
        incident.clear_by(personas[persona], ClearReason.DEALT_WITH)
    assert decide(c, incident, "2026-11-11", "2026-11-12").status_code == 302
    assert clear(c, incident, "dealt_with").status_code == 302
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.CLEARED and incident.cleared_by == personas[persona]


@pytest.mark.django_db
def test_an_authorised_absence_needs_no_enforcement_decision(personas, incident):
    why = "Curfew varied by the court for his shift that night"
    assert clear(client_for(personas["practitioner"]), incident, "authorised", why).status_code == 302
    incident.refresh_from_db()
    assert incident.clear_reason == ClearReason.AUTHORISED and not incident.decision_overdue(date(2027, 1, 1))


@pytest.mark.django_db
def test_implausible_decision_dates_are_refused_with_the_reason(personas, incident):
    c = client_for(personas["practitioner"])
    today = local_today()
    cases = [
        ("2026-11-09", "", "The date of decision (9 November 2026) is before the incident began on 10 November 2026"),
        ((today + timedelta(days=3)).isoformat(), "", "is more than a day in the future"),
        ("2026-11-12", "2026-11-11", "The action (11 November 2026) cannot come before the decision"),
    ]  # fmt: skip
    for decided_on, action_on, message in cases:
        r = decide(c, incident, decided_on, action_on)
        assert r.status_code == 200 and message in r.content.decode()
    assert not incident.decisions.exists()
    # Tomorrow is allowed (a day for clocks and late entries); the model refuses the rest itself.
    assert decide(c, incident, (today + timedelta(days=1)).isoformat()).status_code == 302
    with pytest.raises(Exception, match="before the incident began"):
        incident.decide(personas["practitioner"], DecisionKind.WARNING, "x", date(2026, 11, 1))


@pytest.mark.django_db
def test_only_the_practitioner_or_manager_records_the_decision(personas, incident):
    for persona, status in (("operator", 403), ("other", 404), ("other_manager", 404), ("admin", 403)):
        assert decide(client_for(personas[persona]), incident, "2026-11-11").status_code == status, persona
    assert not incident.decisions.exists()
    with pytest.raises(ClearRefused):
        incident.decide(personas["operator"], DecisionKind.WARNING, "x", date(2026, 11, 11))


@pytest.mark.django_db
def test_a_rejected_reading_keeps_the_device_it_named_whatever_the_protocol(personas, case):
    from openem.telemetry.ingest import ingest_objects, osmand_items
    from openem.telemetry.models import Source

    ingest_objects(osmand_items({"id": "GPS-0001", "lat": "north", "lon": "-0.73"}), Source.OSMAND, device_field="id")
    (rejected,) = RejectedReading.objects.all()
    assert rejected.device == "GPS-0001"
    # Sam's team sees it; another team does not.
    assert RejectedReading.objects.visible_to(personas["manager"]).count() == 1
    assert RejectedReading.objects.visible_to(personas["other_manager"]).count() == 0


@pytest.mark.django_db
def test_the_action_cannot_be_dated_far_in_the_future(personas, incident):
    c = client_for(personas["practitioner"])
    today = local_today()
    r = decide(c, incident, today.isoformat(), "2099-01-01")
    page = r.content.decode()
    assert r.status_code == 200
    assert "The date the action was taken (1 January 2099) is more than a day in the future" in page
    # Before the decision is refused as before, whatever the decision's own date.
    r = decide(c, incident, "2026-11-12", "2026-11-11")
    assert r.status_code == 200 and "cannot come before the decision (12 November 2026)" in r.content.decode()
    assert not incident.decisions.exists()
    # The model refuses it too, whoever calls it.
    with pytest.raises(Exception, match="more than a day in the future"):
        incident.decide(personas["practitioner"], DecisionKind.WARNING, "x", today, date(2099, 1, 1))
    # Taken today, or tomorrow (a day for clocks and late entries), is recorded.
    assert decide(c, incident, today.isoformat(), (today + timedelta(days=1)).isoformat()).status_code == 302
    assert incident.decisions.get().action_on == today + timedelta(days=1)


@pytest.mark.django_db
@pytest.mark.parametrize("reason", ["explained", "authorised"])
def test_clearing_without_a_decision_needs_the_details(reason, personas, incident):
    c = client_for(personas["practitioner"])
    url = reverse("alerts:incident", args=[incident.pk])
    for blank in ("", "   \n "):
        r = c.post(url, {"action": "clear", "clear-reason": reason, "clear-text": blank})
        assert r.status_code == 200
        assert "needs the details" in r.content.decode()
    incident.refresh_from_db()
    assert incident.status != IncidentStatus.CLEARED and not incident.decisions.exists()
    with pytest.raises(ClearRefused, match="needs the details"):
        incident.clear_by(personas["practitioner"], ClearReason(reason))
    why = "Hospital admission confirmed by the ward sister; curfew suspended by the court that night."
    r = c.post(url, {"action": "clear", "clear-reason": reason, "clear-text": why})
    assert r.status_code == 302
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.CLEARED and incident.timeline()[-1].text == why


@pytest.mark.django_db
def test_a_cleared_incident_is_a_record_that_takes_no_more_notes(personas, incident):
    c = client_for(personas["practitioner"])
    url = reverse("alerts:incident", args=[incident.pk])
    assert decide(c, incident, "2026-11-11", "2026-11-12").status_code == 302
    assert clear(c, incident, "dealt_with").status_code == 302
    incident.refresh_from_db()
    logged = [(a.kind, a.text) for a in incident.timeline()]
    attempts = [
        {"action": "note", "note-text": "Added afterwards to change the story"},
        {"action": "acknowledge"},
        {"action": "contact", "contact-method": "phone", "contact-outcome": "no_answer", "contact-text": "late"},
    ]
    for persona in ("practitioner", "manager"):
        for data in attempts:
            r = client_for(personas[persona]).post(url, data)
            assert r.status_code == 409, (persona, data)
            assert "was cleared on" in r.content.decode() and "is now a record" in r.content.decode()
    assert [(a.kind, a.text) for a in incident.timeline()] == logged
    for attempt in (
        lambda who: incident.add_note(who, "x"),
        lambda who: incident.acknowledge(who),
        lambda who: incident.record_contact(who, "phone", "no_answer"),
    ):
        with pytest.raises(ClearRefused, match="is now a record"):
            attempt(personas["practitioner"])
    assert [(a.kind, a.text) for a in incident.timeline()] == logged
    # The page offers none of it; a further enforcement decision (breach proceedings later) it still takes.
    page = c.get(url).content.decode()
    assert 'value="note"' not in page and 'value="acknowledge"' not in page and 'value="contact"' not in page
    assert decide(c, incident, "2026-11-20").status_code == 302 and incident.decisions.count() == 2
