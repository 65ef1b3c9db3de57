"""Live mode: feed a running OpenEM with the simulated caseload's readings as they would arrive.

Readings older than ``--live-from`` hours are sent at once; the rest are sent in accelerated time
(``--speed`` 60: a simulated hour a real minute) until the simulation catches up with now, then as
they fall due. Nothing is sent before it was measured, so the server never sees a reading from the
future. Readings go to the HTTP batch endpoint with a gateway token, like any device gateway; the
GPS tags given ``device_keys`` send their fixes themselves, as Traccar Client does (OsmAnd, one request
a fix, the device's key in the URL's path), and the rest of their readings through the gateway.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from datetime import date, timedelta

import orjson

from .profiles import SimConfig
from .runner import Simulation

RETRY_STATUSES = (429, 502, 503, 504)
MAX_TRIES = 12


def _send(req: urllib.request.Request, timeout: float, sleep: Callable[[float], None] = time.sleep) -> bytes:
    """Send as a well-behaved gateway does: a busy receiver (429 or 503, with Retry-After) or one that is
    restarting (connection refused) is waited for and sent to again; the readings are only dropped from
    the gateway's buffer once acknowledged. Other answers (401, 400) come back to the caller."""
    wait = 0.5
    for attempt in range(MAX_TRIES):
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                return bytes(resp.read())
        except urllib.error.HTTPError as exc:
            if exc.code not in RETRY_STATUSES or attempt == MAX_TRIES - 1:
                raise
            after = exc.headers.get("Retry-After", "")
            sleep(float(after) if after.replace(".", "", 1).isdigit() else wait)
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            if attempt == MAX_TRIES - 1:
                raise
            sleep(wait)
        wait = min(30.0, wait * 2)
    raise AssertionError("unreachable")


def post_lines(url: str, token: str, body: bytes) -> dict[str, object]:
    req = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/x-ndjson"},
    )
    return dict(json.loads(_send(req, timeout=120)))


def post_osmand(url: str, key: str, params: dict[str, str]) -> dict[str, object]:
    """One fix as Traccar Client sends it: POST to the server URL (which ends in the device's key)."""
    query = urllib.parse.urlencode(params)
    req = urllib.request.Request(f"{url}/{key}?{query}", data=b"", method="POST")
    try:
        return dict(json.loads(_send(req, timeout=30)))
    except urllib.error.HTTPError as exc:  # a rejected fix: the answer says why
        return dict(json.loads(exc.read()))


def osmand_params(fix: dict[str, object]) -> dict[str, str]:
    """A fix in the OsmAnd protocol's parameters (speed in knots, time as sent: ISO 8601)."""
    params = {"id": str(fix["device"]), "lat": str(fix["lat"]), "lon": str(fix["lon"]), "timestamp": str(fix["time"])}
    if fix.get("accuracy_m") is not None:
        params["accuracy"] = str(fix["accuracy_m"])
    if isinstance(fix.get("speed_mps"), int | float):
        params["speed"] = f"{float(fix['speed_mps']) / 0.514444:.2f}"  # type: ignore[arg-type]
    return params


def split_fixes(lines: bytes) -> tuple[bytes, list[dict[str, object]]]:
    """A device's upload as (what still goes through the gateway, the fixes the device sends itself)."""
    through_gateway, fixes = [], []
    for line in lines.splitlines(keepends=True):
        obj = orjson.loads(line)
        if obj.get("type") == "fix":
            fixes.append(obj)
        else:
            through_gateway.append(line)
    return b"".join(through_gateway), fixes


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
    device_keys: dict[str, str] | None = None,
    osmand_url: str = "",
    send_osmand: Callable[[str, str, dict[str, str]], dict[str, object]] = post_osmand,
) -> int:
    start = date.fromisoformat(config.start) if config.start else date.today() - timedelta(days=config.days - 1)
    sim = Simulation(config, start)
    wall0 = clock()
    paced_from = wall0 - live_from_h * 3600
    if skip_before is not None:
        paced_from = max(paced_from, skip_before)  # what came before was loaded already
    sent = 0
    pending: list[bytes] = []
    own: list[tuple[str, dict[str, str]]] = []  # fixes the devices send themselves, with their keys
    keys = device_keys or {}

    def flush() -> None:
        nonlocal sent
        for key, params in own:
            result = send_osmand(osmand_url, key, params)
            sent += int(result.get("accepted", 0))  # type: ignore[call-overload]
            if result.get("rejected"):
                log(f"live: a fix of {params['id']} was rejected: {result['rejected'][0]}")  # type: ignore[index]
        own.clear()
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
                key = keys.get(_device)
                if key is not None:
                    lines, fixes = split_fixes(lines)
                    own.extend((key, osmand_params(fix)) for fix in fixes)
                if lines:
                    pending.append(lines)
                if len(pending) >= 200 or len(own) >= 200:
                    flush()
            flush()
            log(f"live: day {day} sent, {sent} readings accepted so far")
    finally:
        sim.close()
    return sent
