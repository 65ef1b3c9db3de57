"""The same readings in any arrival order and any batching give the same violations."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openem.engine import casefile
from openem.engine.engine import Engine
from openem.engine.replay import read_telemetry
from openem.simulate.profiles import SimConfig
from openem.simulate.runner import simulate


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    out = tmp_path_factory.mktemp("order")
    simulate(SimConfig(people=12, days=2, seed=21, start="2026-11-16", bad_day_rate=0.8), out)
    cf = casefile.load(out / "cases.json")
    readings = list(read_telemetry(out / "telemetry.jsonl"))
    return cf, readings


def violations(cf, batches) -> list[dict]:
    engine = Engine(cf)
    for batch in batches:
        engine.add(batch)
    return [v.to_json() for v in engine.evaluate().violations]


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1), cuts=st.integers(1, 40), duplicate=st.booleans())
def test_any_arrival_order_and_batching_gives_the_same_violations(sim, seed, cuts, duplicate):
    cf, readings = sim
    expected = violations(cf, [readings])
    assert expected, "the scenario must produce violations for the property to mean anything"
    shuffled = list(readings)
    random.Random(seed).shuffle(shuffled)
    if duplicate:
        shuffled += shuffled[: len(shuffled) // 10]  # a device resending part of its buffer
    bounds = sorted(random.Random(seed + 1).sample(range(1, len(shuffled)), cuts))
    batches = [shuffled[a:b] for a, b in zip([0, *bounds], [*bounds, len(shuffled)], strict=True)]
    assert violations(cf, batches) == expected


def test_output_is_sorted_by_person_start_and_type(sim):
    cf, readings = sim
    out = violations(cf, [readings])
    keys = [(v["person"], v["start"], v["type"]) for v in out]
    assert keys == sorted(keys)
    json.dumps(out)  # plain JSON all the way down


def test_the_engine_imports_no_django():
    import subprocess
    import sys

    code = (
        "import sys, openem.engine.engine, openem.engine.replay, openem.bench; "
        "print(any(m == 'django' or m.startswith('django.') for m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert out.stdout.strip() == "False"


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1), batches=st.integers(3, 15))
def test_streaming_in_batches_ends_with_the_batch_engines_violations(sim, seed, batches):
    from openem.engine.streaming import StreamingEngine

    cf, readings = sim
    expected = violations(cf, [readings])
    # Arrival roughly in time order with some readings late: sort by time plus a random delay.
    rng = random.Random(seed)
    arriving = sorted(readings, key=lambda r: r.t + rng.choice([0, 0, 0, 60, 600, 7200]))
    stream = StreamingEngine(cf)
    size = len(arriving) // batches + 1
    amendments = []
    for i in range(0, len(arriving), size):
        amendments += stream.ingest(arriving[i : i + size])
    amendments += stream.flush()
    assert [v.to_json() for v in stream.violations] == expected
    assert {a.action for a in amendments} <= {"open", "change", "retract"}


def test_a_late_reading_amends_a_violation():
    from openem.engine.streaming import StreamingEngine

    from .helpers import case, curfew, device, rf

    cf = case([curfew()], [device("rf")])
    stream = StreamingEngine(cf, reorder_window_s=120)
    on_time = [rf(f"2026-11-10T{h:02d}:{m:02d}:00Z", h < 20) for h in range(18, 23) for m in (0, 30)]
    opened = stream.ingest(on_time)
    assert [(a.action, a.violation.type.value) for a in opened] == [("open", "curfew_absence")]
    # The home unit's buffered report that the tag came back at 20:40 arrives an hour late.
    late = stream.ingest([rf("2026-11-10T20:40:00Z", True), rf("2026-11-10T20:45:00Z", True)])
    kinds = [a.action for a in late]
    assert "change" in kinds or "retract" in kinds


def test_extending_a_frame_with_later_readings_equals_building_from_all():
    import numpy as np

    from openem.engine.telemetry import DeviceFrame, ReadingType, extend_frame
    from openem.engine.telemetry import Reading as R

    early = [R("D", 100.0 + i, ReadingType.FIX, i, 52.6 + i * 1e-4, -0.7, 5.0) for i in range(5)]
    early += [R("D", 102.5, ReadingType.POWER, -1, flag=0, value=80.0, kind="battery")]
    late = [R("D", 200.0 + i, ReadingType.FIX, 10 + i, 52.7, -0.71, 8.0) for i in range(3)]
    late += [R("D", 201.5, ReadingType.TAMPER, -1, flag=1, kind="strap")]
    whole = DeviceFrame.build("D", early + late)
    joined = extend_frame(DeviceFrame.build("D", early), DeviceFrame.build("D", late))
    for name in ("t", "fix_t", "lat", "lon", "acc", "batt_t", "batt_pct", "batt_charging"):
        assert np.array_equal(getattr(whole, name), getattr(joined, name)), name
    assert whole.tamper == joined.tamper
