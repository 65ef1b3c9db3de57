"""`openem bench ingest`: durable ingest throughput over HTTP and OsmAnd, beside a naive baseline
(one insert and one commit per reading) measured in the same run, on a fresh SQLite database."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
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
        _django(
            env,
            "from openem.devices.models import Device; "
            "Device.objects.bulk_create([Device(ref=f'PHONE-{i}', kind='gps') for i in range(8)])",
        )
        port, oport = free_port(), free_port()
        web = subprocess.Popen(
            [sys.executable, "-m", "openem.cli", "runserver", f"127.0.0.1:{port}", "--noreload"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        osm = subprocess.Popen(
            [sys.executable, "-m", "openem.cli", "osmand-server", "--port", str(oport)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_for_port(port)
            wait_for_port(oport)
            bodies = [_lines(k, batch) for k in range(0, total, batch)]
            began = time.perf_counter()
            accepted = 0
            for body in bodies:
                req = urllib.request.Request(
                    f"http://127.0.0.1:{port}/ingest/v1/telemetry",
                    data=body,
                    method="POST",
                    headers={"Authorization": f"Bearer {token}"},
                )
                with urllib.request.urlopen(req, timeout=120) as resp:
                    accepted += json.loads(resp.read())["accepted"]
            fixes_per_s = accepted / (time.perf_counter() - began)
            done = [0]

            def client(k: int) -> None:
                for i in range(osmand_n // 4):
                    url = (
                        f"http://127.0.0.1:{oport}/?id=PHONE-{k}&lat=52.67&lon=-0.73"
                        f"&timestamp={1794830400 + i}&accuracy=9"
                    )
                    with urllib.request.urlopen(urllib.request.Request(url, method="POST"), timeout=30):
                        done[0] += 1

            began = time.perf_counter()
            threads = [threading.Thread(target=client, args=(k,)) for k in range(4)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            osmand_per_s = done[0] / (time.perf_counter() - began)
        finally:
            web.kill()
            osm.kill()
            web.wait()
            osm.wait()
        naive = float(
            _django(
                env,
                (
                    "import time, json; from datetime import datetime, UTC; from django.db import transaction; "
                    "from openem.telemetry.models import Reading, Fix; t0=time.perf_counter(); "
                    f"n={naive_n}\n"
                    "for i in range(n):\n"
                    "    with transaction.atomic():\n"
                    "        r=Reading.objects.create(device='NAIVE', t=datetime.fromtimestamp(1794830400+i, UTC), "
                    "type='fix', seq=10**9+i, payload={'lat': 52.67}, digest=str(i))\n"
                    "        Fix.objects.create(device='NAIVE', t=r.t, lat=52.67, lon=-0.73, accuracy_m=8, reading=r)\n"
                    "print(n/(time.perf_counter()-t0))"
                ),
            )
        )
    return {
        "benchmark": "ingest",
        "fixes": accepted,
        "fixes_per_s": round(fixes_per_s),
        "baseline_fixes_per_s": round(naive),
        "ratio": round(fixes_per_s / naive, 1),
        "osmand_requests_per_s": round(osmand_per_s),
        "p99_reading_to_violation_s": None,
        "note": "SQLite, Django's development server, 5,000-line batches; p99 latency is not measured yet",
    }
