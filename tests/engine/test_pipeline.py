"""The rules run as a declared pipeline of small classes: each named, for its device kinds, in an order
where a rule that reads another's violations comes after it; a rule that fails is named, and the others go on."""

from __future__ import annotations

from openem.engine import casefile
from openem.engine.engine import Engine
from openem.engine.enums import DeviceKind
from openem.engine.notes import NoteKind
from openem.engine.rules.pipeline import PIPELINE, Rule
from openem.engine.telemetry import parse_reading
from tests.conftest import example


def test_every_rule_has_a_code_kinds_and_a_place():
    codes = [r.code for r in PIPELINE]
    assert len(set(codes)) == len(codes)
    assert all(isinstance(r, Rule) and r.kinds and r.title for r in PIPELINE)
    assert codes.index("tamper") < codes.index("alcohol")  # the alcohol rule reads the tag's tampers
    for kind in DeviceKind:
        assert any(r.applies_to(kind) for r in PIPELINE if r.code == "silence")


def _engine_with(readings: list[dict]) -> Engine:
    engine = Engine(casefile.parse(example()))
    engine.add(parse_reading(r, "") for r in readings)
    return engine


def test_a_rule_that_fails_is_named_and_the_others_still_report(monkeypatch):
    from openem.engine.rules import pipeline

    zones = next(r for r in PIPELINE if r.code == "zones")

    def broken(ctx, earlier):
        raise ValueError("a bad shape")

    monkeypatch.setattr(zones, "check", broken)
    failures = []
    fixes = [
        {"device": "GPS-0001", "time": f"2026-11-10T22:{m:02d}:00Z", "type": "fix", "lat": 52.70, "lon": -0.70,
         "accuracy_m": 8}
        for m in range(0, 60, 5)
    ]  # fmt: skip
    away = [
        {"device": "RF-0001", "time": f"2026-11-10T{h}:{m:02d}:00Z", "type": "rf", "in_range": h == 19}
        for h in (19, 20, 21, 22) for m in range(0, 60, 10)
    ]  # fmt: skip
    out = _engine_with(fixes + away).evaluate(on_error=failures.append)
    assert [(f.device, f.rule) for f in failures] == [("GPS-0001", "zones")]
    # The home unit's evaluation is untouched by the GPS tag's failure: the night out is reported.
    assert any(v.type.value == "curfew_absence" and v.evidence["device"] == "RF-0001" for v in out.violations)
    assert pipeline.PIPELINE


def test_notes_are_typed_and_reach_the_worker_as_json():
    readings = [
        {"device": "GPS-0001", "time": "2026-11-10T12:00:00Z", "type": "power", "battery_pct": 9, "charging": False}
    ]
    result = _engine_with(readings).evaluate()
    (low,) = [n for n in result.notes if n.kind == NoteKind.BATTERY_LOW]
    assert low.device == "GPS-0001" and low.person == "P0001" and low.data["battery_pct"] == 9
    assert {"info": "battery_low", "device": "GPS-0001", "person": "P0001", "battery_pct": 9}.items() <= next(
        i for i in result.info if i["info"] == "battery_low"
    ).items()
