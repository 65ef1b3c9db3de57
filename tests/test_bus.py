"""Scale-out over NATS JetStream (local server): partitioned by device, and a worker killed before it
acknowledges loses nothing and duplicates nothing."""

from __future__ import annotations

import json
import socket
import time
import uuid
from datetime import UTC, datetime

import pytest

from openem.alerts.models import Violation
from openem.telemetry.bus import PartitionConsumer, partition
from openem.telemetry.ingest import ingest_jsonl
from openem.telemetry.outbox import Announcer
from openem.telemetry.worker import EngineWorker


def _nats_up() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 4222), timeout=1).close()
        return True
    except OSError:
        return False


pytestmark = pytest.mark.skipif(not _nats_up(), reason="no NATS server on 127.0.0.1:4222")


@pytest.fixture
def bus(settings):
    settings.OPENEM_BUS = "nats://127.0.0.1:4222"
    settings.OPENEM_BUS_PARTITIONS = 2
    settings.OPENEM_BUS_PREFIX = f"test-{uuid.uuid4().hex[:10]}"
    return settings


def night(device: str) -> str:
    return "\n".join(
        json.dumps({"device": device, "time": f"2026-11-10T{h:02d}:{m:02d}:00Z", "type": "rf", "in_range": h < 20})
        for h in range(18, 23)
        for m in (0, 30)
    )


@pytest.mark.django_db
def test_a_worker_killed_before_acknowledging_loses_nothing_and_duplicates_nothing(bus, case):
    now = datetime(2026, 11, 10, 22, 35, tzinfo=UTC)
    ingest_jsonl(night("RF-0001"))
    announcer = Announcer()
    announcer.step()  # the readings table is the outbox: stored readings are announced after the commit
    announcer.close()
    k = partition("RF-0001", 2)
    # The other partition's worker has nothing to do with this device.
    other = PartitionConsumer(1 - k, ack_wait_s=2)
    assert EngineWorker("other").bus_cycle(other, now=now).devices == 0
    other.close()
    # A worker takes the message and dies before storing or acknowledging anything.
    doomed = PartitionConsumer(k, ack_wait_s=2)
    devices, _msgs = doomed.fetch()
    assert devices == ["RF-0001"]
    doomed.close()
    assert not Violation.objects.exists()
    # Its replacement gets the message again once the acknowledgement is overdue.
    time.sleep(2.5)
    replacement = PartitionConsumer(k, ack_wait_s=2)
    worker = EngineWorker("replacement")
    assert worker.bus_cycle(replacement, now=now).devices == 1
    assert Violation.objects.filter(type="curfew_absence").count() == 1
    # Acknowledged: nothing comes again, and nothing is stored twice.
    time.sleep(2.5)
    assert worker.bus_cycle(replacement, now=now).devices == 0
    assert Violation.objects.filter(type="curfew_absence").count() == 1
    replacement.close()


@pytest.mark.django_db
def test_the_checks_only_worker_finds_silence_without_new_readings(case):
    ingest_jsonl(json.dumps({"device": "RF-0001", "time": "2026-11-10T12:00:00Z", "type": "rf", "in_range": True}))
    EngineWorker("checks").checks(now=datetime(2026, 11, 10, 15, 0, tzinfo=UTC))
    assert Violation.objects.get(type="no_signal").device == "RF-0001"
