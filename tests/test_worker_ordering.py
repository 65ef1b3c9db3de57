"""The worker's real path keeps the engine's promise: the same readings stored in any arrival order and
batching, each batch worked through by the engine worker as it arrives, leave the same stored violations as
the engine finds over all of them at once (the reconciler adds, amends and retracts until they agree)."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openem.engine import casefile
from openem.engine.engine import Engine
from openem.engine.replay import read_telemetry
from openem.simulate.profiles import SimConfig
from openem.simulate.runner import simulate

pytestmark = [pytest.mark.django_db(transaction=False), pytest.mark.slow]


@pytest.fixture(scope="module")
def scenario(tmp_path_factory):
    out = tmp_path_factory.mktemp("worker-order")
    simulate(SimConfig(people=6, days=2, seed=21, start="2026-11-16", bad_day_rate=1.0), out)
    cf = casefile.load(out / "cases.json")
    readings = list(read_telemetry(out / "telemetry.jsonl"))
    lines = (out / "telemetry.jsonl").read_bytes().splitlines()
    return out, cf, readings, lines


def _stored() -> list[tuple]:
    from openem.alerts.models import Violation

    return sorted(
        (v.person.ref, v.type, v.condition_ref, v.device, v.start.timestamp(), v.end.timestamp() if v.end else None)
        for v in Violation.objects.filter(retracted=False).exclude(device="").select_related("person")
    )


def _expected(cf, readings, end: float) -> list[tuple]:
    engine = Engine(cf)
    engine.add(readings)
    result = engine.evaluate(data_end=end)
    return sorted(
        (v.person, v.type.value, v.condition or "", str(v.evidence.get("device", "")), v.start, v.end)
        for v in result.violations
        if v.evidence.get("device")
    )


def _reset() -> None:
    from openem.alerts.models import Violation
    from openem.telemetry.models import DeviceDeadline, EngineCursor, Reading, TrailBlock

    for model in (Violation, Reading, TrailBlock, DeviceDeadline, EngineCursor):
        model.objects.all().delete()


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1), cuts=st.integers(2, 12))
def test_any_arrival_order_and_batching_leaves_the_same_stored_violations(scenario, personas, seed, cuts):
    from openem.cases.casefile_io import import_casefile
    from openem.cases.models import Person
    from openem.telemetry.ingest import ingest_jsonl
    from openem.telemetry.worker import EngineWorker

    _out, cf, readings, lines = scenario
    if not Person.objects.exists():
        import_casefile(cf, None, "test")
    _reset()
    end = max(r.t for r in readings)
    expected = _expected(cf, readings, end)
    assert expected, "the scenario must produce violations for the property to mean anything"
    shuffled = list(lines)
    random.Random(seed).shuffle(shuffled)
    bounds = sorted(random.Random(seed + 1).sample(range(1, len(shuffled)), cuts))
    worker = EngineWorker("ordering")
    now = datetime.fromtimestamp(end, UTC)
    for a, b in zip([0, *bounds], [*bounds, len(shuffled)], strict=True):
        ingest_jsonl(b"\n".join(shuffled[a:b]))
        worker.cycle(now=now)
    assert _stored() == expected
