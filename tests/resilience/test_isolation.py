"""One device's, person's or item's problem never stops anyone else's monitoring: the engine and alerts
workers record it as an operational alert for the monitoring centre, skip it and go on."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from django.core import mail
from django.db.utils import OperationalError

from openem.alerts.models import Incident, Notification, NotificationStatus, Violation
from openem.alerts.worker import AlertsWorker
from openem.cases.casefile_io import import_casefile
from openem.cases.models import Condition, Order, Person
from openem.engine import casefile
from openem.engine import model as engine_model
from openem.engine.rules import curfew
from openem.health.models import Fault, FaultKind, Heartbeat
from openem.telemetry.ingest import ingest_jsonl
from openem.telemetry.worker import EngineWorker

from ..conftest import example

NIGHT = datetime(2026, 11, 10, 23, tzinfo=UTC)


def out_from_20(device: str) -> str:
    return "\n".join(
        json.dumps({"device": device, "time": f"2026-11-10T{h:02d}:00:00Z", "type": "rf", "in_range": h < 20})
        for h in range(18, 23)
    )


@pytest.fixture
def three_people(personas: dict[str, Any]) -> list[Person]:
    """Three people on the same curfew, each with a home unit RF-000n; all out from 20:00 on the 10th."""
    data = example()
    base = data["people"][0]
    people = []
    for n, name in enumerate(("Ann First", "Bo Second", "Cy Third"), start=1):
        p = json.loads(json.dumps(base))
        p.update(id=f"P000{n}", name=name, practitioner="alex.practitioner")
        p["orders"][0]["id"] = f"O000{n}"
        p["devices"] = [{"id": f"RF-000{n}", "kind": "rf", "fitted": "2026-11-01T15:00:00Z", "removed": None}]
        people.append(p)
    data["people"] = people
    import_casefile(casefile.parse(data), None, "test")
    return [Person.objects.get(ref=f"P000{n}") for n in (1, 2, 3)]


def absent(ref: str) -> bool:
    return Violation.objects.filter(person__ref=ref, type="curfew_absence", retracted=False).exists()


@pytest.mark.django_db
def test_a_rule_that_crashes_for_one_device_stops_nobody_else(three_people, monkeypatch) -> None:
    ingest_jsonl("\n".join(out_from_20(f"RF-000{n}") for n in (1, 2, 3)))
    real = curfew.evaluate

    def crash_on_bo(ctx: Any) -> Any:
        if ctx.frame.device == "RF-0002":
            raise ZeroDivisionError("the curfew rule fell over")
        return real(ctx)

    monkeypatch.setattr(curfew, "evaluate", crash_on_bo)
    worker = EngineWorker("t")
    result = worker.cycle(now=NIGHT)

    assert absent("P0001") and absent("P0003")  # everyone else is evaluated
    assert not absent("P0002")
    assert result.failed == 1
    fault = Fault.objects.open().get(kind=FaultKind.EVALUATION_FAILED.value)
    assert fault.device == "RF-0002" and fault.person.name == "Bo Second" and fault.rule == "curfew"
    assert "Bo Second" in fault.summary and "curfew rule" in fault.summary
    assert "ZeroDivisionError: the curfew rule fell over" in fault.detail  # the traceback, for whoever fixes it
    assert "crash_on_bo" in fault.detail
    # The centre's operators are told (the alerts worker sends it).
    assert Notification.objects.filter(user__role="operator", subject__contains="operational alert").exists()

    # Fixed (a new release), Bo's next readings are evaluated and the alert closes by itself.
    monkeypatch.setattr(curfew, "evaluate", real)
    ingest_jsonl(json.dumps({"device": "RF-0002", "time": "2026-11-10T22:30:00Z", "type": "rf", "in_range": False}))
    worker.cycle(now=NIGHT)
    assert absent("P0002")
    assert not Fault.objects.open().exists()


@pytest.mark.django_db
def test_a_crash_keeps_what_was_already_stored_for_that_device(three_people, monkeypatch) -> None:
    """A device whose evaluation fails keeps its stored violations: a crash retracts nothing."""
    ingest_jsonl(out_from_20("RF-0002"))
    worker = EngineWorker("t")
    worker.cycle(now=NIGHT)
    assert absent("P0002")
    monkeypatch.setattr(curfew, "evaluate", lambda ctx: 1 / 0)
    ingest_jsonl(json.dumps({"device": "RF-0002", "time": "2026-11-10T22:30:00Z", "type": "rf", "in_range": False}))
    worker.cycle(now=NIGHT)
    assert absent("P0002")
    assert Fault.objects.open().filter(device="RF-0002").exists()


@pytest.mark.django_db
def test_a_case_that_cannot_be_compiled_leaves_out_only_that_person(three_people, monkeypatch) -> None:
    ingest_jsonl("\n".join(out_from_20(f"RF-000{n}") for n in (1, 2, 3)))
    real = engine_model._compile_person

    def refuse_cy(p: Any) -> Any:
        if p.id == "P0003":
            raise ValueError("a zone that is not a polygon")
        return real(p)

    monkeypatch.setattr(engine_model, "_compile_person", refuse_cy)
    EngineWorker("t").cycle(now=NIGHT)
    assert absent("P0001") and absent("P0002") and not absent("P0003")
    fault = Fault.objects.open().get(kind=FaultKind.CASE_NOT_COMPILED.value)
    assert fault.person.name == "Cy Third"
    assert "RF-0003 not evaluated" in fault.summary and "not a polygon" in fault.detail


@pytest.mark.django_db
def test_a_stored_record_that_cannot_be_read_leaves_out_only_that_person(three_people) -> None:
    """A condition whose stored text no longer reads (a bad migration, a hand edit): once, the whole
    caseload's export failed and every cycle with it."""
    ingest_jsonl("\n".join(out_from_20(f"RF-000{n}") for n in (1, 2, 3)))
    Condition.objects.filter(order__person__ref="P0001", type="curfew").update(spec={"type": "curfew"})
    EngineWorker("t").cycle(now=NIGHT)
    assert absent("P0002") and absent("P0003") and not absent("P0001")
    assert Fault.objects.open().get(kind=FaultKind.CASE_NOT_COMPILED.value).person.name == "Ann First"
    # The write that broke it went through, and her order is listed as needing attention.
    assert Order.objects.get(person__ref="P0001").warning_count >= 1


@pytest.mark.django_db
def test_an_alerts_item_that_fails_is_recorded_and_skipped_not_retried_for_ever(three_people, monkeypatch) -> None:
    ingest_jsonl("\n".join(out_from_20(f"RF-000{n}") for n in (1, 2, 3)))
    EngineWorker("t").cycle(now=NIGHT)
    from openem.alerts import worker as alerts_worker

    bad = Violation.objects.get(person__ref="P0002", type="curfew_absence")
    real = alerts_worker.event_of

    def fail_on_bo(v: Any) -> Any:
        if v.pk == bad.pk:
            raise KeyError("evidence without its device")
        return real(v)

    monkeypatch.setattr(alerts_worker, "event_of", fail_on_bo)
    worker = AlertsWorker("t")
    first = worker.cycle(now=NIGHT)
    assert first.failed == 1
    assert Incident.objects.filter(person__ref="P0001").exists() and Incident.objects.filter(person__ref="P0003")
    fault = Fault.objects.open().get(kind=FaultKind.ALERTS_ITEM_FAILED.value)
    assert f"violation {bad.pk}" in fault.summary and fault.person.name == "Bo Second"
    # Not tried first again on every cycle (once, a poisoned item blocked the queue for ever).
    second = worker.cycle(now=NIGHT)
    assert second.failed == 0 and not Violation.objects.filter(triage_pending=True).exists()


@pytest.mark.django_db
def test_the_alerts_worker_stops_after_the_message_in_hand(incident, monkeypatch) -> None:
    """SIGTERM sets the stop flag: the message being sent is sent and recorded, the rest wait."""
    from openem.alerts import channels

    # Two messages due: the first is being sent when SIGTERM comes.
    first = Notification.objects.first()
    Notification.objects.update(status=NotificationStatus.PENDING, sent_at=None, next_attempt_at=NIGHT)
    Notification.objects.create(
        incident=incident, user=first.user, channel=first.channel, kind="immediate", subject="second", body="b",
        created=NIGHT, next_attempt_at=NIGHT,
    )  # fmt: skip
    due = Notification.objects.filter(status=NotificationStatus.PENDING).count()
    worker = AlertsWorker("t")
    real = channels.Email.send

    def send_then_sigterm(self: Any, n: Any) -> None:
        real(self, n)
        worker.stop.set()  # as the SIGTERM handler does, in the middle of the send

    monkeypatch.setattr(channels.Email, "send", send_then_sigterm)
    mail.outbox.clear()
    worker.run(interval_s=0.01, stop_after=5)
    assert len(mail.outbox) == 1  # sent once, and recorded as sent (not left pending, to be sent again)
    assert Notification.objects.filter(status=NotificationStatus.SENT).count() == 1
    assert Notification.objects.filter(status=NotificationStatus.PENDING).count() >= due - 1 >= 1
    assert Heartbeat.objects.get(name="alerts").stopped


@pytest.mark.django_db
def test_workers_wait_out_a_locked_database(three_people, monkeypatch) -> None:
    """ "database is locked" (SQLite under a long write) or a lost PostgreSQL connection is a wait, not an
    exit: the worker backs off, tries again and evaluates what arrived."""
    from openem.health import running

    ingest_jsonl(out_from_20("RF-0001"))
    worker = EngineWorker("t")
    real = worker.cycle
    calls = {"n": 0}

    def locked_twice(now: Any = None) -> Any:
        calls["n"] += 1
        if calls["n"] <= 2:
            raise OperationalError("database is locked")
        done = real(now=NIGHT)
        worker.stop.set()
        return done

    monkeypatch.setattr(worker, "cycle", locked_twice)
    monkeypatch.setattr(running.Backoff, "next", lambda self: 0.01)
    worker.run(interval_s=0.01, stop_after=10)
    assert calls["n"] == 3 and absent("P0001")

    alerts = AlertsWorker("t")
    real_alerts = alerts.cycle
    calls["n"] = 0

    def lost_once(now: Any = None) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            raise OperationalError("server closed the connection unexpectedly")
        done = real_alerts(now=NIGHT)
        alerts.stop.set()
        return done

    monkeypatch.setattr(alerts, "cycle", lost_once)
    alerts.run(interval_s=0.01, stop_after=10)
    assert Incident.objects.filter(person__ref="P0001").exists()


@pytest.mark.django_db
def test_readings_that_cannot_be_read_back_stop_only_their_device(three_people, monkeypatch) -> None:
    from openem.telemetry import cache as worker_module

    ingest_jsonl("\n".join(out_from_20(f"RF-000{n}") for n in (1, 2, 3)))
    real = worker_module.DeviceFrame.build

    def broken_for_cy(device: str, *args: Any, **kwargs: Any) -> Any:
        if device == "RF-0003":
            raise OverflowError("a value too large to convert")
        return real(device, *args, **kwargs)

    monkeypatch.setattr(worker_module.DeviceFrame, "build", broken_for_cy)
    EngineWorker("t").cycle(now=NIGHT)
    assert absent("P0001") and absent("P0002") and not absent("P0003")
    fault = Fault.objects.open().get(kind=FaultKind.EVALUATION_FAILED.value)
    assert fault.device == "RF-0003" and "failed while reading its readings" in fault.summary


def test_the_simulated_gateway_waits_when_told_to_and_sends_again() -> None:
    """A receiver that answers 429 with Retry-After (a rate limit) or 503 (busy) is sent to again, as a
    real gateway holding its readings until they are acknowledged would; the demo never loses them."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from openem.simulate.live import post_lines

    answers = [(429, b'{"error": "slow down"}'), (503, b'{"error": "busy"}'), (200, b'{"accepted": 2}')]
    seen: list[bytes] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            seen.append(self.rfile.read(int(self.headers["Content-Length"])))
            status, body = answers.pop(0)
            self.send_response(status)
            self.send_header("Retry-After", "0")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        result = post_lines(f"http://127.0.0.1:{server.server_port}/ingest/v1/telemetry", "t", b"a\nb\n")
    finally:
        server.shutdown()
    assert result == {"accepted": 2}
    assert seen == [b"a\nb\n"] * 3
