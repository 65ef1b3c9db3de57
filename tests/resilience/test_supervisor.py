"""`openem run` keeps every child going: one killed is restarted (after a back-off that grows while it keeps
dying and resets once it stays up), each exit is logged and becomes an operational alert, and stopping
`openem run` stops every child, killing those that will not stop."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from openem.health.models import Component, Fault, FaultKind
from openem.health.running import StopFlag
from openem.health.supervisor import ChildSpec, Supervisor, describe_exit
from openem.telemetry.management.commands.run import children

SLEEPER = [sys.executable, "-c", "import time\nwhile True: time.sleep(1)"]
# Ignores SIGTERM: only SIGKILL stops it.
STUBBORN = [
    sys.executable,
    "-c",
    "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nprint('ready', flush=True)\n"
    "while True: time.sleep(1)",
]


def options(**kw: Any) -> dict[str, Any]:
    return {"addrport": "127.0.0.1:8123", "workers": 2, "demo_live": False, "ingest_port": 5056, **kw}


def dummies(specs: list[ChildSpec]) -> list[ChildSpec]:
    """The same children, each a cheap sleeping process."""
    return [ChildSpec(s.name, SLEEPER, s.component) for s in specs]


def wait_exit(proc: subprocess.Popen[bytes]) -> None:
    proc.wait(timeout=10)


@pytest.fixture
def everything(settings) -> list[ChildSpec]:
    """Every kind of child `openem run` starts, with the bus and MQTT configured."""
    settings.OPENEM_BUS = "nats://127.0.0.1:4222"
    settings.OPENEM_BUS_PARTITIONS = 2
    settings.OPENEM_MQTT = "mqtt://broker.example:1884"
    return children(options())


# What `openem run` starts ----------------------------------------------------------------------------


def test_run_starts_gunicorn_the_workers_the_receiver_the_subscriber_and_the_announcer(everything, settings):
    names = [s.name for s in everything]
    assert names == [
        "portal",
        "engine checks 1 of 2",
        "engine checks 2 of 2",
        "alerts worker",
        "crime worker",
        "MI refresh",
        "engine partition 0",
        "engine partition 1",
        "bus announcer",
        "MQTT subscriber",
        "ingest receiver",
    ]
    by_name = {s.name: list(s.argv) for s in everything}
    portal = by_name["portal"]
    assert portal[1:4] == ["-m", "gunicorn", "openem.wsgi:application"] and "runserver" not in portal
    assert portal[portal.index("--bind") + 1] == "127.0.0.1:8123"
    assert portal[portal.index("--workers") + 1] == str(settings.OPENEM_WEB_WORKERS)
    assert portal[portal.index("--timeout") + 1] == str(settings.OPENEM_WEB_TIMEOUT)
    assert by_name["MQTT subscriber"][-5:] == ["mqtt-subscriber", "--host", "broker.example", "--port", "1884"]
    assert by_name["bus announcer"][-1] == "bus-announcer"
    assert by_name["MI refresh"][-3:] == ["mi-refresh", "--every", str(settings.OPENEM_MI_REFRESH_MINUTES)]


def test_without_bus_or_mqtt_the_workers_share_the_devices_and_nothing_else_starts(settings):
    settings.OPENEM_BUS = ""
    settings.OPENEM_MQTT = ""
    settings.OPENEM_WEB_WORKERS, settings.OPENEM_WEB_TIMEOUT = 3, 45
    specs = children(options(ingest_port=0))
    assert [s.name for s in specs] == [
        "portal", "engine shard 1 of 2", "engine shard 2 of 2", "alerts worker", "crime worker", "MI refresh"
    ]  # fmt: skip
    assert list(specs[2].argv)[-5:] == ["engine-worker", "--shard", "1", "--shards", "2"]
    portal = list(specs[0].argv)
    assert portal[portal.index("--workers") + 1] == "3" and portal[portal.index("--timeout") + 1] == "45"


def test_a_port_alone_serves_on_the_loopback_address(settings):
    settings.OPENEM_BUS = settings.OPENEM_MQTT = ""
    specs = children(options(addrport="8124"))
    portal = list(specs[0].argv)
    assert portal[portal.index("--bind") + 1] == "127.0.0.1:8124"
    assert list(specs[-1].argv)[-4:] == ["--host", "127.0.0.1", "--port", "5056"]


def test_the_demo_simulator_keeps_its_arguments(settings, tmp_path, monkeypatch):
    settings.OPENEM_BUS = settings.OPENEM_MQTT = ""
    specs = children(options(demo_live=True))
    sim = list(specs[-1].argv)
    assert specs[-1].name == "demo simulator"
    assert sim[3:5] == ["simulate", "--live"]
    assert sim[sim.index("--live-from") + 1] == "1"
    assert sim[-2:] == ["--url", "http://127.0.0.1:5056/ingest/v1/telemetry"]
    for flag in ("--people", "--days", "--seed", "--start", "--token"):
        assert flag in sim


# Restarting ------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_each_kind_of_child_is_restarted_after_sigkill(everything, caplog):
    caplog.set_level("INFO", logger="openem.health.supervisor")
    sup = Supervisor(dummies(everything), first_wait=1.0, db_thread=False)
    try:
        for child in sup.children:
            sup.start(child)
        t = time.monotonic()
        for child in sup.children:
            assert child.proc is not None
            old = child.proc.pid
            child.proc.send_signal(signal.SIGKILL)
            wait_exit(child.proc)
            sup.step(t)  # noticed: restarted after the back-off
            assert not child.running and child.restart_at == t + 1.0
            sup.step(t + 1.0)
            assert child.running and child.proc.pid != old and child.restarts == 1, child.spec.name
            fault = Fault.objects.open().get(kind=FaultKind.CHILD_RESTARTED, key=f"child_restarted:{child.spec.name}")
            assert "stopped (killed by SIGKILL) and is being restarted" in fault.summary
            assert fault.component == child.spec.component.value
            assert f"{child.spec.name} stopped (killed by SIGKILL) after" in caplog.text
            assert f"restarting {child.spec.name} (restart 1)" in caplog.text
        assert sup.counters()["restarts:portal"] == 1
    finally:
        sup.stop_all()


@pytest.mark.django_db
def test_the_wait_doubles_while_a_child_keeps_dying_and_resets_once_it_stays_up():
    sup = Supervisor(
        [ChildSpec("alerts worker", SLEEPER, Component.ALERTS)],
        first_wait=1,
        most_wait=4,
        stable_after=60,
        db_thread=False,
    )
    child = sup.children[0]
    try:
        sup.start(child)
        t = time.monotonic()
        waits = []
        for _ in range(4):
            assert child.proc is not None
            child.proc.kill()
            wait_exit(child.proc)
            sup.step(t)
            assert child.restart_at is not None
            waits.append(child.restart_at - t)
            t = child.restart_at
            sup.step(t)
        assert waits == [1, 2, 4, 4]
        fault = Fault.objects.open().get(kind=FaultKind.CHILD_RESTARTED)
        assert fault.count == 4 and "(4 restarts so far)" in fault.summary
        # Up for a minute since its last start: forgiven, and the alert closes.
        sup.step(child.started_at + 61)
        assert child.backoff.failures == 0
        assert not Fault.objects.open().filter(kind=FaultKind.CHILD_RESTARTED).exists()
        child.proc.kill()
        wait_exit(child.proc)
        sup.step(child.started_at + 62)
        assert child.restart_at == child.started_at + 62 + 1
    finally:
        sup.stop_all()


def test_a_child_that_exits_cleanly_is_restarted_too():
    sup = Supervisor([ChildSpec("demo simulator", [sys.executable, "-c", "pass"], Component.INGEST)], record=False)
    child = sup.children[0]
    sup.start(child)
    assert child.proc is not None
    wait_exit(child.proc)
    sup.step(time.monotonic())
    assert child.exits[0].endswith(": exit code 0 after 0 s up") and child.restart_at is not None
    sup.stop_all()


def test_a_command_that_cannot_start_is_tried_again(tmp_path):
    sup = Supervisor([ChildSpec("bus announcer", [str(tmp_path / "missing")], Component.BUS)], record=False)
    sup.start(sup.children[0])
    assert sup.children[0].restart_at is not None and "not started" in sup.children[0].exits[0]


def test_exits_are_described_by_code_or_signal():
    assert describe_exit(1) == "exit code 1"
    assert describe_exit(-9) == "killed by SIGKILL"
    assert describe_exit(-15) == "killed by SIGTERM"


def test_the_health_check_runs_every_interval_and_its_failure_stops_nothing():
    calls = []

    def check() -> None:
        calls.append(1)
        raise RuntimeError("database is locked")

    sup = Supervisor([], check_every=15, health_check=check, record=False, db_thread=False)
    sup.step(100.0)
    sup.step(110.0)
    sup.step(115.0)
    assert len(calls) == 2


def test_a_database_that_hangs_never_delays_a_restart():
    """The health check (and recording faults) wait on the database on a thread of their own."""
    release = threading.Event()
    sup = Supervisor(
        [ChildSpec("engine shard 1 of 1", SLEEPER, Component.ENGINE)], health_check=release.wait, record=False
    )
    child = sup.children[0]
    try:
        sup.start(child)
        t = time.monotonic()
        sup.step(t)  # the health check starts, and hangs
        assert child.proc is not None
        child.proc.kill()
        wait_exit(child.proc)
        began = time.monotonic()
        sup.step(t + 1)
        sup.step(t + 2)
        assert child.running and child.restarts == 1
        assert time.monotonic() - began < 1
    finally:
        release.set()
        sup.stop_all()
        sup.drain()


@pytest.mark.django_db(transaction=True)
def test_restarts_are_recorded_from_the_database_thread():
    sup = Supervisor([ChildSpec("alerts worker", SLEEPER, Component.ALERTS)])
    child = sup.children[0]
    try:
        sup.start(child)
        assert child.proc is not None
        child.proc.kill()
        wait_exit(child.proc)
        sup.step()
        sup.drain()
        assert Fault.objects.open().get(kind=FaultKind.CHILD_RESTARTED).component == "alerts"
    finally:
        sup.stop_all()


# Stopping --------------------------------------------------------------------------------------------


def test_stopping_terminates_children_and_kills_those_that_ignore_it():
    specs = [ChildSpec("alerts worker", SLEEPER, Component.ALERTS), ChildSpec("portal", STUBBORN, Component.PORTAL)]
    sup = Supervisor(specs, stop_timeout=1.0, record=False)
    stop = StopFlag(install=False)
    runner = threading.Thread(target=sup.run, args=(stop,))
    runner.start()
    deadline = time.monotonic() + 10
    while not all(c.running for c in sup.children) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)  # the stubborn one has set its handler
    began = time.monotonic()
    stop.set()
    runner.join(timeout=15)
    assert not runner.is_alive()
    assert time.monotonic() - began < 5
    codes = {c.spec.name: c.proc.returncode for c in sup.children if c.proc is not None}
    assert codes == {"alerts worker": -signal.SIGTERM, "portal": -signal.SIGKILL}
    assert all(c.restarts == 0 for c in sup.children)  # stopping is not dying: nothing restarted


# End to end ------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def children_of(pid: int) -> dict[int, str]:
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            found[int(stat.parent.name)] = cmdline
    return found


def replaced(parent: int, marker: str, old: int) -> bool:
    return any(marker in cmd and pid != old for pid, cmd in children_of(parent).items())


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
    except OSError:
        return 0, b""


def wait_for(check: Any, seconds: float, what: str) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.slow
def test_openem_run_restarts_a_killed_child_and_stays_up(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTEST_VERSION", "DATABASE_URL", "DJANGO_SETTINGS_MODULE")}
    env.update(OPENEM_DEMO="1", OPENEM_DATA_DIR=str(tmp_path), OPENEM_WEB_WORKERS="1", OPENEM_BUS="", OPENEM_MQTT="")
    exe = [sys.executable, "-m", "openem.cli"]
    subprocess.run([*exe, "migrate", "--noinput"], env=env, check=True, capture_output=True, timeout=300)
    port, ingest = free_port(), free_port()
    log = (tmp_path / "run.log").open("wb")
    run = subprocess.Popen(
        [*exe, "run", f"127.0.0.1:{port}", "--workers", "1", "--ingest-port", str(ingest)],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for(lambda: get(f"{base}/healthz")[0] == 200, 60, "the portal")
        kids = wait_for(lambda: (k := children_of(run.pid)) and len(k) == 6 and k, 30, "six children")
        markers = {"portal": "gunicorn", "engine": "engine-worker", "alerts": "alerts-worker", "crime": "crime-worker",
                   "MI": "mi-refresh"}  # fmt: skip
        for kind, marker in markers.items():
            pid = next(p for p, cmd in kids.items() if marker in cmd)
            os.kill(pid, signal.SIGKILL)
            wait_for(lambda m=marker, old=pid: replaced(run.pid, m, old), 30, f"the {kind} back")
        wait_for(lambda: get(f"{base}/healthz")[0] == 200, 60, "the portal again")
        assert run.poll() is None, "openem run stays up"
        status, body = get(f"{base}/readyz")
        assert status in (200, 503) and "processes" in json.loads(body)
        assert get(f"{base}/static/portal/portal.css")[0] == 200, "static files are served under gunicorn"
        text = (tmp_path / "run.log").read_text()
        assert "stopped (killed by SIGKILL)" in text and "restarting portal (restart 1)" in text
    finally:
        run.send_signal(signal.SIGTERM)
        try:
            run.wait(timeout=30)
        finally:
            if run.poll() is None:
                run.kill()
            log.close()
    assert not children_of(run.pid), "every child stopped with it"
