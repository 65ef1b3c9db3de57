"""From stored violations to incidents, notifications, escalation, digests and channels."""

from __future__ import annotations

import json
import threading
import uuid
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.core import mail

from openem.alerts.channels import signature
from openem.alerts.models import (
    Channel,
    ChannelKind,
    ClearReason,
    Incident,
    IncidentStatus,
    Notification,
    NotificationKind,
    NotificationStatus,
)
from openem.alerts.worker import AlertsWorker
from openem.telemetry.ingest import ingest_jsonl
from openem.telemetry.worker import EngineWorker
from tests.conftest import NIGHT, rf


@pytest.mark.django_db
def test_a_high_risk_curfew_absence_reaches_the_practitioner_at_once(night, personas):
    worker = AlertsWorker("t")
    r = worker.cycle(now=NIGHT)
    incident = Incident.objects.get(person=night, kind="behaviour")
    assert incident.kind == "behaviour" and incident.status == IncidentStatus.OPEN
    assert incident.severity in ("high", "critical") and incident.ack_due is not None
    assert r.sent == 1 and len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["alex.practitioner@openem.example"]
    assert "Curfew absence" in message.subject and "Sam Example" in message.subject
    assert f"/alerts/{incident.pk}/" in message.body and "6d" in message.body
    # The tag comes back: the incident is updated, nobody is told twice.
    ingest_jsonl(rf(22, 40, True))
    EngineWorker("t").cycle(now=NIGHT + timedelta(minutes=10))
    worker.cycle(now=NIGHT + timedelta(minutes=10))
    incident.refresh_from_db()
    assert incident.end is not None and Incident.objects.filter(kind="behaviour").count() == 1
    assert len(mail.outbox) == 1


@pytest.mark.django_db
def test_an_unacknowledged_incident_is_escalated_to_the_team_manager(night, personas):
    worker = AlertsWorker("t")
    worker.cycle(now=NIGHT)
    incident = Incident.objects.get(kind="behaviour")
    late = incident.ack_due + timedelta(minutes=1)
    r = worker.cycle(now=late)
    assert r.escalated == 1
    assert any(m.to == ["morgan.manager@openem.example"] and "escalation" in m.subject for m in mail.outbox)
    incident.refresh_from_db()
    assert incident.escalated_at is not None
    assert worker.cycle(now=late + timedelta(hours=1)).escalated == 0  # once
    # An acknowledged incident is never escalated.
    other = Incident.objects.create(
        person=night, kind="behaviour", severity="low", start=NIGHT, summary="x", ack_due=NIGHT
    )
    other.acknowledge(personas["practitioner"])
    assert worker.cycle(now=late + timedelta(hours=2)).escalated == 0


@pytest.mark.django_db
def test_a_low_risk_absence_goes_in_the_next_morning_digest(night, personas):
    night.rosh, night.mappa_level, night.flags = "low", None, []
    night.save()
    worker = AlertsWorker("t")
    worker.cycle(now=NIGHT)
    assert [m.subject for m in mail.outbox] == [] and Incident.objects.get(kind="behaviour").delivery == "digest"
    morning = datetime(2026, 11, 11, 8, 5, tzinfo=UTC)
    r = worker.cycle(now=morning)
    (digest,) = [m for m in mail.outbox if m.to == ["alex.practitioner@openem.example"]]
    assert r.digests == 1 and "digest" in digest.subject and "Curfew absence" in digest.body
    # Its acknowledgement timer started with the digest, so nobody was escalated to overnight.
    assert not Incident.objects.get(kind="behaviour").escalated_at
    assert worker.cycle(now=morning + timedelta(hours=1)).digests == 0  # one a day


@pytest.mark.django_db
def test_a_retracted_violation_withdraws_its_incident(night, personas):
    from openem.alerts.models import Violation

    AlertsWorker("t").cycle(now=NIGHT)
    Violation.objects.update(retracted=True, triage_pending=True)
    AlertsWorker("t").cycle(now=NIGHT)
    incident = Incident.objects.get(kind="behaviour")
    assert incident.status == IncidentStatus.CLEARED and incident.clear_reason == ClearReason.RETRACTED


class Receiver(BaseHTTPRequestHandler):
    status = 200
    got: list[tuple[dict, bytes, str]] = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).got.append((dict(self.headers), body, self.path))
        self.send_response(type(self).status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(json.dumps({"id": str(uuid.uuid4())}).encode())

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    Receiver.got, Receiver.status = [], 200
    server = HTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}", Receiver
    server.shutdown()


@pytest.mark.django_db
def test_a_signed_webhook_is_sent_and_retried_with_back_off_until_it_gives_up(night, personas, receiver):
    base, handler = receiver
    Channel.objects.create(user=personas["practitioner"], kind=ChannelKind.WEBHOOK, target=f"{base}/hook", secret="s3")
    worker = AlertsWorker("t")
    handler.status = 503
    worker.cycle(now=NIGHT)
    n = Notification.objects.get()
    assert n.status == NotificationStatus.PENDING and n.attempts == 1 and "503" in n.last_error
    assert n.next_attempt_at == NIGHT + timedelta(seconds=30)
    assert worker.cycle(now=NIGHT + timedelta(seconds=10)).sent == 0  # not before its time
    handler.status = 200
    assert worker.cycle(now=NIGHT + timedelta(seconds=31)).sent == 1
    headers, body, _ = handler.got[-1]
    stamp = headers["OpenEM-Timestamp"]
    assert headers["OpenEM-Signature"] == "sha256=" + signature("s3", stamp, body)
    payload = json.loads(body)
    assert payload["incident"]["crn"] == "X123456" and payload["incident"]["kind"] == "behaviour"
    # A refusal (4xx) is permanent at once: failed, with the reason, for an operator to see.
    Notification.objects.update(status=NotificationStatus.PENDING, attempts=0)
    handler.status = 410
    worker.cycle(now=NIGHT + timedelta(minutes=5))
    n.refresh_from_db()
    assert n.status == NotificationStatus.FAILED and "410" in n.last_error


@pytest.mark.django_db
def test_gov_uk_notify_gets_the_message_through_its_client(night, personas, receiver, settings):
    base, handler = receiver
    settings.OPENEM_NOTIFY_BASE_URL = base
    settings.OPENEM_NOTIFY_API_KEY = f"openem_test-{uuid.uuid4()}-{uuid.uuid4()}"
    settings.OPENEM_NOTIFY_TEMPLATE_ID = str(uuid.uuid4())
    Channel.objects.create(user=personas["practitioner"], kind=ChannelKind.NOTIFY, target="alex@probation.example")
    AlertsWorker("t").cycle(now=NIGHT)
    headers, body, path = handler.got[-1]
    sent = json.loads(body)
    assert path == "/v2/notifications/email" and headers["Authorization"].startswith("Bearer ")
    assert sent["email_address"] == "alex@probation.example"
    assert sent["template_id"] == settings.OPENEM_NOTIFY_TEMPLATE_ID
    assert "Curfew absence" in sent["personalisation"]["subject"]
    assert Notification.objects.get().status == NotificationStatus.SENT


@pytest.mark.django_db
def test_notify_without_configuration_fails_visibly(night, personas):
    Channel.objects.create(user=personas["practitioner"], kind=ChannelKind.NOTIFY, target="alex@probation.example")
    AlertsWorker("t").cycle(now=NIGHT)
    n = Notification.objects.get()
    assert n.status == NotificationStatus.FAILED and "not configured" in n.last_error


@pytest.mark.django_db
def test_every_notification_is_recorded(night, personas):
    AlertsWorker("t").cycle(now=NIGHT)
    n = Notification.objects.get()
    assert (n.kind, n.user, n.status) == (NotificationKind.IMMEDIATE, personas["practitioner"], "sent")
    assert n.incident.actions.filter(kind="notified").exists()


@pytest.mark.django_db
def test_the_notification_policy_is_configurable(night, personas):
    from django.test import Client

    from openem.alerts.models import NotificationRule

    rules = list(NotificationRule.objects.all())
    assert len(rules) == 4 and "6d" in rules[0].name  # the defaults, seeded as editable rows
    admin = Client()
    admin.force_login(personas["admin"])
    assert "recommendation 6d" in admin.get("/admin/alerts/notificationrule/").content.decode()
    # Switch off the rules that send at once: Sam's absence (high risk, over two hours: critical) now waits
    # for the digest.
    NotificationRule.objects.exclude(delivery="digest").update(enabled=False)
    AlertsWorker("t").cycle(now=NIGHT)
    assert len(mail.outbox) == 0 and Incident.objects.get(kind="behaviour").delivery == "digest"
