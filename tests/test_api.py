"""The read API: tokens, the same object-level access as the portal, audited trails, OpenAPI."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from openem.accounts.models import ApiToken
from openem.audit.models import AuditEvent
from openem.telemetry.ingest import ingest_jsonl


def get(token: str | None, path: str, **params):
    headers = {"HTTP_AUTHORIZATION": f"Token {token}"} if token else {}
    return Client().get(path, params, **headers)


@pytest.fixture
def tokens(personas):
    return {who: ApiToken.issue(user, "test")[1] for who, user in personas.items()}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("who", "status"),
    [("practitioner", 200), ("other", 404), ("manager", 200), ("operator", 200), ("police", 403), ("admin", 200)],
)
def test_person_access_matches_the_portal(tokens, case, who, status):
    for path in ("", "/violations", "/incidents", "/reviews"):
        assert get(tokens[who], f"/api/v1/people/P0001{path}").status_code == status, path


@pytest.mark.django_db
def test_incidents_carry_what_was_done_and_decided(tokens, personas, incident):
    from datetime import date

    from openem.alerts.models import ClearReason, DecisionKind

    alex = personas["practitioner"]
    incident.record_contact(alex, "phone", "reached", "Says he was at his mother's")
    incident.decide(alex, DecisionKind.WARNING, "First absence; warned", date(2026, 11, 11))
    incident.clear(alex, ClearReason.DEALT_WITH)
    body = get(tokens["practitioner"], "/api/v1/people/P0001/incidents").json()
    (shown,) = [i for i in body["incidents"] if i["kind"] == "behaviour"]
    assert shown["status"] == "cleared" and shown["cleared_by"] == "alex.practitioner"
    assert shown["start"].startswith("2026-11-10T20:00") and len(shown["violations"]) >= 1
    kinds = [a["kind"] for a in shown["actions"]]
    assert kinds[-4:] == ["acknowledged", "contact", "decision", "cleared"], kinds
    assert shown["actions"][-3]["contact_outcome"] == "reached"
    assert shown["decisions"] == [
        {"decision": "warning", "reason": "First absence; warned", "decided_on": "2026-11-11", "action_on": None,
         "by": "alex.practitioner", "at": shown["decisions"][0]["at"]}
    ]  # fmt: skip
    still_open = get(tokens["practitioner"], "/api/v1/people/P0001/incidents", status="open").json()["incidents"]
    assert shown["id"] not in {i["id"] for i in still_open} and {i["status"] for i in still_open} <= {"open"}
    bad = get(tokens["practitioner"], "/api/v1/people/P0001/incidents", status="closed")
    assert bad.status_code == 400 and "open, acknowledged, cleared" in bad.json()["error"]
    assert AuditEvent.objects.filter(summary="api: incidents", actor=alex).count() == 2  # the refused one shows nothing


@pytest.mark.django_db
def test_reviews_held_and_due(tokens, personas, case):
    from datetime import date

    from openem.cases.models import Review, ReviewStage

    order = case.orders.get()
    Review.objects.create(
        order=order, stage=ReviewStage.START, held_on=date(2026, 11, 5), summary="Explained the curfew",
        notes={"explained": "Repeated the curfew hours back"}, by=personas["practitioner"],
    )  # fmt: skip
    body = get(tokens["practitioner"], "/api/v1/people/P0001/reviews").json()
    (held,) = body["reviews"]
    assert (held["stage"], held["held_on"], held["by"]) == ("start", "2026-11-05", "alex.practitioner")
    assert held["notes"][0]["note"] == "Repeated the curfew hours back"
    assert body["due"] and body["due"][0]["stage"] in ("during", "end")


@pytest.mark.django_db
def test_lists_are_the_callers_caseload(tokens, case):
    assert [p["id"] for p in get(tokens["practitioner"], "/api/v1/people").json()["people"]] == ["P0001"]
    assert get(tokens["other"], "/api/v1/people").json()["people"] == []
    devices = get(tokens["practitioner"], "/api/v1/devices").json()["devices"]
    assert {d["id"] for d in devices} == {"RF-0001", "GPS-0001"}
    assert get(None, "/api/v1/people").status_code == 401
    assert get("wrong", "/api/v1/people").status_code == 401


@pytest.mark.django_db
def test_a_person_in_the_case_file_form(tokens, case):
    body = get(tokens["practitioner"], "/api/v1/people/P0001").json()
    assert body["name"] == "Sam Example" and body["orders"][0]["conditions"][0]["type"] == "curfew"


@pytest.mark.django_db
def test_a_trail_needs_a_reason_and_is_audited(tokens, case):
    ingest_jsonl(
        json.dumps(
            {
                "device": "GPS-0001",
                "time": "2026-11-10T12:00:00Z",
                "type": "fix",
                "lat": 52.67,
                "lon": -0.73,
                "accuracy_m": 9,
            }
        )
    )
    period = {"start": "2026-11-10T00:00:00Z", "end": "2026-11-11T00:00:00Z"}
    no_reason = get(tokens["practitioner"], "/api/v1/people/P0001/trail", **period)
    assert no_reason.status_code == 400 and "reason is required" in no_reason.json()["error"]
    ok = get(tokens["practitioner"], "/api/v1/people/P0001/trail", **period, reason="breach investigation")
    assert [p["lat"] for p in ok.json()["positions"]] == [52.67]
    event = AuditEvent.objects.get(summary__startswith="api: trail")
    assert event.reason == "breach investigation" and event.period_end.isoformat() == "2026-11-11T00:00:00+00:00"
    too_long = get(
        tokens["practitioner"],
        "/api/v1/people/P0001/trail",
        start="2026-10-01T00:00:00Z",
        end="2026-11-11T00:00:00Z",
        reason="x",
    )
    assert too_long.status_code == 400


def test_openapi_describes_every_endpoint(client):
    spec = client.get("/api/v1/openapi.json").json()
    assert spec["openapi"].startswith("3.1")
    assert set(spec["paths"]) == {
        "/api/v1/people",
        "/api/v1/people/{ref}",
        "/api/v1/people/{ref}/violations",
        "/api/v1/people/{ref}/incidents",
        "/api/v1/people/{ref}/reviews",
        "/api/v1/people/{ref}/assessments",
        "/api/v1/people/{ref}/trail",
        "/api/v1/devices",
        "/api/v1/crime/batches",
        "/api/v1/crime/batches/{id}",
    }
