"""The engine cursor's lease: held by one worker, renewed through a long cycle, and a worker that lost it
advances nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from openem.telemetry.cursor import CursorLease, LeaseLost
from openem.telemetry.ingest import ingest_jsonl
from openem.telemetry.models import EngineCursor
from openem.telemetry.worker import EngineWorker
from tests.conftest import rf

pytestmark = pytest.mark.django_db


def test_one_holder_at_a_time_and_renewal_keeps_it():
    a, b = CursorLease("engine", "a"), CursorLease("engine", "b")
    assert a.claim() is not None and b.claim() is None
    a.renew()
    assert b.claim() is None
    # The lease ran out (a paused): b takes over, and a can neither renew nor advance.
    EngineCursor.objects.filter(name="engine").update(locked_until=timezone.now() - timedelta(seconds=1))
    assert b.claim() is not None
    with pytest.raises(LeaseLost):
        a.renew()
    assert not a.advance(99)
    assert b.advance(5) and b.position() == 5


def test_a_worker_that_loses_the_cursor_mid_cycle_does_not_advance_it(case, monkeypatch):
    ingest_jsonl("\n".join(rf(h, 0, True) for h in (9, 10, 11)))
    worker = EngineWorker("first")

    def taken() -> None:
        EngineCursor.objects.filter(name="engine").update(locked_by="second")
        raise LeaseLost("taken")

    monkeypatch.setattr(worker, "_renew", taken)
    worker.cycle()
    assert EngineCursor.objects.get(name="engine").last_reading_id == 0
    # The worker that holds it now works the same readings through.
    second = EngineWorker("second")
    assert second.cycle().readings == 3
    assert EngineCursor.objects.get(name="engine").last_reading_id > 0
