"""MQTT: a bad message is kept as rejected and the subscriber goes on; a database that is away is waited
for, the message held meanwhile; the subscriber reports its heartbeat and counts."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest
from django.db.utils import OperationalError

from openem.devices.models import Device
from openem.health.models import Heartbeat
from openem.telemetry.models import Reading, RejectedReading
from openem.telemetry.mqtt import Subscriber, handle

from ..test_mqtt import _broker_up

TOPIC = "openem/devices/GPS-0001/telemetry"


def enrol(ref: str = "GPS-0001") -> str:
    from openem.devices.credentials import issue_key

    return issue_key(Device.objects.create(ref=ref, kind="gps"))


def message(key: str, n: int = 0, **kw: Any) -> bytes:
    reading = {"time": f"2026-11-10T12:00:{n:02d}Z", "type": "fix", "lat": 52.67, "lon": -0.73, "seq": n, "key": key}
    return json.dumps({**reading, **kw}).encode()


def subscriber(**kw: Any) -> Subscriber:
    """A subscriber not connected to any broker (port 9: nothing listens): its handler is what is tested."""
    return Subscriber(port=9, **kw)


@pytest.mark.django_db
def test_poison_messages_are_kept_as_rejected_and_the_next_good_one_is_stored():
    key = enrol()
    sub = subscriber()
    poison = [
        (TOPIC, message(key, 1, seq=2**64 - 1)),
        (TOPIC, b'{"time": "2026-11-10T12:00:00Z", "type": "fix", "lat": NaN, "lon": 0}'),
        (TOPIC, b"\xff\xfe\x00 not json"),
        (TOPIC, message(key, 2, battery=10**400)),
        (TOPIC, message(key, 3, time="9999-12-31T23:59:59Z")),
        (TOPIC, b"[" * 5000 + b"]" * 5000),
        (TOPIC, message(key, 4, vendor="x" * 5000)),
        ("openem/devices//telemetry", message(key, 5)),
        ("somewhere/else", message(key, 6)),
    ]
    for topic, payload in poison:
        assert sub.receive(topic, payload)
    assert sub.receive(TOPIC, message(key, 7))
    assert list(Reading.objects.values_list("seq", flat=True)) == [7]
    assert RejectedReading.objects.filter(source="mqtt").count() == len(poison)
    assert not any(key in r.raw for r in RejectedReading.objects.all())  # the key is never kept
    assert sub.beat.counters["accepted_mqtt"] == 1 and sub.beat.counters["rejected_mqtt"] == len(poison)
    fields = {r.field for r in RejectedReading.objects.all()}
    assert {"seq", "(line)", "time", "topic"} <= fields


@pytest.mark.django_db
def test_an_oversized_message_is_one_rejected_reading(settings):
    settings.OPENEM_INGEST_MAX_BODY_BYTES = 10_000
    key = enrol()
    r = handle(TOPIC, b"\n".join(message(key, n % 60) for n in range(200)))
    assert r.accepted == 0 and r.rejected[0]["field"] == "(message)" and "at most 10,000" in r.rejected[0]["error"]


@pytest.mark.django_db
def test_a_locked_database_holds_the_message_and_it_is_stored_when_the_database_is_back():
    key = enrol()
    failures = [OperationalError("database is locked")] * 2

    def flaky(topic: str, payload: bytes, keys: Any) -> Any:
        if failures:
            raise failures.pop()
        return handle(topic, payload, keys)

    sub = subscriber(handler=flaky)
    assert not sub.receive(TOPIC, message(key, 1))
    assert len(sub.held) == 1 and not Reading.objects.exists()
    sub._message(None, None, type("M", (), {"topic": TOPIC, "payload": message(key, 2)})())  # queued behind it
    for _ in range(3):
        sub._retry_at = 0.0  # the back-off has passed
        sub.retry_held()
    assert not sub.held
    assert sorted(Reading.objects.values_list("seq", flat=True)) == [1, 2]
    sub.loop(0.01)  # the broker is away too: the loop goes on, and the heartbeat is written
    beat = Heartbeat.objects.get(name="mqtt")
    assert beat.counters["accepted_mqtt"] == 2 and beat.component == "mqtt"


@pytest.mark.django_db
@pytest.mark.skipif(not _broker_up(), reason="no MQTT broker on 127.0.0.1:1883")
def test_round_trip_a_poison_message_then_a_good_one_through_mosquitto():
    import paho.mqtt.client as mqtt

    key = enrol("GPS-0008")
    prefix = f"test-{uuid.uuid4().hex[:8]}"
    results: list[Any] = []
    sub = Subscriber(topic=f"{prefix}/devices/+/telemetry", on_result=lambda t, r: results.append(r))
    for _ in range(20):
        sub.loop(0.1)  # connect and subscribe
    pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    pub.connect("127.0.0.1", 1883)
    pub.loop_start()
    topic = f"{prefix}/devices/GPS-0008/telemetry"
    pub.publish(topic, message(key, 1, seq=2**64 - 1), qos=1).wait_for_publish(5)
    pub.publish(topic, message(key, 2), qos=1).wait_for_publish(5)
    deadline = time.time() + 10
    while len(results) < 2 and time.time() < deadline:
        sub.loop(0.2)
    pub.loop_stop()
    assert [(r.accepted, len(r.rejected)) for r in results] == [(0, 1), (1, 0)]
    assert Reading.objects.get(device="GPS-0008").seq == 2
