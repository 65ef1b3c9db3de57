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
