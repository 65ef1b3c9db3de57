"""The scale-out path: with OPENEM_BUS=nats://..., stored readings are announced on a NATS JetStream
stream partitioned by device, and each engine worker consumes one partition.

A message names the devices that have new stored readings; the reading itself stays in the database,
where it was durable before it was acknowledged. Ingest never talks to the bus: the readings table is
the outbox, and the bus announcer (``openem.telemetry.outbox``) publishes what was stored, so a bus that
is down delays evaluation on this path but never stops or slows ingest. A worker acknowledges a message
only after it has stored the violations, so a worker killed mid-way gets the message again when it (or
its replacement) comes back, and re-evaluation is idempotent: nothing is lost and nothing is stored twice.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import threading
import zlib
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from django.conf import settings

log = logging.getLogger(__name__)

DEFAULT_PARTITIONS = 4
MAX_DEVICES_PER_MESSAGE = 2_000  # a message stays far below NATS's 1 MB payload limit
T = TypeVar("T")


def partition(device: str, partitions: int) -> int:
    return zlib.crc32(device.encode()) % partitions


def _names() -> tuple[str, str]:
    prefix = getattr(settings, "OPENEM_BUS_PREFIX", "openem")
    return f"{prefix.upper().replace('-', '_')}_READINGS", f"{prefix}.readings"


async def _ensure_stream(js: Any) -> None:
    from nats.js.api import StreamConfig
    from nats.js.errors import NotFoundError

    stream, subject = _names()
    try:
        await js.stream_info(stream)
    except NotFoundError:
        await js.add_stream(StreamConfig(name=stream, subjects=[f"{subject}.*"]))


class BusUnavailable(RuntimeError):
    """The bus could not be reached, or did not confirm in time: nothing was lost, try again later."""


class Connection:
    """One NATS connection for the process, on an event loop in a thread of its own: the client answers the
    server's pings and notices a lost server while the process is busy with the database. A lost connection
    is not reconnected in the background: the next ``run`` connects afresh (and ``on_connect`` sets up the
    stream and any subscription again), so the caller decides how often to try and sees every failure."""

    def __init__(
        self,
        url: str | None = None,
        on_connect: Callable[[Any], Awaitable[None]] = _ensure_stream,
        timeout_s: float = 5.0,
    ) -> None:
        self.url = url or settings.OPENEM_BUS
        self.on_connect = on_connect
        self.timeout_s = timeout_s
        self.nc: Any = None
        self.js: Any = None
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="nats", daemon=True)
        self._thread.start()

    async def _ensure(self) -> Any:
        if self.nc is not None and self.nc.is_connected:
            return self.js
        await self._drop()
        import nats

        async def quiet(exc: Exception) -> None:  # the caller reports the failure once, without a traceback
            log.debug("nats: %s", exc)

        self.nc = await nats.connect(
            self.url,
            allow_reconnect=False,  # see the class: reconnecting is the caller's loop
            max_reconnect_attempts=1,
            reconnect_time_wait=0,
            connect_timeout=max(1, round(self.timeout_s / 2)),
            error_cb=quiet,
            name="openem",
        )
        self.js = self.nc.jetstream(timeout=self.timeout_s)
        await self.on_connect(self.js)
        return self.js

    async def _drop(self) -> None:
        nc, self.nc, self.js = self.nc, None, None
        if nc is not None and not nc.is_closed:
            try:
                await asyncio.wait_for(nc.close(), self.timeout_s)
            except Exception as exc:
                log.debug("nats: closing a lost connection: %s", exc)

    def run(self, work: Callable[[Any], Awaitable[T]], timeout_s: float | None = None) -> T:
        """``await work(js)`` on the connection's loop, connecting first if need be. A bus that cannot be
        reached or does not answer within ``timeout_s`` raises BusUnavailable, and the connection is dropped
        so that the next call starts afresh."""
        from nats.errors import Error as NatsError

        async def go() -> T:
            try:
                return await work(await self._ensure())
            except (NatsError, OSError, TimeoutError) as exc:
                await self._drop()
                raise BusUnavailable(f"{self.url}: {str(exc) or type(exc).__name__}") from exc

        future = asyncio.run_coroutine_threadsafe(go(), self.loop)
        try:
            return future.result(timeout_s if timeout_s is not None else 3 * self.timeout_s)
        except concurrent.futures.TimeoutError as exc:
            future.cancel()
            asyncio.run_coroutine_threadsafe(self._drop(), self.loop)
            raise BusUnavailable(f"{self.url}: no answer in time") from exc

    def publish(self, devices: set[str] | list[str], partitions: int) -> int:
        """Announce, per partition, which devices have new readings, and wait until JetStream has stored
        every message (BusUnavailable otherwise: then announce them all again). Returns the messages sent.
        With no devices it only connects, if need be: a bus that went away is noticed while idle too."""
        groups: dict[int, list[str]] = {}
        for d in sorted(set(devices)):
            groups.setdefault(partition(d, partitions), []).append(d)
        _, subject = _names()
        messages = [
            (f"{subject}.{k}", json.dumps({"devices": devs[i : i + MAX_DEVICES_PER_MESSAGE]}).encode())
            for k, devs in sorted(groups.items())
            for i in range(0, len(devs), MAX_DEVICES_PER_MESSAGE)
        ]

        async def send(js: Any) -> int:
            # Every publish is waited for, failed or not, before the first failure is raised.
            results = await asyncio.gather(*(js.publish(subj, data) for subj, data in messages), return_exceptions=True)
            for result in results:
                if isinstance(result, BaseException):
                    raise result
            return len(messages)

        return self.run(send)

    def close(self) -> None:
        if self.loop.is_closed():
            return
        try:
            asyncio.run_coroutine_threadsafe(self._drop(), self.loop).result(self.timeout_s + 1)
        except Exception as exc:
            log.debug("nats: closing: %s", exc)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=5)
        if not self._thread.is_alive():
            self.loop.close()


class PartitionConsumer:
    """A durable pull consumer for one partition; fetch, then ack only after the work is stored. The bus
    going away raises BusUnavailable from ``fetch`` or ``ack`` (the caller waits and tries again): the next
    call reconnects and subscribes again, and JetStream sends anything not acknowledged again."""

    def __init__(self, k: int, url: str | None = None, ack_wait_s: float = 30.0) -> None:
        self.k = k
        self.ack_wait_s = ack_wait_s
        self.sub: Any = None
        self.lag_s = 0.0  # how long the oldest message of the last fetch waited in the stream
        self.backlog = 0  # messages still waiting after the last fetch
        self.bus = Connection(url, on_connect=self._subscribe)

    async def _subscribe(self, js: Any) -> None:
        from nats.js.api import ConsumerConfig

        await _ensure_stream(js)
        stream, subject = _names()
        self.sub = await js.pull_subscribe(
            f"{subject}.{self.k}",
            durable=f"engine-{self.k}",
            stream=stream,
            config=ConsumerConfig(ack_wait=self.ack_wait_s),
        )

    def fetch(self, batch: int = 200, timeout: float = 1.0) -> tuple[list[str], list[Any]]:
        async def go(js: Any) -> list[Any]:
            try:
                return list(await self.sub.fetch(batch, timeout=timeout))
            except TimeoutError:  # nats's own timeout is one too
                return []  # nothing waiting (a lost connection shows on the next call)

        msgs = self.bus.run(go, timeout + 3 * self.bus.timeout_s)
        devices = sorted({d for m in msgs for d in json.loads(m.data)["devices"]})
        self.lag_s, self.backlog = 0.0, 0
        if msgs:
            oldest = min(m.metadata.timestamp for m in msgs)
            self.lag_s = max(0.0, (datetime.now(UTC) - oldest).total_seconds())
            self.backlog = msgs[-1].metadata.num_pending
        return devices, msgs

    def ack(self, msgs: list[Any]) -> None:
        async def go(js: Any) -> None:
            # An acknowledgement is a message to the reply subject, on whichever connection is up now (the
            # one a message came on may have been lost while it was evaluated).
            for m in msgs:
                await self.bus.nc.publish(m.reply)
            await self.bus.nc.flush(timeout=self.bus.timeout_s)

        self.bus.run(go)

    def close(self) -> None:
        self.bus.close()
