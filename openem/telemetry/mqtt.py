"""The MQTT receiver: a topic per device (``openem/devices/<id>/telemetry``), JSON payloads.

A payload is one reading object or JSON Lines of several. The device is the one in the topic; a
payload naming another device is rejected. Each object carries the device's key as ``key`` (removed
before it is stored: the secret is never kept); without the device's active key the reading is kept
as rejected, "not authenticated". The broker's own access control (a client may publish only to its
own topic) is a second wall, not the only one. Messages are stored before the callback returns, so with
QoS 1 the broker's acknowledgement follows durable storage.

Lines are decoded and checked as on the HTTP front door (``frontdoor``, ``ingest.decode_lines``): a bad
message (not JSON, a poison value, too large, a topic that names no device) is kept as rejected and the
subscriber goes on. A database that is locked or away is waited for with back-off, the message held in
memory meanwhile, and the subscriber never exits for it.
"""

from __future__ import annotations

import collections
import logging
import time
from collections.abc import Callable
from typing import Any

import orjson
import paho.mqtt.client as mqtt

from openem.devices.credentials import KeyChecker
from openem.engine.telemetry import ReadingError

from . import frontdoor
from .ingest import KEY_PARAM, IngestResult, Unauthenticated, decode_lines, drop_connection, ingest_objects
from .models import Source

log = logging.getLogger(__name__)

TOPIC = "openem/devices/+/telemetry"
MAX_HELD_MESSAGES = 10_000  # held in memory while the database is away; the oldest are dropped beyond


def device_of(topic: str) -> str | None:
    parts = topic.split("/")
    return parts[-2] if len(parts) >= 3 and parts[-1] == "telemetry" and parts[-2] else None


def items_of(topic: str, payload: bytes, keys: KeyChecker) -> list[tuple[int | None, bytes | str, Any]]:
    """A message's readings as ingest takes them, each with the error that makes it a rejected one."""
    device = device_of(topic)
    if len(payload) > frontdoor.max_body_bytes():
        why = f"the message is {len(payload):,} bytes; at most {frontdoor.max_body_bytes():,}"
        return [(None, payload[:4000], ReadingError("(message)", why))]
    if frontdoor.count_lines(payload) > frontdoor.max_lines():
        why = f"a message can hold at most {frontdoor.max_lines():,} lines: split it"
        return [(None, payload[:4000], ReadingError("(message)", why))]
    items: list[tuple[int | None, bytes | str, Any]] = []
    for n, line, obj in decode_lines(payload):
        if isinstance(obj, dict):
            key = obj.pop(KEY_PARAM, None)
            if key is not None:
                line = orjson.dumps(obj)  # what is kept of a rejected reading holds no secret
            named = obj.setdefault("device", device)
            if device is None:
                obj = ReadingError("topic", f"{topic[:80]!r} does not name a device (openem/devices/<id>/telemetry)")
            elif named != device:
                shown = named[:40] if isinstance(named, str) else named
                obj = ReadingError("device", f'"{shown}" does not match the topic\'s device "{device}"')
            elif problem := keys.problem(device, key if isinstance(key, str) else None):
                obj = Unauthenticated(KEY_PARAM, problem)
        items.append((n, line, obj))
    return items


def handle(topic: str, payload: bytes, keys: KeyChecker | None = None) -> IngestResult:
    """Store one message's readings (raises only when the database could not take them)."""
    keys = keys or KeyChecker()
    return ingest_objects(items_of(topic, payload, keys), Source.MQTT)


class Subscriber:
    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 1883,
        topic: str = TOPIC,
        on_result: Callable[[str, IngestResult], None] | None = None,
        handler: Callable[[str, bytes, KeyChecker], IngestResult] = handle,
    ) -> None:
        from openem.health.models import Component
        from openem.health.running import Backoff, Beat

        self.topic = topic
        self.on_result = on_result
        self.handler = handler
        self.keys = KeyChecker()
        self.beat = Beat("mqtt", Component.MQTT)
        self.held: collections.deque[tuple[str, bytes, float]] = collections.deque(maxlen=MAX_HELD_MESSAGES)
        self._backoff = Backoff(first=0.5, most=30.0)
        self._retry_at = 0.0
        self._reconnect_at = 0.0
        self._connect_backoff = Backoff(first=1.0, most=30.0)
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="", clean_session=True)
        self.client.on_connect = self._connected
        self.client.on_message = self._message
        self.host, self.port = host, port
        try:
            self.client.connect(host, port, keepalive=30)
        except OSError as exc:  # the broker is not up yet: ``loop`` connects when it is
            log.warning("mqtt: cannot reach %s:%s (%s); trying again", host, port, exc)

    def _connected(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        client.subscribe(self.topic, qos=1)
        self._connect_backoff.reset()

    def _message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        if self.held:  # behind others waiting for the database: in order, after them
            self.held.append((msg.topic, msg.payload, time.monotonic()))
            return
        self.receive(msg.topic, msg.payload)

    def receive(self, topic: str, payload: bytes) -> bool:
        """Store one message: True when done (stored, or kept as rejected), False when held for later
        because the database could not take it now."""
        from openem.health.running import is_transient

        try:
            result = self.handler(topic, payload, self.keys)
        except Exception as exc:
            drop_connection()
            if not is_transient(exc):  # not the database being away: trying again would fail again
                log.exception("mqtt: a message on %s could not be stored; it is dropped", topic[:80])
                self.beat.count(rejected_mqtt=1)
                return True
            log.warning("mqtt: database not available (%s); holding the message", exc)
            if len(self.held) == self.held.maxlen:
                log.error("mqtt: %d messages held; the oldest is dropped", len(self.held))
            self.held.append((topic, payload, time.monotonic()))
            self._retry_at = time.monotonic() + self._backoff.next()
            return False
        self._backoff.reset()
        self.beat.count(
            accepted_mqtt=result.accepted, rejected_mqtt=len(result.rejected), duplicates_mqtt=result.duplicates
        )
        for r in result.rejected:
            log.info("mqtt: %s: line %s: %s", topic[:80], r["line"], r["error"])
        if self.on_result:
            self.on_result(topic, result)
        return True

    def retry_held(self) -> None:
        """Try the held messages again, oldest first, once their back-off has passed."""
        while self.held and time.monotonic() >= self._retry_at:
            topic, payload, _at = self.held.popleft()
            if not self.receive(topic, payload):
                self.held.pop()  # ``receive`` put it at the back: it goes back to the front
                self.held.appendleft((topic, payload, _at))
                return

    def loop(self, timeout: float = 1.0) -> None:
        """One round: network events (reconnecting when the connection was lost), held messages, heartbeat."""
        code = self.client.loop(timeout)
        if code != mqtt.MQTT_ERR_SUCCESS:  # not connected: loop() returned at once
            if time.monotonic() >= self._reconnect_at:
                try:
                    self.client.reconnect()
                except OSError as exc:
                    wait = self._connect_backoff.next()
                    log.warning("mqtt: broker unreachable (%s); trying again in %.0f s", exc, wait)
                    self._reconnect_at = time.monotonic() + wait
            time.sleep(max(0.0, min(timeout, self._reconnect_at - time.monotonic())))
        self.retry_held()
        oldest = self.held[0][2] if self.held else None
        detail = f"{len(self.held)} messages wait for the database" if self.held else ""
        lag = None if oldest is None else round(time.monotonic() - oldest, 3)
        self.beat(lag_s=lag, backlog=len(self.held), detail=detail)

    def forever(self, stop: Any = None) -> None:
        """Until ``stop`` (a StopFlag) is set: never exits on a bad message or a database error."""
        from openem.health.running import StopFlag

        stop = stop if stop is not None else StopFlag()
        while not stop:
            try:
                self.loop(1.0)
            except Exception:  # whatever it was, the subscriber goes on
                log.exception("mqtt: loop failed; going on")
                stop.wait(1.0)
        self.client.disconnect()
        self.beat.stopped()
