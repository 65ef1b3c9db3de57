"""The engine worker holds each device's recent readings between cycles and evaluates only what is new;
fed a simulated caseload in arrival order, batch after batch, it stores what a replay of everything finds."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from openem.alerts.models import Violation
from openem.cases.casefile_io import import_casefile
from openem.engine import casefile
from openem.engine.replay import replay
from openem.simulate.profiles import SimConfig
from openem.simulate.runner import simulate
from openem.telemetry import cache as worker_module
from openem.telemetry.ingest import ingest_jsonl
from openem.telemetry.worker import EngineWorker

DEVICE_TYPES = {"curfew_absence", "exclusion_zone_entry", "inclusion_zone_exit", "attendance_missed", "tamper",
                "no_signal", "battery_depleted", "home_unit_power", "location_failure", "alcohol_confirmed",
                "alcohol_level_exceeded"}  # fmt: skip


def stamp(iso: str | None) -> str | None:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).strftime("%Y-%m-%d %H:%M:%S") if iso else None


@pytest.mark.django_db
def test_windowed_worker_stores_what_a_full_replay_finds(tmp_path: Path, monkeypatch) -> None:
    # A short window, so that four days of data trim it several times.
    monkeypatch.setattr(worker_module, "WINDOW_S", 12 * 3600.0)
    monkeypatch.setattr(worker_module, "TRIM_EVERY_S", 2 * 3600.0)
    simulate(SimConfig(people=30, days=4, seed=7, start="2026-11-09"), tmp_path)
    import_casefile(casefile.load(tmp_path / "cases.json"), None, "test")
    lines = (tmp_path / "telemetry.jsonl").read_text().splitlines()
    worker = EngineWorker("window", batch=10_000)
    newest = ""
    for k in range(0, len(lines), 1_500):  # arrival order, as the devices uploaded
        chunk = lines[k : k + 1_500]
        ingest_jsonl("\n".join(chunk))
        newest = max([newest, *(line.split('"time":"')[1][:20] if '"time":"' in line else "" for line in chunk)])
        worker.cycle(now=datetime.fromisoformat(newest.replace("Z", "+00:00")))
    end = max(datetime.fromisoformat(newest.replace("Z", "+00:00")), datetime(2026, 11, 13, tzinfo=UTC))
    worker.cycle(now=end)
    stored = {
        (
            v.person.ref,
            v.type,
            v.start.strftime("%Y-%m-%d %H:%M:%S"),
            v.end.strftime("%Y-%m-%d %H:%M:%S") if v.end else None,
        )
        for v in Violation.objects.filter(retracted=False, type__in=DEVICE_TYPES).select_related("person")
    }
    expected = {
        (v.person, v.type.value, stamp(v.to_json()["start"]), stamp(v.to_json()["end"]))
        for v in replay(tmp_path / "cases.json", tmp_path / "telemetry.jsonl").violations
        if v.type.value in DEVICE_TYPES
    }
    assert len(expected) > 5
    assert stored == expected, (sorted(stored - expected)[:5], sorted(expected - stored)[:5])


def test_the_window_keeps_a_violation_cut_short_by_a_flat_battery_whole() -> None:
    from openem.telemetry.cache import CONTEXT_S, window_start

    h = 3600.0
    # A curfew absence from 19:00 ends at 06:19 when the tag goes flat; it is charged again at 19:09.
    absence, flat = (19 * h, 30.3 * h), (30.3 * h, None)
    edge = 43.15 * h - 12 * h
    # The flat battery is open, the absence it cut short reaches into the hour before it: both whole.
    assert window_start(edge, [absence, flat]) == 19 * h - CONTEXT_S
    # Nothing open or recent: the window's edge and the hour before it.
    assert window_start(edge, [(2 * h, 3 * h)]) == edge - CONTEXT_S


@pytest.mark.django_db
def test_a_backlog_worked_through_batch_by_batch_opens_no_silence(case) -> None:
    """Three hours of a tag's fixes arriving at once (after an outage): while batches are full the
    worker does not take the end of each batch for the tag falling silent."""
    import json
    from datetime import timedelta

    now = datetime(2026, 11, 10, 15, 0, tzinfo=UTC)
    first = now - timedelta(hours=3)
    lines = [
        json.dumps({"device": "GPS-0001", "time": (first + timedelta(minutes=k)).isoformat().replace("+00:00", "Z"),
                    "type": "fix", "lat": 52.6702, "lon": -0.7321, "accuracy_m": 8.0, "seq": k})
        for k in range(180)
    ]  # fmt: skip
    ingest_jsonl("\n".join(lines))
    worker = EngineWorker("backlog", batch=40)
    cycles = 0
    while worker.cycle(now=now).readings:
        cycles += 1
    assert cycles == 5
    assert not Violation.objects.filter(type="no_signal").exists(), "no silence opened, not even one withdrawn"
