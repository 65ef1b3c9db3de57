"""`openem bench ingest`: durable ingest throughput over HTTP and OsmAnd, beside a naive baseline
(one insert and one commit per reading) measured in the same run, on a fresh SQLite database; the rate
at which fixes are stored and evaluated with the engine workers running; reading-to-violation latency."""

from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = int(s.getsockname()[1])
    s.close()
    return port


def wait_for_port(port: int) -> None:
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listening on {port}")


def _lines(start: int, n: int) -> bytes:
    t0 = 1794830400
    return "\n".join(
        json.dumps(
            {
                "device": f"GPS-{(start + i) % 500:04d}",
                "time": _iso(t0 + (start + i) // 500),
                "type": "fix",
                "lat": 52.67,
                "lon": -0.73,
                "accuracy_m": 8.0,
                "seq": start + i,
            }
        )
        for i in range(n)
    ).encode()


def _iso(t: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z")


def _django(env: dict[str, str], code: str) -> str:
    prelude = "import django, os; os.environ['DJANGO_SETTINGS_MODULE']='openem.settings'; django.setup(); "
    return subprocess.run(
        [sys.executable, "-c", prelude + code], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    ).stdout.strip()


ROUNDS = 3
LATENCY_DEVICES = 1_000
ENGINE_WORKERS = min(os.cpu_count() or 1, 4)
WARM_UP_S = 5.0  # steady state first: the worker's first cycles load every tag


def _latency_cases(path: Path) -> None:
    """People each with a GPS tag and a GPS-monitored exclusion zone of their own, 700 m from them."""
    from datetime import date, timedelta

    today = date.today()
    people = []
    for k in range(LATENCY_DEVICES):
        lat = 52.55 + (k % 100) * 0.002
        lon = -0.80 + (k // 100) * 0.02
        people.append(
            {
                "id": f"L{k:05d}", "name": f"Latency {k}",
                "orders": [{"id": "O1", "type": "community_order", "start": (today - timedelta(days=1)).isoformat(),
                            "end": (today + timedelta(days=100)).isoformat(),
                            "conditions": [{"id": "C1", "type": "exclusion_zone", "monitored": True,
                                            "area": {"lat": lat, "lon": lon, "radius_m": 80}},
                                           {"id": "C2", "type": "trail"}]}],
                "devices": [{"id": f"LAT-{k:05d}", "kind": "gps",
                             "fitted": f"{(today - timedelta(days=1)).isoformat()}T00:00:00Z"}],
            }
        )  # fmt: skip
    path.write_text(json.dumps({"format": "openem-cases/1", "people": people}))


def _zone(k: int) -> tuple[float, float]:
    return 52.55 + (k % 100) * 0.002, -0.80 + (k // 100) * 0.02


def _latency(
    port: int, token: str, db: Path, seconds: float, rate: int = 5_000, warm_up_s: float = WARM_UP_S, first: int = 0
) -> dict[str, Any]:
    """Fixes at ``rate`` a second for ``seconds``, real time; every half second one tag enters its zone
    (tags from ``first`` on, each once: a tag already in its zone raises nothing new).
    Latency: from the acknowledgement of the batch holding the entering fixes to the stored violation."""
    import sqlite3

    period, triggers, sent = 0.2, {}, 0
    per_batch = int(rate * period)
    began = time.time()
    k_next, n = first, 0
    while time.time() - began < seconds:
        tick = time.time()
        lines, trigger = [], None
        # A fresh tag enters its zone, but not in the last second: an entry is confirmed by the fixes
        # after it (it might be a pass through), and the last batch has none after it.
        if warm_up_s < tick - began < seconds - 1 and (n * period) % 0.5 < period:
            trigger = k_next % LATENCY_DEVICES
            k_next += 1
        for j in range(per_batch):
            k = (n * per_batch + j) % LATENCY_DEVICES
            lat, lon = _zone(k)
            inside = k == trigger
            lines.append(_fix(k, tick + j * 1e-4, lat if inside else lat + 0.0063, lon))
        if trigger is not None:
            lat, lon = _zone(trigger)
            lines += [_fix(trigger, tick + 0.2 + i * 0.01, lat, lon) for i in range(3)]
        req = urllib.request.Request(f"http://127.0.0.1:{port}/ingest/v1/telemetry", data="\n".join(lines).encode(),
                                     method="POST", headers={"Authorization": f"Bearer {token}"})  # fmt: skip
        with urllib.request.urlopen(req, timeout=60) as resp:
            sent += json.loads(resp.read())["accepted"]
        if trigger is not None:
            triggers[f"LAT-{trigger:05d}"] = time.time()
        n += 1
        time.sleep(max(0.0, period - (time.time() - tick)))
    elapsed = time.time() - began
    deadline = time.time() + 30
    found: dict[str, float] = {}
    while time.time() < deadline and len(found) < len(triggers):
        con = sqlite3.connect(db, timeout=30)
        rows = con.execute(
            "SELECT device, min(first_seen) FROM alerts_violation WHERE type='exclusion_zone_entry' GROUP BY device"
        ).fetchall()
        con.close()
        found = {d: datetime_ts(t) for d, t in rows}
        time.sleep(0.5)
    waits = sorted(found[d] - t for d, t in triggers.items() if d in found)
    missing = len(triggers) - len(waits)
    waits += [float("inf")] * missing
    return {
        "latency_fixes_per_s": round(sent / elapsed),
        "latency_triggers": len(triggers),
        "p50_reading_to_violation_s": round(waits[len(waits) // 2], 3) if waits else None,
        "p99_reading_to_violation_s": round(waits[int(0.99 * (len(waits) - 1))], 3) if waits else None,
        "violations_not_found_in_30_s": missing,
    }


def _evaluated(port: int, token: str, db: Path, total: int) -> dict[str, Any]:
    """Fixes for the 1,000 fitted tags (outside their zones) sent as fast as the
    receiver takes them while the engine workers run: the rate at which they are both stored and
    evaluated, from the first request to the moment every worker's cursor has passed the last of them."""
    import sqlite3

    # Later than anything the tags sent before (a reading older than a tag's held window is read again
    # from storage: right for a late upload, not what a steady load looks like), and at most half a
    # minute ahead of the clock (readings from the future are refused).
    t0, step = time.time(), 30.0 * LATENCY_DEVICES / total

    def line(i: int) -> str:
        # Numbered, as the tags number their readings (the simulator's do): duplicates are found by seq.
        k, lat, lon = i % LATENCY_DEVICES, *_zone(i % LATENCY_DEVICES)
        return _fix(k, t0 + (i // LATENCY_DEVICES) * step, lat + 0.0063, lon, seq=10**6 + i // LATENCY_DEVICES)

    head = f"POST /ingest/v1/telemetry HTTP/1.1\r\nHost: b\r\nAuthorization: Bearer {token}\r\n"
    bodies = ["\n".join(line(i) for i in range(k, k + 5_000)).encode() for k in range(0, total, 5_000)]
    requests = [head.encode() + f"Content-Length: {len(b)}\r\n\r\n".encode() + b for b in bodies]
    began = time.perf_counter()
    stored, _ = _run_client(port, requests, connections=4)
    con = sqlite3.connect(db, timeout=30)
    try:
        top = con.execute("SELECT max(id) FROM telemetry_reading").fetchone()[0]
        deadline = time.perf_counter() + 120
        while time.perf_counter() < deadline:
            behind = con.execute(
                "SELECT count(*) FROM telemetry_enginecursor WHERE last_reading_id < ?", [top]
            ).fetchone()[0]
            if not behind:
                break
            time.sleep(0.02)
    finally:
        con.close()
    return {"evaluated_fixes": stored, "evaluated_fixes_per_s": round(stored / (time.perf_counter() - began))}


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 2) if a and b else None


def _fix(k: int, t: float, lat: float, lon: float, seq: int | None = None) -> str:
    fix = {"device": f"LAT-{k:05d}", "time": _iso_ms(t), "type": "fix", "lat": lat, "lon": lon, "accuracy_m": 5.0}
    return json.dumps(fix if seq is None else {**fix, "seq": seq})


def _iso_ms(t: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def datetime_ts(text: str) -> float:
    from datetime import UTC, datetime

    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def _run_client(port: int, requests: list[bytes], connections: int) -> tuple[int, float]:
    """Send prepared HTTP/1.1 requests over keep-alive connections, each waiting for its answer:
    (readings accepted, seconds). A plain asyncio client, so the client is not what is measured."""
    import asyncio

    async def run() -> int:
        pending = iter(requests)
        accepted = 0

        async def connection() -> None:
            nonlocal accepted
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            for request in pending:
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                body = json.loads(await reader.readexactly(length))
                if not head.startswith(b"HTTP/1.1 200"):
                    raise RuntimeError(f"the receiver answered {head.splitlines()[0]!r}: {body}")
                accepted += body["accepted"]
            writer.close()

        await asyncio.gather(*(connection() for _ in range(connections)))
        return accepted

    began = time.perf_counter()
    accepted = asyncio.run(run())
    return accepted, time.perf_counter() - began


FLOOD_CONNECTIONS = 4


def _flood(port: int, token: str, stop: Any, counts: Any) -> None:
    """One authenticated gateway sending junk as fast as it can on several connections: requests of
    10,000 lines that are not JSON (each kept as a rejected reading) and requests over the line limit,
    sent again at once whatever the answer (429 included)."""
    import asyncio

    junk = b"\n".join(
        b'{"device": "JUNK", "time": "not a time", "lat": "x' + str(i).encode() + b'"' for i in range(10_000)
    )
    huge = b"\n".join(b"[junk junk junk junk]" for _ in range(20_000))
    head = f"POST /ingest/v1/telemetry HTTP/1.1\r\nHost: b\r\nAuthorization: Bearer {token}\r\n"
    requests = [head.encode() + f"Content-Length: {len(b)}\r\n\r\n".encode() + b for b in (junk, huge)]

    async def connection(k: int) -> None:
        n, writer = k, None
        while not stop.is_set():
            try:
                if writer is None:
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.write(requests[n % 2])
                n += 1
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                await reader.readexactly(length)
            except (OSError, asyncio.IncompleteReadError):  # closed on it: connect again at once
                writer = None
                continue
            status = int(head.split(b" ", 2)[1])
            with counts.get_lock():
                counts[{200: 0, 413: 1, 429: 2}.get(status, 3)] += 1
            if b"connection: close" in head.lower():
                writer.close()
                writer = None
        if writer is not None:
            writer.close()

    async def run() -> None:
        await asyncio.gather(*(connection(k) for k in range(FLOOD_CONNECTIONS)))

    asyncio.run(run())


def _with_flood(port: int, token: str, measure: Any) -> tuple[dict[str, Any], dict[str, int]]:
    """``measure()`` while the flood runs in a process of its own; what it measured, and what the flood
    was answered."""
    import multiprocessing

    context = multiprocessing.get_context("fork")
    stop, counts = context.Event(), context.Array("i", 4)
    flood = context.Process(target=_flood, args=(port, token, stop, counts), daemon=True)
    flood.start()
    try:
        time.sleep(1.0)  # the flood is under way before the honest clients are measured
        result = measure()
    finally:
        stop.set()
        flood.join(timeout=30)
        if flood.is_alive():
            flood.kill()
    answered = dict(zip(("stored_junk_requests", "too_large", "rate_limited", "other"), counts[:], strict=True))
    return result, answered


def bench_ingest(quick: bool) -> dict[str, Any]:
    total = 40_000 if quick else 200_000
    batch = 5_000
    naive_n = 1_000 if quick else 3_000
    osmand_n = 1_000 if quick else 5_000
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "OPENEM_SQLITE_PATH": f"{tmp}/bench.sqlite3", "OPENEM_DATA_DIR": tmp}
        env.pop("DATABASE_URL", None)
        subprocess.run([sys.executable, "-m", "openem.cli", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
        token = _django(env, "from openem.telemetry.models import Gateway; print(Gateway.create_with_token('b')[1])")
        flood_token = _django(
            env, "from openem.telemetry.models import Gateway; print(Gateway.create_with_token('flood')[1])"
        )
        _django(
            env,
            "from openem.devices.models import Device; "
            "Device.objects.bulk_create([Device(ref=f'PHONE-{i}', kind='gps') for i in range(8)]"
            " + [Device(ref=f'GPS-{i:04d}', kind='gps') for i in range(500)])",
        )
        _latency_cases(Path(tmp) / "latency-cases.json")
        subprocess.run(
            [sys.executable, "-m", "openem.cli", "import-cases", f"{tmp}/latency-cases.json"],
            cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip
        # The gateway sends for every tag; the phones send with their own keys (OsmAnd), as in service.
        phone_keys = _django(
            env,
            "from openem.devices.models import Device; from openem.telemetry.models import Gateway; "
            "from openem.devices.credentials import issue_key; "
            "Device.objects.update(gateway=Gateway.objects.get(name='b')); "
            "print(' '.join(issue_key(Device.objects.get(ref=f'PHONE-{i}')) for i in range(8)))",
        ).split()
        port = free_port()
        receiver = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "openem.cli",
                "ingest-server",
                "--port",
                str(port),
                "--processes",
                os.environ.get("OPENEM_BENCH_RECEIVERS", "1"),
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_for_port(port)
            # Reading to violation first, on the fresh database, with an engine worker running.
            # As `openem run` starts them: one worker per core, sharing the devices.
            workers = [
                subprocess.Popen(
                    [sys.executable, "-m", "openem.cli", "engine-worker", "--interval", "0.05",
                     "--shard", str(k), "--shards", str(ENGINE_WORKERS)],
                    cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                )
                for k in range(ENGINE_WORKERS)
            ]  # fmt: skip
            try:
                time.sleep(2)  # their first cycles compile the caseload
                db = Path(tmp) / "bench.sqlite3"
                latency = _latency(port, token, db, WARM_UP_S + (10 if quick else 30))
                # The same honest load while one gateway floods junk (tags of their own: one enters its zone once).
                flooded, flood_answers = _with_flood(
                    port, flood_token, lambda: _latency(port, token, db, 1 + (10 if quick else 30), warm_up_s=1,
                                                        first=LATENCY_DEVICES // 2),
                )  # fmt: skip
                evaluated = _evaluated(port, token, db, 150_000 if quick else 600_000)
            finally:
                for worker in workers:
                    worker.kill()
                    worker.wait()
            # Each rate is the median of ROUNDS rounds (new readings each time): this machine's speed
            # varies from one minute to the next by more than the differences worth measuring.
            head = f"POST /ingest/v1/telemetry HTTP/1.1\r\nHost: b\r\nAuthorization: Bearer {token}\r\n"
            rates, accepted = [], 0
            for r in range(ROUNDS):
                bodies = [_lines(k, batch) for k in range(r * total, (r + 1) * total, batch)]
                requests = [head.encode() + f"Content-Length: {len(b)}\r\n\r\n".encode() + b for b in bodies]
                n, elapsed = _run_client(port, requests, connections=4)
                accepted += n
                rates.append(n / elapsed)
            osmand_rates = []
            for r in range(ROUNDS):
                osmand = [
                    (
                        f"POST /{phone_keys[i % 8]}?id=PHONE-{i % 8}&lat=52.67&lon=-0.73"
                        f"&timestamp={1794830400 + i // 8}&accuracy=9 "
                        "HTTP/1.1\r\nHost: b\r\nContent-Length: 0\r\n\r\n"
                    ).encode()
                    for i in range(r * osmand_n, (r + 1) * osmand_n)
                ]
                done, elapsed = _run_client(port, osmand, connections=32)
                osmand_rates.append(done / elapsed)
            fixes_per_s, osmand_per_s = statistics.median(rates), statistics.median(osmand_rates)
        finally:
            receiver.kill()
            receiver.wait()
        naive = float(
            _django(
                env,
                (
                    "import time, json; from datetime import datetime, UTC; from django.db import transaction; "
                    "from openem.telemetry.models import Reading; from openem.telemetry import trail; "
                    f"t0=time.perf_counter(); n={naive_n}\n"
                    "for i in range(n):\n"
                    "    with transaction.atomic():\n"
                    "        r=Reading.objects.create(device='NAIVE', t=datetime.fromtimestamp(1794830400+i, UTC), "
                    "type='fix', seq=10**9+i, payload={'lat': 52.67}, digest=str(i))\n"
                    "        trail.store([('NAIVE', r.t.timestamp(), 52.67, -0.73, 8.0)])\n"
                    "print(n/(time.perf_counter()-t0))"
                ),
            )
        )
    return {
        "benchmark": "ingest",
        "fixes": accepted,
        "fixes_per_s": round(fixes_per_s),
        "fixes_per_s_rounds": [round(r) for r in rates],
        "baseline_fixes_per_s": round(naive),
        "ratio": round(fixes_per_s / naive, 1),
        "osmand_requests_per_s": round(osmand_per_s),
        "osmand_requests_per_s_rounds": [round(r) for r in osmand_rates],
        **evaluated,
        **latency,
        "flood_honest_fixes_per_s": flooded["latency_fixes_per_s"],
        "flood_p99_reading_to_violation_s": flooded["p99_reading_to_violation_s"],
        "flood_violations_not_found_in_30_s": flooded["violations_not_found_in_30_s"],
        "flood_throughput_ratio": _ratio(latency["latency_fixes_per_s"], flooded["latency_fixes_per_s"]),
        "flood_p99_ratio": _ratio(flooded["p99_reading_to_violation_s"], latency["p99_reading_to_violation_s"]),
        **{f"flood_{k}": v for k, v in flood_answers.items()},
        "note": f"medians of {ROUNDS} rounds; SQLite, one receiver process (uvicorn, group commit); "
        "5,000-line batches on 4 connections; evaluated: the same with the engine workers running, "
        f"{LATENCY_DEVICES:,} fitted tags, until every reading is evaluated; "
        f"OsmAnd one fix a request on 32 connections; latency with {ENGINE_WORKERS} engine workers sharing "
        f"{LATENCY_DEVICES:,} tags; flood: the latency load again while another gateway sends junk on "
        f"{FLOOD_CONNECTIONS} connections as fast as it is answered (ratios: without the flood over with it for "
        "throughput, with over without for p99; target within 2)",
    }
