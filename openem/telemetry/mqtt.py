"""The MQTT receiver: a topic per device (``openem/devices/<id>/telemetry``), JSON payloads.

A payload is one reading object or JSON Lines of several. The device is the one in the topic; a
payload naming another device is rejected. Each object carries the device's key as ``key`` (removed
before it is stored: the secret is never kept); without the device's active key the reading is kept
as rejected, "not authenticated". The broker's own access control (a client may publish only to its
own topic) is a second wall, not the only one. Messages are stored before the callback returns, so with
QoS 1 the broker's acknowledgement follows durable storage.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt

from openem.devices.credentials import KeyChecker
from openem.engine.telemetry import ReadingError

from .ingest import KEY_PARAM, IngestResult, Unauthenticated, ingest_objects
from .models import Source

TOPIC = "openem/devices/+/telemetry"


def device_of(topic: str) -> str | None:
    parts = topic.split("/")
    return parts[-2] if len(parts) >= 3 and parts[-1] == "telemetry" else None


def handle(topic: str, payload: bytes, keys: KeyChecker | None = None) -> IngestResult:
    keys = keys or KeyChecker()
    device = device_of(topic)
    text = payload.decode("utf-8", errors="replace")
    items: list[tuple[int, str, Any]] = []
    for n, line in enumerate(text.splitlines() or [text], start=1):
        if not line.strip():
            continue
        try:
            obj: Any = json.loads(line)
        except json.JSONDecodeError as exc:
            items.append((n, line, ReadingError("(line)", f"not valid JSON at column {exc.colno}: {exc.msg}")))
            continue
        if isinstance(obj, dict):
            key = obj.pop(KEY_PARAM, None)
            if key is not None:
                line = json.dumps(obj)  # what is kept of a rejected reading holds no secret
            named = obj.setdefault("device", device)
            if named != device:
                obj = ReadingError("device", f'"{named}" does not match the topic\'s device "{device}"')
            elif problem := keys.problem(device, key if isinstance(key, str) else None):
                obj = Unauthenticated(KEY_PARAM, problem)
        items.append((n, line, obj))
    return ingest_objects(items, Source.MQTT)


class Subscriber:
    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 1883,
        topic: str = TOPIC,
        on_result: Callable[[str, IngestResult], None] | None = None,
    ) -> None:
        self.topic = topic
        self.on_result = on_result
        self.keys = KeyChecker()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="", clean_session=True)
        self.client.on_connect = self._connected
        self.client.on_message = self._message
        self.client.connect(host, port, keepalive=30)

    def _connected(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        client.subscribe(self.topic, qos=1)

    def _message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        result = handle(msg.topic, msg.payload, self.keys)
        if self.on_result:
            self.on_result(msg.topic, result)

    def loop(self, timeout: float = 1.0) -> None:
        self.client.loop(timeout)

    def forever(self) -> None:
        self.client.loop_forever()
