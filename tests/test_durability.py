"""Durability: a server killed with SIGKILL in the middle of batches keeps every reading it
acknowledged, and nothing is stored twice when the gateway sends again."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from openem.telemetry.bench import free_port, wait_for_port

ROOT = Path(__file__).resolve().parents[1]


SERVERS = {
    "portal": lambda port: ["runserver", f"127.0.0.1:{port}", "--noreload"],
    "receiver": lambda port: ["ingest-server", "--port", str(port)],
}


def start_server(env: dict[str, str], port: int, server: str = "portal") -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-m", "openem.cli", *SERVERS[server](port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port)
    except RuntimeError:
        proc.kill()
        raise
    return proc


def batch(k: int, size: int = 200) -> bytes:
    return "\n".join(
        json.dumps(
            {
                "device": "GPS-0001",
                "time": f"2026-11-10T{(k * size + i) // 3600 % 24:02d}:"
                f"{(k * size + i) // 60 % 60:02d}:{(k * size + i) % 60:02d}Z",
                "type": "fix",
                "lat": 52.67,
                "lon": -0.73,
                "seq": k * size + i,
            }
        )
        for i in range(size)
    ).encode()


def post(port: int, token: str, body: bytes) -> dict:
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}/ingest/v1/telemetry",
        data=body,
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/x-ndjson"},
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())


@pytest.mark.parametrize("kind", list(SERVERS))
def test_sigkill_loses_nothing_acknowledged_and_stores_nothing_twice(tmp_path, kind):
    db = tmp_path / "durable.sqlite3"
    env = {**os.environ, "OPENEM_SQLITE_PATH": str(db), "OPENEM_DATA_DIR": str(tmp_path)}
    env.pop("DATABASE_URL", None)
    subprocess.run([sys.executable, "-m", "openem.cli", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    token = subprocess.run(
        [
            sys.executable,
            "-c",
            (
                "import django, os; os.environ['DJANGO_SETTINGS_MODULE']='openem.settings'; django.setup(); "
                "from openem.telemetry.models import Gateway; gw, token = Gateway.create_with_token('g'); "
                "from openem.devices.models import Device; "
                "Device.objects.create(ref='GPS-0001', kind='gps', gateway=gw); "
                "print(token)"
            ),
        ],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    port = free_port()
    server = start_server(env, port, kind)
    acknowledged: list[int] = []
    attempted: list[int] = []
    stop = threading.Event()

    senders = 3  # concurrent batches: the receiver commits them together

    def sender(first: int) -> None:
        for k in range(first, 200, senders):
            if stop.is_set():
                return
            attempted.append(k)
            try:
                post(port, token, batch(k))
                acknowledged.append(k)
            except Exception:
                return

    threads = [threading.Thread(target=sender, args=(j,)) for j in range(senders)]
    for t in threads:
        t.start()
    while len(acknowledged) < 6:
        time.sleep(0.05)
    os.kill(server.pid, signal.SIGKILL)  # in the middle of a batch
    server.wait()
    stop.set()
    for t in threads:
        t.join()
    con = sqlite3.connect(db)
    stored = {row[0] for row in con.execute("select seq from telemetry_reading")}
    for k in acknowledged:
        assert set(range(k * 200, k * 200 + 200)) <= stored, f"batch {k} was acknowledged but is not all stored"
    con.close()
    # The gateways send everything not acknowledged again, and some of what was: nothing is stored twice.
    # (A batch may have been stored without its acknowledgement getting out before the kill.)
    sent = set(attempted)
    server = start_server(env, port, kind)
    try:
        for k in sorted(sent):
            post(port, token, batch(k))
    finally:
        server.kill()
        server.wait()
    con = sqlite3.connect(db)
    total, distinct = con.execute("select count(*), count(distinct seq) from telemetry_reading").fetchone()
    assert total == distinct == len(sent) * 200


def test_osmand_on_its_own_port(tmp_path):
    db = tmp_path / "osmand.sqlite3"
    env = {**os.environ, "OPENEM_SQLITE_PATH": str(db), "OPENEM_DATA_DIR": str(tmp_path)}
    env.pop("DATABASE_URL", None)
    subprocess.run([sys.executable, "-m", "openem.cli", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    key = subprocess.run(
        [
            sys.executable,
            "-c",
            (
                "import django, os; os.environ['DJANGO_SETTINGS_MODULE']='openem.settings'; django.setup(); "
                "from openem.devices.models import Device; from openem.devices.credentials import issue_key; "
                "print(issue_key(Device.objects.create(ref='PHONE-1', kind='gps')))"
            ),
        ],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "openem.cli", "ingest-server", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port)
        # Traccar Client's server URL carries the device key as its path.
        url = f"http://127.0.0.1:{port}/{key}?id=PHONE-1&lat=52.67&lon=-0.73&timestamp=1794830400&accuracy=9&batt=80"
        with urllib.request.urlopen(urllib.request.Request(url, method="POST"), timeout=5) as resp:
            assert json.loads(resp.read())["accepted"] == 2
            assert resp.headers["Content-Security-Policy"].startswith("default-src 'none'")
        # Without the key (or with another) the reading is kept as not authenticated, and 401 says so.
        for forged in (url.replace(f"/{key}?", "/?"), url.replace(f"/{key}?", "/not-the-key?")):
            try:
                urllib.request.urlopen(urllib.request.Request(forged, method="POST"), timeout=5)
                raise AssertionError("a reading without the device's key was accepted")
            except urllib.error.HTTPError as exc:
                assert exc.code == 401
                assert json.loads(exc.read())["rejected"][0]["error"].startswith("not authenticated")
        # What is not a reading is refused with a reason, and nothing is kept for it.
        for path, method, status, says in [
            ("/favicon.ico", "GET", 400, "send OsmAnd parameters"),
            ("/ingest/v1/telemetry", "GET", 405, "POST"),
            ("/ingest/v1/telemetry", "POST", 401, "gateway token"),
        ]:
            req = urllib.request.Request(
                f"http://127.0.0.1:{port}{path}", method=method, data=b"" if method == "POST" else None
            )
            try:
                urllib.request.urlopen(req, timeout=5)
                raise AssertionError(f"{method} {path} was accepted")
            except urllib.error.HTTPError as exc:
                assert exc.code == status and says in json.loads(exc.read())["error"], (path, exc.code)
    finally:
        proc.kill()
        proc.wait()
    con = sqlite3.connect(db)
    assert con.execute("select sum(n) from telemetry_trailblock where device='PHONE-1'").fetchone() == (1,)
    assert con.execute("select kind, count(*) from telemetry_rejectedreading group by kind").fetchall() == [
        ("unauthenticated", 4)  # two requests of a fix and a battery reading each; probes leave nothing
    ]
