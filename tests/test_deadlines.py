"""A deadline per device: ingest keeps each device's last reading and silence deadline; the engine finds the
silent ones with one indexed query and looks at each silence once, until the device reports again."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from openem.alerts.models import Violation
from openem.devices.models import Device, Fitting
from openem.telemetry import deadlines
from openem.telemetry.ingest import ingest_jsonl
from openem.telemetry.models import DeviceDeadline
from openem.telemetry.worker import EngineWorker
from tests.conftest import rf

pytestmark = pytest.mark.django_db

T = datetime(2026, 11, 10, 12, 0, tzinfo=UTC)


def _silences(device: str) -> list[Violation]:
    return list(Violation.objects.filter(device=device, type="no_signal", retracted=False))


def test_ingest_keeps_each_devices_last_reading_and_deadline(case):
    ingest_jsonl("\n".join(rf(h, 0, True) for h in (9, 11, 10)))
    d = DeviceDeadline.objects.get(device="RF-0001")
    assert d.last_reading_at == datetime(2026, 11, 10, 11, 0, tzinfo=UTC)
    assert d.silent_after == d.last_reading_at + timedelta(seconds=deadlines.limit_s("rf"))
    assert d.kind == "rf" and not d.reported
    # A backlog arriving late (older readings) does not move the deadline back.
    ingest_jsonl(rf(8, 0, True))
    assert DeviceDeadline.objects.get(device="RF-0001").last_reading_at == datetime(2026, 11, 10, 11, 0, tzinfo=UTC)


def test_a_reading_stamped_in_the_future_does_not_postpone_the_deadline(case):
    now = datetime.now(UTC)
    ahead = now + timedelta(minutes=4)  # within what ingest accepts as clock drift
    ingest_jsonl(json.dumps({"device": "RF-0001", "time": ahead.isoformat(), "type": "rf", "in_range": True}))
    d = DeviceDeadline.objects.filter(device="RF-0001").first()
    if d is not None:  # accepted: counted from its arrival at the latest
        assert d.last_reading_at <= datetime.now(UTC)


def test_a_silent_device_is_found_once_and_again_after_it_reports(case):
    ingest_jsonl("\n".join(rf(h, m, True) for h in (9, 10, 11) for m in (0, 30)))
    worker = EngineWorker("t")
    worker.cycle(now=T)
    assert worker.silent_devices((T + timedelta(minutes=30)).timestamp(), set()) == []
    later = T + timedelta(hours=3)
    assert worker.silent_devices(later.timestamp(), set()) == ["RF-0001"]
    worker._checked_deadlines = float("-inf")
    worker.cycle(now=later)
    assert [v.start for v in _silences("RF-0001")] == [datetime(2026, 11, 10, 11, 30, tzinfo=UTC)]
    assert DeviceDeadline.objects.get(device="RF-0001").reported
    # Looked at: not asked about again while it stays silent.
    assert deadlines.due(later + timedelta(hours=1)) == {}
    # It reports again: its silence ends, and its next silence is found.
    ingest_jsonl("\n".join(rf(h, 0, True) for h in (15, 16)))
    assert not DeviceDeadline.objects.get(device="RF-0001").reported
    worker.cycle(now=datetime(2026, 11, 10, 16, 5, tzinfo=UTC))
    assert all(v.end is not None for v in _silences("RF-0001"))
    assert "RF-0001" in deadlines.due(datetime(2026, 11, 10, 18, 0, tzinfo=UTC))


def test_a_reading_arriving_while_the_engine_looks_keeps_the_device_watched(case):
    ingest_jsonl(rf(9, 0, True))
    seen = DeviceDeadline.objects.get(device="RF-0001").last_reading_at
    ingest_jsonl(rf(10, 0, True))  # arrives after the engine read the deadline
    assert deadlines.mark_reported({"RF-0001": seen}) == 0
    assert not DeviceDeadline.objects.get(device="RF-0001").reported


def test_a_device_removed_from_its_wearer_is_not_silent_until_fitted_again(case):
    ingest_jsonl(rf(9, 0, True))
    fitting = Fitting.objects.get(device__ref="RF-0001")
    fitting.removed_at = datetime(2026, 11, 10, 9, 30, tzinfo=UTC)
    fitting.save()
    worker = EngineWorker("t")
    assert worker.silent_devices((T + timedelta(hours=5)).timestamp(), set()) == []
    assert deadlines.due(T + timedelta(hours=5)) == {}  # set aside: not asked about on every check
    # Fitted to someone again: its silence is that wearer's, looked at afresh.
    Fitting.objects.create(device=fitting.device, person=case, fitted_at=datetime(2026, 11, 10, 10, tzinfo=UTC))
    worker.cases_changed()
    worker.model()
    assert worker.silent_devices((T + timedelta(hours=5)).timestamp(), set()) == ["RF-0001"]


def test_the_silent_check_costs_the_same_queries_for_many_devices(case):
    def queries(n: int) -> int:
        for k in range(n):
            dev = Device.objects.get_or_create(ref=f"RF-9{n:02d}{k:03d}", defaults={"kind": "rf"})[0]
            Fitting.objects.get_or_create(device=dev, person=case, defaults={"fitted_at": T - timedelta(days=1)})
        ingest_jsonl("\n".join(rf(9, 0, True, device=f"RF-9{n:02d}{k:03d}") for k in range(n)))
        worker = EngineWorker("t")
        with CaptureQueriesContext(connection) as ctx:
            found = worker.silent_devices((T + timedelta(hours=3)).timestamp(), set())
        assert len(found) >= n
        deadlines.mark_reported({d: DeviceDeadline.objects.get(device=d).last_reading_at for d in found})
        return len(ctx.captured_queries)

    assert queries(3) == queries(40)
