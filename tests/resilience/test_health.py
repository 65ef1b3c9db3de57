"""Health you can see: /healthz, /readyz and /metrics for load balancers and monitoring, the monitoring
centre's banner and operational alerts, and the practitioners' notice when evaluation is late."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db.utils import OperationalError
from django.test import Client
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from openem.audit.models import AuditAction, AuditEvent
from openem.cases.models import Person
from openem.health.faults import raise_fault
from openem.health.models import Component, Fault, FaultKind, Heartbeat
from openem.health.status import assess, check_health, how_long

from ..helpers import client_for


def beat(name: str, component: Component, *, ago: float = 1.0, **fields: Any) -> Heartbeat:
    now = timezone.now()
    return Heartbeat.objects.create(
        name=name,
        component=component.value,
        host="test",
        pid=fields.pop("pid", 4242),
        started_at=now - timedelta(hours=1),
        beat_at=now - timedelta(seconds=ago),
        every_s=5.0,
        **fields,
    )


def running_service(*, engine_ago: float = 1.0, lag_s: float | None = 2.0) -> None:
    """Two engine shards, the alerts worker and a receiver, all reporting."""
    beat("engine shard 1 of 2", Component.ENGINE, ago=engine_ago, lag_s=lag_s, backlog=10, counters={"readings": 900})
    beat("engine shard 2 of 2", Component.ENGINE, lag_s=lag_s, backlog=5, counters={"readings": 700, "failed": 1})
    beat("alerts", Component.ALERTS, counters={"notifications_sent": 12, "notifications_failed": 1, "failed": 2})
    beat(
        "ingest 4242",
        Component.INGEST,
        counters={"accepted_http": 1000, "accepted_osmand": 40, "rejected_osmand": 3, "refused_rate_limited": 2},
    )


def metrics(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            found[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return found


# /healthz ----------------------------------------------------------------------------------------------


def test_healthz_answers_without_the_database():
    # No django_db mark: pytest-django fails any query, so this proves the probe never touches it.
    r = Client().get("/healthz")
    assert r.status_code == 200 and r.content == b"ok\n"
    assert r["Cache-Control"] == "no-store"


def test_probes_answer_any_host_and_refuse_posts():
    r = Client(HTTP_HOST="10.0.0.7:8000").get("/healthz")  # a load balancer probing by address
    assert r.status_code == 200
    assert Client().post("/healthz").status_code == 405


# /readyz -----------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_readyz_is_200_when_every_worker_reports_in_time():
    running_service()
    r = Client().get("/readyz")
    body = r.json()
    assert r.status_code == 200, body
    assert body["ready"] is True and body["state"] == "ok" and body["database"] == {"ok": True}
    shard = next(p for p in body["processes"] if p["name"] == "engine shard 1 of 2")
    assert shard["down"] is False and shard["lag_s"] == 2.0 and shard["backlog"] == 10 and shard["age_s"] >= 1
    assert body["bus"] == {"configured": False, "connected": None}


@pytest.mark.django_db
def test_readyz_is_503_when_a_heartbeat_is_stale_and_200_once_fresh_again():
    running_service(engine_ago=120)
    r = Client().get("/readyz")
    assert r.status_code == 503
    assert any(reason.startswith("Engine shard 1 of 2 is down since") for reason in r.json()["reasons"])
    Heartbeat.objects.filter(name="engine shard 1 of 2").update(beat_at=timezone.now())
    assert Client().get("/readyz").status_code == 200


@pytest.mark.django_db
def test_readyz_is_503_when_evaluation_is_behind_the_threshold(settings):
    settings.OPENEM_MAX_LAG_S = 300
    running_service(lag_s=720)
    r = Client().get("/readyz")
    assert r.status_code == 503
    assert r.json()["reasons"] == ["Device data is being evaluated 12 minutes late"]


@pytest.mark.django_db
def test_readyz_is_503_when_no_engine_worker_runs_or_it_stopped():
    beat("alerts", Component.ALERTS)
    assert Client().get("/readyz").json()["reasons"] == ["no engine process is running"]
    beat("engine", Component.ENGINE, stopped=True)
    assert Client().get("/readyz").status_code == 503


@pytest.mark.django_db
def test_readyz_is_503_when_the_database_cannot_be_reached(monkeypatch):
    from django.db import connection

    def refuse(*a, **k):
        raise OperationalError("could not connect to server: Connection refused")

    monkeypatch.setattr(connection, "cursor", refuse)
    r = Client().get("/readyz")
    assert r.status_code == 503
    assert r.json()["database"]["ok"] is False and "Connection refused" in r.json()["database"]["error"]


@pytest.mark.django_db
def test_a_receiver_replaced_by_a_newer_one_is_not_down():
    running_service()
    # The process before a restart: silent since before the one beating now started.
    beat("ingest 1111", Component.INGEST, pid=1111, ago=7200)
    status = assess()
    assert not status.degraded
    old = next(p for p in status.processes if p.heartbeat.name == "ingest 1111")
    assert old.superseded and not old.live


@pytest.mark.django_db
def test_a_receiver_that_died_beside_its_siblings_is_down():
    running_service()  # "ingest 4242" started an hour ago and beats
    beat("ingest 1111", Component.INGEST, pid=1111, ago=300)  # started with it, silent for five minutes
    status = assess()
    assert [p.message.split(" since")[0] for p in status.problems] == ["The ingest receiver has been down"]


@pytest.mark.django_db
def test_readyz_says_whether_the_bus_is_connected(settings):
    settings.OPENEM_BUS = "nats://127.0.0.1:4222"
    running_service()
    beat("bus announcer", Component.BUS, backlog=7)
    body = Client().get("/readyz").json()
    assert body["bus"] == {"configured": True, "connected": True} and body["outbox_backlog"] == 7
    raise_fault(FaultKind.BUS_DOWN, "nats", "NATS cannot be reached", component=Component.BUS)
    body = Client().get("/readyz").json()
    assert body["bus"]["connected"] is False
    assert any(p.startswith("The message bus cannot be reached since") for p in body["problems"])


# /metrics ----------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_metrics_show_the_heartbeats_counters_lags_queues_and_faults():
    running_service(lag_s=42)
    beat("engine partition 1", Component.ENGINE, counters={"reading_to_violation_p99_s": 1.5, "cycles": 3})
    raise_fault(FaultKind.EVALUATION_FAILED, "RF-0001", "Evaluation failed for RF-0001", component=Component.ENGINE)
    r = Client().get("/metrics")
    assert r.status_code == 200 and r["Content-Type"].startswith("text/plain")
    m = metrics(r.content.decode())
    ingest = ("process", "ingest 4242")
    assert m[("openem_readings_accepted_total", (ingest, ("source", "http")))] == 1000
    assert m[("openem_readings_accepted_total", (ingest, ("source", "osmand")))] == 40
    assert m[("openem_readings_rejected_total", (ingest, ("source", "osmand")))] == 3
    assert m[("openem_ingest_refused_total", (ingest, ("reason", "rate_limited")))] == 2
    assert m[("openem_lag_seconds", (("component", "engine"), ("process", "engine shard 2 of 2")))] == 42
    assert m[("openem_notifications_sent_total", (("process", "alerts"),))] == 12
    assert m[("openem_notifications_failed_total", (("process", "alerts"),))] == 1
    assert m[("openem_evaluation_failures_total", (("process", "engine shard 2 of 2"),))] == 1
    partition = ("process", "engine partition 1")
    assert m[("openem_reading_to_violation_seconds", (partition, ("stat", "p99")))] == 1.5
    assert m[("openem_process_counter", (("counter", "cycles"), partition))] == 3
    assert m[("openem_readings_evaluated_total", (("process", "engine shard 1 of 2"),))] == 900
    assert m[("openem_alerts_items_failed_total", (("process", "alerts"),))] == 2
    assert m[("openem_queue_size", (("queue", "readings_not_evaluated"),))] == 10  # the furthest-behind shard
    assert m[("openem_queue_size", (("queue", "notifications_pending"),))] >= 0
    assert m[("openem_faults_open", (("kind", "evaluation_failed"),))] == 1
    assert m[("openem_faults_open", (("kind", "worker_down"),))] == 0
    assert m[("openem_process_up", (("component", "alerts"), ("process", "alerts")))] == 1
    assert m[("openem_degraded", ())] == 0


@pytest.mark.django_db
def test_metrics_name_no_person_or_device():
    running_service()
    raise_fault(
        FaultKind.EVALUATION_FAILED, "RF-0001", "Evaluation failed for RF-0001",
        component=Component.ENGINE, device="RF-0001",
    )  # fmt: skip
    assert "RF-0001" not in Client().get("/metrics").content.decode()


@pytest.mark.django_db
def test_metrics_ask_for_the_token_when_one_is_set(settings):
    settings.OPENEM_METRICS_TOKEN = "s3cret-metrics-token"
    assert Client().get("/metrics").status_code == 401
    assert Client(HTTP_AUTHORIZATION="Bearer wrong").get("/metrics").status_code == 401
    r = Client(HTTP_AUTHORIZATION="Bearer s3cret-metrics-token").get("/metrics")
    assert r.status_code == 200 and b"openem_degraded" in r.content


@pytest.mark.django_db
def test_probes_are_never_sent_to_sign_in_even_with_an_expired_session(personas, settings):
    client = client_for(personas["operator"])
    session = client.session
    session["openem_last_seen"] = 0  # long idle: any page would sign the user out
    session.save()
    for url in ("/healthz", "/readyz", "/metrics"):
        assert client.get(url).status_code in (200, 503), url
    assert not AuditEvent.objects.filter(action=AuditAction.DENIED).exists()


# The assessment and its faults -------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_worker_down_raises_an_operational_alert_resolved_when_it_is_back():
    running_service()
    beat("alerts-old", Component.ALERTS, ago=30, stopped=True)  # stopped on purpose: not down
    Heartbeat.objects.filter(name="alerts").update(beat_at=timezone.now() - timedelta(minutes=10))
    status = check_health()
    assert status.degraded
    fault = Fault.objects.open().get(kind=FaultKind.WORKER_DOWN)
    assert fault.summary.startswith("The alerts worker has been down since ")
    assert fault.summary.endswith("— notifications are not being sent")
    check_health()  # still down: the same alert, not another
    assert Fault.objects.filter(kind=FaultKind.WORKER_DOWN).count() == 1
    Heartbeat.objects.filter(name="alerts").update(beat_at=timezone.now())
    assert not check_health().degraded
    assert not Fault.objects.open().filter(kind=FaultKind.WORKER_DOWN).exists()


@pytest.mark.django_db
def test_evaluation_behind_raises_and_resolves_its_alert(settings):
    settings.OPENEM_MAX_LAG_S = 300
    running_service(lag_s=900)
    check_health()
    assert Fault.objects.open().get(kind=FaultKind.EVALUATION_BEHIND).summary == (
        "Device data is being evaluated 15 minutes late"
    )
    Heartbeat.objects.filter(component="engine").update(lag_s=3)
    check_health()
    assert not Fault.objects.open().filter(kind=FaultKind.EVALUATION_BEHIND).exists()


@pytest.mark.django_db
def test_each_process_down_is_said_in_a_sentence():
    beat("engine", Component.ENGINE, ago=600)
    beat("engine deadline checks", Component.ENGINE, ago=600)
    beat("ingest 77", Component.INGEST, pid=77, ago=600)
    beat("mqtt", Component.MQTT, ago=600)
    beat("bus announcer", Component.BUS, ago=600)
    beat("engine shard 1 of 2", Component.ENGINE, ago=600)
    status = assess()
    said = sorted(p.message.split(" since")[0] for p in status.problems)
    assert said == [
        "Engine shard 1 of 2 is down",
        "The MQTT subscriber has been down",
        "The bus announcer has been down",
        "The engine worker is down",
        "The engine's deadline checks have been down",
        "The ingest receiver has been down",
    ]
    told = sorted(n.split(" (since")[0] for n in status.notices)
    assert told == [
        "Device data is not being evaluated at the moment",
        "Silent tags are not being noticed at the moment",
        "Some device data is not being evaluated at the moment",
        "Some devices' readings are not being received",
    ]


def test_lateness_reads_as_people_say_it():
    assert how_long(45) == "45 seconds"
    assert how_long(12 * 60 + 10) == "12 minutes"
    assert how_long(3 * 3600 + 5 * 60) == "3 hours 5 minutes"


# The monitoring centre ---------------------------------------------------------------------------------


def evaluation_failed_for(person: Person) -> Fault:
    try:
        raise ZeroDivisionError("division by zero in the curfew rule")
    except ZeroDivisionError as exc:
        fault = raise_fault(
            FaultKind.EVALUATION_FAILED, "RF-0001", f"Evaluation failed for RF-0001 ({person.name})",
            component=Component.ENGINE, device="RF-0001", person=person, rule="curfew", exc=exc,
        )  # fmt: skip
    assert fault is not None
    return fault


@pytest.mark.django_db
def test_the_centre_shows_a_banner_when_a_worker_is_down(personas, case):
    running_service()
    Heartbeat.objects.filter(name="engine shard 2 of 2").update(beat_at=timezone.now() - timedelta(minutes=5))
    evaluation_failed_for(case)
    html = client_for(personas["operator"]).get("/centre/").content.decode()
    assert "Monitoring is degraded" in html
    assert "Engine shard 2 of 2 is down since" in html
    # The operational alert: what, whose, and the traceback for operators.
    assert 'id="operational-alerts"' in html and "Evaluation failed for RF-0001 (Sam Example)" in html
    assert "Details for operators" in html and "ZeroDivisionError: division by zero in the curfew rule" in html
    assert "Mark resolved" in html
    # The centre shows the full banner, not the practitioners' short one as well.
    assert 'id="service-notice"' not in html


@pytest.mark.django_db
def test_the_centre_has_no_banner_when_all_is_well(personas, case):
    running_service()
    html = client_for(personas["operator"]).get("/centre/").content.decode()
    assert "Monitoring is degraded" not in html and "None open" in html


@pytest.mark.django_db
def test_an_operator_marks_an_alert_resolved_and_it_is_audited(personas, case):
    fault = evaluation_failed_for(case)
    client = client_for(personas["operator"])
    r = client.post(f"/centre/faults/{fault.pk}/resolve/", {"note": "Re-fitted the tag"})
    assert r.status_code == 302 and r["Location"].endswith("/centre/#operational-alerts")
    fault.refresh_from_db()
    assert fault.resolved_at is not None
    event = AuditEvent.objects.get(action=AuditAction.CHANGE, object_type="Fault")
    assert event.actor == personas["operator"] and event.person_ref == "P0001"
    assert event.reason == "Re-fitted the tag" and "Evaluation failed for RF-0001" in event.summary
    assert "Marked resolved" in client.get("/centre/").content.decode()
    # A second click (or a second operator) changes nothing and says so.
    again = client.post(f"/centre/faults/{fault.pk}/resolve/", follow=True)
    assert "Already resolved" in again.content.decode()
    assert AuditEvent.objects.filter(action=AuditAction.CHANGE, object_type="Fault").count() == 1


@pytest.mark.django_db
def test_managers_see_their_teams_alerts_only_and_cannot_resolve_them(personas, case):
    fault = evaluation_failed_for(case)
    mine = client_for(personas["manager"]).get("/centre/").content.decode()
    assert "Evaluation failed for RF-0001" in mine and "Mark resolved" not in mine
    theirs = client_for(personas["other_manager"]).get("/centre/").content.decode()
    assert "Evaluation failed for RF-0001" not in theirs
    assert client_for(personas["manager"]).post(f"/centre/faults/{fault.pk}/resolve/").status_code == 403
    fault.refresh_from_db()
    assert fault.resolved_at is None


@pytest.mark.django_db
@pytest.mark.parametrize(
    "persona,status",
    [("practitioner", 403), ("other", 403), ("manager", 403), ("other_manager", 403),
     ("operator", 302), ("police", 403), ("vlo", 403), ("admin", 302)],
)  # fmt: skip
def test_who_may_resolve_an_operational_alert(personas, case, persona, status):
    fault = evaluation_failed_for(case)
    assert client_for(personas[persona]).post(f"/centre/faults/{fault.pk}/resolve/").status_code == status
    fault.refresh_from_db()
    assert (fault.resolved_at is not None) == (status == 302)


@pytest.mark.django_db
def test_resolving_needs_a_post_with_the_csrf_token(personas, case):
    fault = evaluation_failed_for(case)
    client = Client(enforce_csrf_checks=True)
    client.force_login(personas["operator"])
    assert client.post(f"/centre/faults/{fault.pk}/resolve/").status_code == 403
    assert client.get(f"/centre/faults/{fault.pk}/resolve/").status_code == 405
    fault.refresh_from_db()
    assert fault.resolved_at is None


# The practitioners' pages ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_practitioners_are_told_when_evaluation_is_late(personas, case, settings):
    settings.OPENEM_MAX_LAG_S = 300
    running_service(lag_s=12 * 60)
    client = client_for(personas["practitioner"])
    for url in ("/cases/", f"/people/{case.pk}/"):
        html = client.get(url).content.decode()
        assert 'id="service-notice"' in html, url
        assert "Device data is being evaluated 12 minutes late: statuses may be out of date" in html, url


@pytest.mark.django_db
def test_practitioners_are_told_when_a_worker_is_down(personas, case):
    running_service()
    Heartbeat.objects.filter(name="alerts").update(beat_at=timezone.now() - timedelta(minutes=5))
    html = client_for(personas["practitioner"]).get("/cases/").content.decode()
    assert "Alerts are not being sent at the moment (since " in html


@pytest.mark.django_db
def test_practitioners_see_no_notice_when_all_is_well(personas, case):
    running_service()
    html = client_for(personas["practitioner"]).get("/cases/").content.decode()
    assert 'id="service-notice"' not in html


@pytest.mark.django_db
def test_the_notice_is_reused_for_a_few_seconds(settings):
    from openem.health import status

    settings.OPENEM_STATUS_CACHE_S = 60
    status._cached = None
    running_service(lag_s=12 * 60)
    assert status.current_status().degraded
    Heartbeat.objects.all().delete()
    assert status.current_status().degraded  # the assessment of a moment ago, no query
    status._cached = None
