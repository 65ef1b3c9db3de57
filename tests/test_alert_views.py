"""The alert queue and an incident's page, for each persona; acting on an incident; the evidence pack."""

from __future__ import annotations

import io
from datetime import date, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader

from openem.alerts.models import ClearReason, Incident, IncidentStatus
from openem.audit.models import AuditAction, AuditEvent
from tests.helpers import PERSONAS, client_for

# 200 seen, 404 hidden (not even its existence), 403 role refused. other_manager manages another team;
# police analysts and victim liaison officers see no case records.
INCIDENT = {"practitioner": 200, "other": 404, "manager": 200, "other_manager": 404,
            "operator": 200, "police": 403, "vlo": 403,
            "hub": 403, "hub_manager": 403, "analyst": 403, "admin": 200}  # fmt: skip
MATRIX = {
    "queue": {**INCIDENT, "other": 200, "other_manager": 200},  # their own (empty) queue
    "incident": INCIDENT,
    "evidence": INCIDENT,
}


def url(name, incident):
    if name == "queue":
        return reverse("alerts:queue")
    return reverse(f"alerts:{name}", args=[incident.pk])


@pytest.mark.django_db
@pytest.mark.parametrize("view", list(MATRIX))
@pytest.mark.parametrize("persona", PERSONAS)
def test_access(view, persona, personas, incident):
    expected = MATRIX[view][persona]
    assert client_for(personas[persona]).get(url(view, incident)).status_code == expected


@pytest.mark.django_db
@pytest.mark.parametrize("persona", PERSONAS)
def test_who_may_act_on_an_incident(persona, personas, incident):
    # Acknowledging: the case's practitioner, their manager and the centre; the other practitioner and
    # another team's manager do not even learn it exists; police analysts and victim liaison officers
    # are refused; administrators manage reference data only.
    expected = {**INCIDENT, "practitioner": 302, "manager": 302, "operator": 302, "admin": 403}
    r = client_for(personas[persona]).post(url("incident", incident), {"action": "acknowledge"})
    assert r.status_code == expected[persona]


@pytest.mark.django_db
def test_the_monitoring_centre_cannot_make_enforcement_decisions(personas, incident):
    r = client_for(personas["operator"]).post(
        url("incident", incident),
        {
            "action": "decision",
            "decision-decision": "warning",
            "decision-reason": "x",
            "decision-decided_on": "2026-11-11",
        },
    )
    assert r.status_code == 403 and not incident.decisions.exists()


@pytest.mark.django_db
def test_the_practitioner_sees_the_incident_in_the_queue_and_the_other_does_not(personas, incident):
    page = client_for(personas["practitioner"]).get(reverse("alerts:queue")).content.decode()
    assert "Curfew absence" in page and "Sam Example" in page
    assert "Sam Example" not in client_for(personas["other"]).get(reverse("alerts:queue")).content.decode()


@pytest.mark.django_db
def test_equipment_work_goes_to_the_centre_queue_not_the_practitioners(personas, incident, equipment):
    assert equipment.severity == "medium"
    practitioner = client_for(personas["practitioner"]).get(reverse("alerts:queue")).content.decode()
    centre = client_for(personas["operator"]).get(reverse("alerts:queue") + "?kind=equipment").content.decode()
    assert "No signal" not in practitioner
    assert "No signal" in centre and "Call the wearer; if there is no answer" in centre


@pytest.mark.django_db
def test_a_practitioner_works_an_incident_through_to_a_decision(personas, incident):
    c = client_for(personas["practitioner"])
    page = url("incident", incident)
    assert c.post(page, {"action": "acknowledge"}).status_code == 302
    r = c.post(
        page,
        {"action": "contact", "contact-method": "phone", "contact-outcome": "spoke_to_wearer",
         "contact-text": "Says he was at his sister's."},
    )  # fmt: skip
    assert r.status_code == 302
    # Clearing as dealt with needs a decision first: the form says so and nothing changes.
    r = c.post(page, {"action": "clear", "clear-reason": "dealt_with"})
    assert r.status_code == 200 and "Record the enforcement decision first" in r.content.decode()
    # A decision in the future is refused, with the field named.
    r = c.post(page, {"action": "decision", "decision-decision": "warning", "decision-reason": "First absence",
                      "decision-decided_on": "2099-01-01"})  # fmt: skip
    assert "is more than a day in the future" in r.content.decode()
    r = c.post(
        page,
        {"action": "decision", "decision-decision": "warning", "decision-reason": "First absence, explained",
         "decision-decided_on": "2026-11-11", "decision-action_on": "2026-11-12"},
    )  # fmt: skip
    assert r.status_code == 302
    assert c.post(page, {"action": "clear", "clear-reason": "dealt_with"}).status_code == 302
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.CLEARED and incident.clear_reason == ClearReason.DEALT_WITH
    decision = incident.latest_decision
    assert (decision.decision, decision.action_on, decision.by) == (
        "warning",
        date(2026, 11, 12),
        personas["practitioner"],
    )
    kinds = [a.kind for a in incident.timeline()]
    assert kinds[:2] == ["opened", "notified"] and {"acknowledged", "contact", "decision", "cleared"} <= set(kinds)
    shown = c.get(page).content.decode()
    assert "Says he was at his sister" in shown and "Warning" in shown
    # Every action is in the audit log.
    assert (
        AuditEvent.objects.filter(action=AuditAction.CHANGE, summary__startswith=f"incident {incident.pk}").count() == 4
    )


@pytest.mark.django_db
def test_overdue_decisions_are_listed(personas, incident):
    Incident.objects.filter(pk=incident.pk).update(decision_due=date(2026, 11, 1))
    c = client_for(personas["practitioner"])
    page = c.get(reverse("alerts:queue") + "?show=overdue").content.decode()
    assert "Decision was due 1 Nov" in page and "Sam Example" in page
    assert (
        client_for(personas["manager"])
        .get(reverse("alerts:queue") + "?show=overdue")
        .content.decode()
        .count("Decision was due")
        == 1
    )


@pytest.mark.django_db
def test_the_evidence_pack_is_a_pdf_with_the_incident_and_is_audited(personas, incident):
    r = client_for(personas["practitioner"]).get(url("evidence", incident))
    assert r.status_code == 200 and r["Content-Type"] == "application/pdf" and r.content.startswith(b"%PDF")
    assert "X123456" in r["Content-Disposition"]
    event = AuditEvent.objects.filter(action=AuditAction.EXPORT).latest("at")
    assert event.person == incident.person and "Evidence pack" in event.reason
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(r.content)).pages)
    assert "Curfew absence" in text and "Sam Example" in text and "Conditions in force" in text


@pytest.mark.django_db
def test_the_trail_link_suggests_the_incidents_period_but_asks_for_a_reason(personas, incident):
    c = client_for(personas["practitioner"])
    start = (incident.start - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    r = c.get(reverse("portal:trail", args=[incident.person.pk]), {"start": start, "end": "2026-11-11T00:00"})
    assert r.status_code == 200 and not AuditEvent.objects.filter(summary__startswith="trail").exists()


@pytest.mark.django_db
def test_the_evidence_pack_shows_the_conditions_of_that_day_after_the_order_is_varied(personas, incident):
    """Sam's curfew was 19:00-07:00 on the night of the absence; today the court varied it to 21:00-06:00
    and added a zone. The pack for that night shows the curfew he broke, not today's terms."""
    from openem.cases.services import save_order
    from openem.engine.casefile import ConditionSpec
    from openem.engine.enums import ConditionType

    order = incident.person.orders.get()
    spec = order.to_spec()
    curfew = next(c for c in spec.conditions if c.id == "C1")
    curfew.windows = (curfew.windows[0].__class__(curfew.windows[0].days, 21 * 60, 6 * 60),)
    spec.conditions.append(
        ConditionSpec(id="C7", type=ConditionType.EXCLUSION_ZONE, name="New park zone", monitored=True,
                      area={"lat": 52.69, "lon": -0.70, "radius_m": 200})
    )  # fmt: skip
    save_order(incident.person, spec, personas["practitioner"], "Varied at court", order=order)
    # A condition added by the variation with no start date starts today, not at the order's start.
    added = order.conditions.get(ref="C7")
    assert added.effective_start == timezone.localdate()

    r = client_for(personas["practitioner"]).get(url("evidence", incident))
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(r.content)).pages)
    assert "19:00" in text and "07:00" in text
    assert "21:00" not in text and "New park zone" not in text
    history = order.versions.get(number=2).changes
    assert any("19:00 to 07:00 (next day) -> " in c and "21:00 to 06:00" in c for c in history)
