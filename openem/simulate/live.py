"""Live mode: feed a running OpenEM with the simulated caseload's readings as they would arrive.

Readings older than ``--live-from`` hours are sent at once; the rest are sent in accelerated time
(``--speed`` 60: a simulated hour a real minute) until the simulation catches up with now, then as
they fall due. Nothing is sent before it was measured, so the server never sees a reading from the
future. Readings go to the HTTP batch endpoint with a gateway token, like any device gateway.
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable
from datetime import date, timedelta

import numpy as np

from .devices import DayOutput, DeviceSimulator
from .population import TOWNS, local_epoch
from .profiles import SimConfig
from .runner import plan, world


def post_lines(url: str, token: str, body: bytes) -> dict[str, object]:
    req = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/x-ndjson"},
    )
    with urllib.request.urlopen(req, timeout=120) as resp:
        return dict(json.loads(resp.read()))


def run_live(
    config: SimConfig,
    url: str,
    token: str,
    speed: float = 60.0,
    live_from_h: float = 6.0,
    send: Callable[[str, str, bytes], dict[str, object]] = post_lines,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
    log: Callable[[str], None] = print,
    stop_at: float | None = None,
    skip_before: float | None = None,
) -> int:
    start = date.fromisoformat(config.start) if config.start else date.today() - timedelta(days=config.days - 1)
    people, timelines = plan(config, start)
    width = max([len(d) for p in people for d in p.devices.values()] + [8])
    sim = DeviceSimulator(world(), config.faults, config.seed, width)
    rng = np.random.default_rng([config.seed, 7])
    wall0 = clock()
    paced_from = wall0 - live_from_h * 3600
    if skip_before is not None:
        paced_from = max(paced_from, skip_before)  # what came before was loaded already
    sent = 0
    pending: list[bytes] = []

    def flush() -> None:
        nonlocal sent
        if pending:
            body = b"".join(pending)
            result = send(url, token, body)
            sent += int(result.get("accepted", 0))  # type: ignore[call-overload]
            if result.get("rejected"):
                log(f"live: {len(result['rejected'])} readings rejected, e.g. {result['rejected'][0]}")  # type: ignore[index, arg-type]
            pending.clear()

    for i in range(config.days):
        day = start + timedelta(days=i)
        d0, d1 = local_epoch(day, "00:00"), local_epoch(day, "24:00")
        outages = {
            a: (s, s + rng.uniform(1, 3) * 3600)
            for a in TOWNS
            if rng.random() < config.faults.network_outage_per_area_day
            for s in [d0 + rng.uniform(8, 20) * 3600]
        }
        output = DayOutput()
        for tl in timelines:
            bad_today = any(d == day for d, _ in tl.bad_days)
            sim.day(tl, i, d0, d1, outages.get(tl.person.area), output, bad_today)
        output.batches.sort(key=lambda b: (b[0], b[1]))
        for arrival, _device, lines in output.batches:
            if skip_before is not None and arrival <= skip_before:
                continue
            if stop_at is not None and arrival > stop_at:
                flush()
                return sent
            if arrival > paced_from:
                # Accelerated until caught up with now, then real time; never before it was measured.
                due = max(wall0 + (arrival - paced_from) / speed, arrival)
                wait = due - clock()
                if wait > 0:
                    flush()
                    sleep(wait)
            pending.append(lines)
            if len(pending) >= 200:
                flush()
        flush()
        log(f"live: day {day} sent, {sent} readings accepted so far")
    return sent
