"""MQTT: a topic per device, JSON payloads, tested against the local Mosquitto."""

from __future__ import annotations

import json
import socket
import time
import uuid

import pytest

from openem.devices.models import Device
from openem.telemetry.models import Reading, RejectedReading
from openem.telemetry.mqtt import Subscriber, handle

KEYS: dict[str, str] = {}


def enrol(ref: str) -> None:
    from openem.devices.credentials import issue_key

    KEYS[ref] = issue_key(Device.objects.create(ref=ref, kind="gps"))


def fix(key_of: str = "GPS-0001", **kw):
    """A fix as a device sends it, with the key of the device ``key_of``."""
    reading = {"time": "2026-11-10T12:00:00Z", "type": "fix", "lat": 52.67, "lon": -0.73, **kw}
    return json.dumps({**reading, "key": KEYS.get(key_of, "no-such-key")})


@pytest.mark.django_db
def test_a_payload_is_one_reading_or_several_and_the_topic_names_the_device():
    enrol("GPS-0001")
    r = handle("openem/devices/GPS-0001/telemetry", fix().encode())
    assert r.accepted == 1 and Reading.objects.get().device == "GPS-0001"
    lines = "\n".join(
        [
            fix(time="2026-11-10T12:01:00Z"),
            fix(time="2026-11-10T12:02:00Z", lat=95),
            fix(time="2026-11-10T12:03:00Z", device="GPS-0002"),
        ]
    )
    r = handle("openem/devices/GPS-0001/telemetry", lines.encode())
    assert r.accepted == 1
    assert [x["field"] for x in r.rejected] == ["lat", "device"]
    assert "does not match the topic's device" in RejectedReading.objects.get(field="device").reason
    stranger = handle("openem/devices/GPS-9999/telemetry", fix("GPS-9999").encode())
    assert stranger.accepted == 0
    assert stranger.rejected[0]["error"] == "not authenticated: the key is not this device's active key"
    # The key is never kept, not even in a rejected reading.
    assert not any(key in r.raw for r in RejectedReading.objects.all() for key in KEYS.values())


def _broker_up() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 1883), timeout=1).close()
        return True
    except OSError:
        return False


@pytest.mark.django_db
@pytest.mark.skipif(not _broker_up(), reason="no MQTT broker on 127.0.0.1:1883")
def test_round_trip_through_mosquitto():
    import paho.mqtt.client as mqtt

    enrol("GPS-0007")
    prefix = f"test-{uuid.uuid4().hex[:8]}"
    topic = f"{prefix}/devices/+/telemetry"
    results = []
    sub = Subscriber(topic=topic, on_result=lambda t, r: results.append(r))
    for _ in range(20):
        sub.loop(0.1)  # connect and subscribe
    pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    pub.connect("127.0.0.1", 1883)
    pub.loop_start()
    info = pub.publish(f"{prefix}/devices/GPS-0007/telemetry", fix("GPS-0007", seq=1), qos=1)
    info.wait_for_publish(5)
    deadline = time.time() + 10
    while not results and time.time() < deadline:
        sub.loop(0.2)
    pub.loop_stop()
    assert results and results[0].accepted == 1
    assert Reading.objects.get(device="GPS-0007").source == "mqtt"
