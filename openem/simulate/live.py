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

from .profiles import SimConfig
from .runner import Simulation


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
    sim = Simulation(config, start)
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

    try:
        for day, output in sim.days():
            for arrival, _device, lines in output.batches():
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
    finally:
        sim.close()
    return sent
