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


def fix(**kw):
    return json.dumps({"time": "2026-11-10T12:00:00Z", "type": "fix", "lat": 52.67, "lon": -0.73, **kw})


@pytest.mark.django_db
def test_a_payload_is_one_reading_or_several_and_the_topic_names_the_device():
    Device.objects.create(ref="GPS-0001", kind="gps")
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
    unknown = handle("openem/devices/GPS-9999/telemetry", fix().encode())
    assert unknown.accepted == 0 and unknown.rejected[0]["error"] == 'device: "GPS-9999" is not a known device'


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

    Device.objects.create(ref="GPS-0007", kind="gps")
    prefix = f"test-{uuid.uuid4().hex[:8]}"
    topic = f"{prefix}/devices/+/telemetry"
    results = []
    sub = Subscriber(topic=topic, on_result=lambda t, r: results.append(r))
    for _ in range(20):
        sub.loop(0.1)  # connect and subscribe
    pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    pub.connect("127.0.0.1", 1883)
    pub.loop_start()
    info = pub.publish(f"{prefix}/devices/GPS-0007/telemetry", fix(seq=1), qos=1)
    info.wait_for_publish(5)
    deadline = time.time() + 10
    while not results and time.time() < deadline:
        sub.loop(0.2)
    pub.loop_stop()
    assert results and results[0].accepted == 1
    assert Reading.objects.get(device="GPS-0007").source == "mqtt"
