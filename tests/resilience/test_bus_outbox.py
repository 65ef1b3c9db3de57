"""The bus never blocks ingest: readings are stored and acknowledged whether NATS is up or not, and the bus
announcer (the readings table is its outbox) announces every stored reading's device once the bus is there,
after a resend, a restart of the announcer, an out-of-order commit, or NATS going down and coming back."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from openem.devices.models import Device
from openem.health.models import Component, Fault, FaultKind, Heartbeat
from openem.telemetry import outbox
from openem.telemetry.bench import free_port, wait_for_port
from openem.telemetry.bus import BusUnavailable, PartitionConsumer
from openem.telemetry.ingest import ingest_jsonl
from openem.telemetry.models import BusCursor, Reading
from openem.telemetry.outbox import CURSOR, Announcer

from ..helpers import run_async, second_postgresql_connection

ROOT = Path(__file__).resolve().parents[2]
NATS = "nats://127.0.0.1:4222"
NOWHERE = "nats://127.0.0.1:4999"  # nothing listens here: the bus is down


def _reachable(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


needs_nats = pytest.mark.skipif(not _reachable(4222), reason="no NATS server on 127.0.0.1:4222 (nats-server -js)")


@pytest.fixture
def bus(settings: Any) -> Any:
    """The bus configured, two partitions, and a stream of this test's own."""
    settings.OPENEM_BUS = NATS
    settings.OPENEM_BUS_PARTITIONS = 2
    settings.OPENEM_BUS_PREFIX = f"test-{uuid.uuid4().hex[:10]}"
    return settings


@pytest.fixture
def announcers() -> Iterator[Any]:
    """Make announcers (closed after the test, as a stopped process would be)."""
    made: list[Announcer] = []

    def make(**kwargs: Any) -> Announcer:
        kwargs.setdefault("fault_after_s", 0.0)
        a = Announcer(**kwargs)
        made.append(a)
        return a

    yield make
    for a in made:
        a.bus.close()


@pytest.fixture
def devices(db: Any) -> list[str]:
    refs = [f"RF-{k:04d}" for k in range(1, 13)]
    Device.objects.bulk_create([Device(ref=ref, kind="rf") for ref in refs])
    return refs


def readings(device: str, n: int = 5, hour: int = 20) -> str:
    return "\n".join(
        json.dumps({"device": device, "time": f"2026-11-10T{hour:02d}:{m:02d}:00Z", "type": "rf", "in_range": True})
        for m in range(n)
    )


def received(partitions: int = 2) -> set[str]:
    """Every device announced so far, as the partition workers receive them (acknowledged)."""
    out: set[str] = set()
    for k in range(partitions):
        consumer = PartitionConsumer(k, ack_wait_s=5)
        try:
            while True:
                devices, msgs = consumer.fetch(timeout=0.3)
                if not msgs:
                    break
                consumer.ack(msgs)
                out |= set(devices)
        finally:
            consumer.close()
    return out


def run_until_idle(announcer: Announcer, most: int = 100) -> None:
    for _ in range(most):
        if not announcer.step():
            return


def beat() -> Heartbeat:
    return Heartbeat.objects.get(name="bus announcer")


def bus_down_fault() -> Fault | None:
    return Fault.objects.open().filter(kind=FaultKind.BUS_DOWN.value).first()


@pytest.mark.django_db
def test_with_the_bus_down_ingest_stores_and_acknowledges_at_once(
    settings: Any, devices: list[str], announcers: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.OPENEM_BUS = NOWHERE
    started = time.monotonic()
    with django_capture_on_commit_callbacks(execute=True) as after_commit:
        result = ingest_jsonl(readings(devices[0], 20))
    took = time.monotonic() - started
    assert result.accepted == 20 and not result.rejected
    assert took < 0.5, f"ingest waited {took:.1f} s with the bus down"
    assert after_commit == []  # nothing waits on the bus after the commit either
    assert Reading.objects.count() == 20

    # The announcer cannot reach the bus: it says so (heartbeat, operational alert) and keeps the readings.
    announcer = announcers()
    assert announcer.step() is False
    assert BusCursor.objects.get(name=CURSOR).last_reading_id == 0
    hb = beat()
    assert hb.component == Component.BUS.value
    assert hb.backlog == 20 and hb.lag_s is not None
    assert hb.detail.startswith("bus unreachable")
    assert hb.counters["publish_failed"] == 1
    fault = bus_down_fault()
    assert fault is not None and fault.key == "bus_down:nats"
    assert "cannot be reached" in fault.summary and "4999" in fault.detail


@needs_nats
@pytest.mark.django_db
def test_what_was_stored_while_the_bus_was_down_is_announced_when_it_is_back(
    bus: Any, devices: list[str], announcers: Any
) -> None:
    a, b, c = devices[:3]
    ingest_jsonl(readings(a))
    ingest_jsonl(readings(b))
    down = announcers(url=NOWHERE)
    down.step()
    assert bus_down_fault() is not None

    up = announcers()
    run_until_idle(up)
    # Exactly the devices with new readings, each to its partition's worker.
    assert received() == {a, b}
    assert bus_down_fault() is None
    up._report_now = True
    up.step()
    assert beat().backlog == 0 and beat().detail == "connected"
    assert beat().counters["announced"] == 10

    # Later readings: only their device is announced.
    ingest_jsonl(readings(c))
    run_until_idle(up)
    assert received() == {c}
    run_until_idle(up)
    assert received() == set()


@needs_nats
@pytest.mark.django_db
def test_a_batch_sent_again_does_not_lose_the_first_ones_announcement(
    bus: Any, devices: list[str], announcers: Any
) -> None:
    # The gateway's first try is stored but (the bus being down) not announced; it sends the batch again.
    first = ingest_jsonl(readings(devices[0]))
    announcers(url=NOWHERE).step()
    again = ingest_jsonl(readings(devices[0]))
    assert (first.accepted, again.accepted, again.duplicates) == (5, 0, 5)
    run_until_idle(announcers())
    assert received() == {devices[0]}


@needs_nats
@pytest.mark.django_db
def test_an_announcer_restarted_mid_way_loses_nothing_and_only_one_announces_at_a_time(
    bus: Any, devices: list[str], announcers: Any
) -> None:
    for device in devices:
        ingest_jsonl(readings(device, 1))
    first = announcers(name="first", batch=5)
    assert first.step() is True  # more waiting
    assert received() == set(devices[:5])
    # A second announcer started meanwhile stands by: the first holds the cursor.
    standby = announcers(name="standby", batch=5)
    standby.step()
    assert received() == set()
    # The first dies without a word; once its lease has run out the second goes on from the stored cursor.
    BusCursor.objects.filter(name=CURSOR).update(locked_until=timezone.now())
    run_until_idle(standby)
    assert received() == set(devices[5:])
    assert BusCursor.objects.get(name=CURSOR).locked_by == "standby"
    # The first, back from a pause, finds the cursor taken and announces nothing.
    first._renewed = float("-inf")
    assert first.step() is False and received() == set()


@needs_nats
@pytest.mark.django_db
def test_a_reading_whose_lower_id_is_committed_late_is_still_announced(
    bus: Any, devices: list[str], announcers: Any
) -> None:
    ingest_jsonl(readings(devices[0], 3))
    base = Reading.objects.order_by("-id").values_list("id", flat=True)[0]
    stored = Reading.objects.filter(device=devices[0]).first()
    assert stored is not None

    def copy(pk: int, device: str) -> None:
        Reading.objects.create(
            id=pk, device=device, t=stored.t, type=stored.type, payload=stored.payload, digest=f"late:{pk}"
        )

    # Id base+3 is committed while base+1 and base+2 are not yet (another transaction holds them).
    copy(base + 3, devices[1])
    announcer = announcers(gap_wait_s=60)
    run_until_idle(announcer)
    assert received() == {devices[0], devices[1]}
    # (Ids before the first reading are watched too: on PostgreSQL this test's ids need not start at 1.)
    assert announcer.gaps[-1] == [base + 1, base + 2, pytest.approx(time.time(), abs=30)]
    # base+1 commits: announced; base+2 is still watched, and given up only after the wait.
    copy(base + 1, devices[2])
    run_until_idle(announcer)
    assert received() == {devices[2]}
    assert [g[:2] for g in BusCursor.objects.get(name=CURSOR).gaps if g[1] > base] == [[base + 2, base + 2]]
    announcer.gap_wait_s = 0
    run_until_idle(announcer)
    assert announcer.gaps == [] and received() == set()


@needs_nats
@pytest.mark.django_db
def test_with_more_gaps_than_are_kept_a_late_reading_is_still_announced(
    bus: Any, devices: list[str], announcers: Any, monkeypatch: Any
) -> None:
    monkeypatch.setattr(outbox, "MAX_GAPS", 1)
    ingest_jsonl(readings(devices[0], 1))
    base = Reading.objects.order_by("-id").values_list("id", flat=True)[0]
    template = Reading.objects.get(id=base)

    def copy(pk: int, device: str) -> None:
        Reading.objects.create(
            id=pk, device=device, t=template.t, type=template.type, payload=template.payload, digest=f"late:{pk}"
        )

    for k in (2, 4, 6):
        copy(base + k, devices[k])
    announcer = announcers(gap_wait_s=60)
    run_until_idle(announcer)
    assert received() == {devices[0], devices[2], devices[4], devices[6]}
    assert len(announcer.gaps) == 1  # merged: base+1, base+3 and base+5 watched as one range
    copy(base + 3, devices[3])
    run_until_idle(announcer)
    # The late one is announced (with, at worst, the merged range's others again: harmless).
    assert devices[3] in received()


@needs_nats
@pytest.mark.django_db(transaction=True)
def test_postgresql_commits_out_of_id_order_and_nothing_is_skipped(
    bus: Any, devices: list[str], announcers: Any
) -> None:
    other = second_postgresql_connection()
    try:
        # A slow transaction takes an id and has not committed when a later one has.
        other.execute(
            f"INSERT INTO {Reading._meta.db_table} (device, t, type, payload, digest, received, source, batch) "
            "VALUES (%s, now(), 'rf', '{}'::jsonb, 'slow', now(), 'http', 'slow')",
            [devices[0]],
        )
        ingest_jsonl(readings(devices[1]))
        announcer = announcers()
        run_until_idle(announcer)
        assert received() == {devices[1]}
        other.commit()
        run_until_idle(announcer)
        assert received() == {devices[0]}
    finally:
        other.close()


@pytest.fixture
def own_nats(tmp_path: Path) -> Iterator[Any]:
    """A NATS server of this test's own, which the test stops and starts again (its store kept)."""
    exe = shutil.which("nats-server") or next(
        (p for p in ("/usr/sbin/nats-server", "/usr/local/bin/nats-server") if os.path.exists(p)), None
    )
    if exe is None:
        pytest.skip("nats-server is not installed (apt-get install nats-server)")
    port = free_port()

    class Server:
        url = f"nats://127.0.0.1:{port}"
        proc: subprocess.Popen[bytes] | None = None

        def start(self) -> None:
            cmd = [exe, "-a", "127.0.0.1", "-p", str(port), "-js", "-sd", str(tmp_path / "store")]
            self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            wait_for_port(port)

        def stop(self) -> None:
            if self.proc is not None:
                self.proc.terminate()
                self.proc.wait(timeout=10)
                self.proc = None

    server = Server()
    server.start()
    yield server
    server.stop()


@pytest.mark.django_db
def test_nats_going_down_and_coming_back_loses_nothing(
    own_nats: Any, bus: Any, devices: list[str], announcers: Any
) -> None:
    bus.OPENEM_BUS = own_nats.url
    bus.OPENEM_BUS_PARTITIONS = 1
    announcer = announcers()
    consumer = PartitionConsumer(0, ack_wait_s=5)
    try:
        ingest_jsonl(readings(devices[0]))
        run_until_idle(announcer)
        got, msgs = consumer.fetch(timeout=2)
        consumer.ack(msgs)
        assert got == [devices[0]]

        own_nats.stop()
        started = time.monotonic()
        assert ingest_jsonl(readings(devices[1])).accepted == 5
        assert time.monotonic() - started < 0.5
        assert announcer.step() is False
        assert bus_down_fault() is not None
        with pytest.raises(BusUnavailable):
            consumer.fetch(timeout=0.2)

        own_nats.start()
        deadline = time.monotonic() + 20
        got = []
        while not got and time.monotonic() < deadline:
            announcer.step()
            try:
                got, msgs = consumer.fetch(timeout=0.2)
                consumer.ack(msgs)
            except BusUnavailable:
                time.sleep(0.2)
        assert got == [devices[1]]
        assert bus_down_fault() is None
    finally:
        consumer.close()


def test_the_announcer_and_a_partition_worker_ride_out_nats_going_down_and_stop_on_sigterm(
    tmp_path: Path, own_nats: Any
) -> None:
    """The processes as `openem run` starts them: readings stored while NATS is down are announced to and
    evaluated by the partition worker once it is back; neither process exits meanwhile; SIGTERM stops both."""
    db = tmp_path / "bus.sqlite3"
    prefix = f"test-{uuid.uuid4().hex[:10]}"
    env = {**os.environ, "OPENEM_SQLITE_PATH": str(db), "OPENEM_DATA_DIR": str(tmp_path)}
    env.update(OPENEM_BUS=own_nats.url, OPENEM_BUS_PARTITIONS="1", OPENEM_BUS_PREFIX=prefix)
    env.pop("DATABASE_URL", None)

    def openem(*args: str) -> None:
        subprocess.run([sys.executable, "-m", "openem.cli", *args], cwd=ROOT, env=env, check=True, capture_output=True)

    def store(name: str, body: str) -> None:
        (tmp_path / name).write_text(body)
        openem("ingest-file", str(tmp_path / name))

    def beats() -> dict[str, tuple[str, int]]:
        with sqlite3.connect(db) as c:
            return {n: (d, s) for n, d, s in c.execute("SELECT name, detail, stopped FROM health_heartbeat")}

    def taken() -> tuple[int, int]:
        """Messages the partition worker has acknowledged, and those not yet (pending or unacknowledged)."""
        import nats
        from nats.js.errors import NotFoundError

        async def ask() -> tuple[int, int]:
            nc = await nats.connect(own_nats.url)
            try:
                info = await nc.jetstream().consumer_info(f"{prefix.upper().replace('-', '_')}_READINGS", "engine-0")
                return info.ack_floor.stream_seq, info.num_pending + info.num_ack_pending
            except NotFoundError:  # the stream or the worker's consumer not made yet (a slow start): not yet
                return -1, -1
            finally:
                await nc.close()

        return run_async(ask())

    def wait_for(what: Any, why: str, seconds: float = 30) -> None:
        deadline = time.monotonic() + seconds
        while not what():
            assert all(p.poll() is None for p in procs.values()), f"a process exited ({why})"
            assert time.monotonic() < deadline, f"not in {seconds} s: {why}"
            time.sleep(0.2)

    openem("migrate", "-v0")
    openem("shell", "-c", "from openem.devices.models import Device; Device.objects.create(ref='RF-0001', kind='rf')")
    procs = {
        name: subprocess.Popen(
            [sys.executable, "-m", "openem.cli", *args],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for name, args in {
            "bus announcer": ["bus-announcer"],
            "engine partition 0": ["engine-worker", "--partition", "0"],
        }.items()
    }
    try:
        store("first.jsonl", readings("RF-0001", 5, hour=20))
        wait_for(lambda: taken() == (1, 0), "the first readings announced and evaluated")

        own_nats.stop()
        store("second.jsonl", readings("RF-0001", 5, hour=21))
        wait_for(
            lambda: (
                {n: d.startswith("bus unreachable") for n, (d, _s) in beats().items()} == dict.fromkeys(procs, True)
            ),
            "both report the bus unreachable",
        )
        time.sleep(1.5)  # still waiting, not gone
        assert all(p.poll() is None for p in procs.values())

        own_nats.start()
        wait_for(lambda: taken() == (2, 0), "what was stored meanwhile announced and evaluated")
        wait_for(lambda: {d for d, _s in beats().values()} == {"connected"}, "both report the bus connected")

        for p in procs.values():
            p.send_signal(signal.SIGTERM)
        for name, p in procs.items():
            assert p.wait(timeout=15) == 0, f"{name}: {p.stderr.read().decode() if p.stderr else ''}"
        assert {n: s for n, (_d, s) in beats().items()} == dict.fromkeys(procs, 1)
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.kill()
