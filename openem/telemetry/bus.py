"""The scale-out path: with OPENEM_BUS=nats://..., stored readings are announced on a NATS JetStream
stream partitioned by device, and each engine worker consumes one partition.

A message names the devices that have new stored readings; the reading itself stays in the database,
where it was durable before it was acknowledged. A worker acknowledges a message only after it has
stored the violations, so a worker killed mid-way gets the message again when it (or its replacement)
comes back, and re-evaluation is idempotent: nothing is lost and nothing is stored twice.
"""

from __future__ import annotations

import asyncio
import json
import zlib
from collections.abc import Iterable
from typing import Any

from django.conf import settings

DEFAULT_PARTITIONS = 4


def partition(device: str, partitions: int) -> int:
    return zlib.crc32(device.encode()) % partitions


def _names() -> tuple[str, str]:
    prefix = getattr(settings, "OPENEM_BUS_PREFIX", "openem")
    return f"{prefix.upper().replace('-', '_')}_READINGS", f"{prefix}.readings"


async def _ensure_stream(js: Any) -> None:
    from nats.js.api import StreamConfig

    stream, subject = _names()
    try:
        await js.stream_info(stream)
    except Exception:
        await js.add_stream(StreamConfig(name=stream, subjects=[f"{subject}.*"]))


def announce(devices: Iterable[str], url: str | None = None, partitions: int | None = None) -> None:
    """Publish, per partition, which devices have new readings (after the readings are committed)."""
    url = url or settings.OPENEM_BUS
    n = partitions or settings.OPENEM_BUS_PARTITIONS
    groups: dict[int, list[str]] = {}
    for d in sorted(set(devices)):
        groups.setdefault(partition(d, n), []).append(d)
    if not groups:
        return

    async def go() -> None:
        import nats

        nc = await nats.connect(url)
        js = nc.jetstream()
        await _ensure_stream(js)
        _, subject = _names()
        for k, devs in groups.items():
            await js.publish(f"{subject}.{k}", json.dumps({"devices": devs}).encode())
        await nc.drain()

    asyncio.run(go())


class PartitionConsumer:
    """A durable pull consumer for one partition; fetch, then ack only after the work is stored."""

    def __init__(self, k: int, url: str | None = None, ack_wait_s: float = 30.0) -> None:
        self.k = k
        self.url = url or settings.OPENEM_BUS
        self.ack_wait_s = ack_wait_s
        self.loop = asyncio.new_event_loop()
        self.loop.run_until_complete(self._connect())

    async def _connect(self) -> None:
        import nats
        from nats.js.api import ConsumerConfig

        self.nc = await nats.connect(self.url)
        self.js = self.nc.jetstream()
        await _ensure_stream(self.js)
        stream, subject = _names()
        self.sub = await self.js.pull_subscribe(
            f"{subject}.{self.k}",
            durable=f"engine-{self.k}",
            stream=stream,
            config=ConsumerConfig(ack_wait=self.ack_wait_s),
        )

    def fetch(self, batch: int = 200, timeout: float = 1.0) -> tuple[list[str], list[Any]]:
        async def go() -> list[Any]:
            try:
                return list(await self.sub.fetch(batch, timeout=timeout))
            except TimeoutError:
                return []
            except Exception as exc:  # nats raises its own timeout class
                if "Timeout" in type(exc).__name__:
                    return []
                raise

        msgs = self.loop.run_until_complete(go())
        devices = sorted({d for m in msgs for d in json.loads(m.data)["devices"]})
        return devices, msgs

    def ack(self, msgs: list[Any]) -> None:
        async def go() -> None:
            for m in msgs:
                await m.ack()

        self.loop.run_until_complete(go())

    def close(self) -> None:
        self.loop.run_until_complete(self.nc.close())
        self.loop.close()
