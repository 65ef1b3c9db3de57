"""Home units that report only changes: an event when the tag leaves range, one when it comes back, and
heartbeats in between. An absence lasts from one to the other however long it is, while the unit shows
it is alive; only a silence of the unit itself is no signal. Curfews are UK local time, so nights across
midnight and both clock changes are checked as a practitioner would read the alert."""

from __future__ import annotations

import itertools
import json
from collections import defaultdict
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from openem.alerts.models import violation_detail
from openem.engine.model import Params
from openem.engine.replay import replay
from openem.engine.scoring import TOLERANCE_S
from openem.engine.streaming import StreamingEngine
from openem.engine.violations import ViolationType
from openem.simulate.profiles import Behaviour, SimConfig
from openem.simulate.runner import simulate

from .engine.helpers import case, curfew, device, heartbeats, iso, of_type, r, rf, run, ts

PARAMS = Params()
GRACE = PARAMS.rf_grace_s  # shorter than this out of range is the tag at the edge of the unit's range
SILENCE = PARAMS.no_signal_s["rf"]  # the unit heard nothing from for longer than this: no signal


def change_only_unit(
    start: str, end: str, leaves: str, back: str | None, beat_s: float = 1800.0, silent: tuple[str, str] | None = None
) -> list:
    """What a change-only home unit sends: in range when fitted, out when the tag leaves, in when it comes
    back, a heartbeat every ``beat_s`` and mains power every six hours, nothing while ``silent``."""
    out = [rf(start, True), rf(leaves, False)]
    if back is not None:
        out.append(rf(back, True))
    out += heartbeats(iso(ts(start) + 420), end, beat_s, "RF-1")
    t = ts(start)
    while t <= ts(end):
        out.append(r(device="RF-1", time=iso(t), type="power", mains=True))
        t += 6 * 3600
    if silent:
        out = [x for x in out if not ts(silent[0]) < x.t < ts(silent[1])]
    return out


def seen(result: Any) -> list[tuple[str, str | None, str, str]]:
    """The violations a practitioner would see: type, start, end, category."""
    return [(v["type"], v["start"], v["end"], v["category"]) for v in (x.to_json() for x in result.violations)]


def absence(start: str, end: str | None) -> tuple[str, str, str | None, str]:
    return ("curfew_absence", start, end, "behaviour")


def _shift(text: str, seconds: float) -> str:
    return iso(ts(text) + seconds)


# Curfew 19:00-07:00 UK time every night. November is GMT (UTC); in the night of 24-25 October 2026 the
# clocks go back (the curfew is 18:00Z to 07:00Z, 13 hours); in the night of 27-28 March 2027 they go
# forward (19:00Z to 06:00Z, 11 hours).
CASES = [
    # (name, first reading, last reading, leaves, back, what the practitioner sees)
    ("one minute: the edge of the unit's range", "2026-11-10T17:00:00Z", "2026-11-11T09:00:00Z",
     "2026-11-10T22:00:00Z", "2026-11-10T22:01:00Z", []),
    ("just under the grace period", "2026-11-10T17:00:00Z", "2026-11-11T09:00:00Z",
     "2026-11-10T22:00:00Z", _shift("2026-11-10T22:00:00Z", GRACE - 1), []),
    ("just over the grace period", "2026-11-10T17:00:00Z", "2026-11-11T09:00:00Z",
     "2026-11-10T22:00:00Z", _shift("2026-11-10T22:00:00Z", GRACE + 1),
     [absence("2026-11-10T22:00:00Z", _shift("2026-11-10T22:00:00Z", GRACE + 1))]),
    ("just under the no-signal threshold", "2026-11-10T17:00:00Z", "2026-11-11T09:00:00Z",
     "2026-11-10T21:00:00Z", _shift("2026-11-10T21:00:00Z", SILENCE - 1),
     [absence("2026-11-10T21:00:00Z", _shift("2026-11-10T21:00:00Z", SILENCE - 1))]),
    ("just over the no-signal threshold", "2026-11-10T17:00:00Z", "2026-11-11T09:00:00Z",
     "2026-11-10T21:00:00Z", _shift("2026-11-10T21:00:00Z", SILENCE + 1),
     [absence("2026-11-10T21:00:00Z", _shift("2026-11-10T21:00:00Z", SILENCE + 1))]),
    ("several hours across midnight", "2026-11-10T17:00:00Z", "2026-11-11T09:00:00Z",
     "2026-11-10T21:40:00Z", "2026-11-11T03:15:00Z", [absence("2026-11-10T21:40:00Z", "2026-11-11T03:15:00Z")]),
    ("the whole night", "2026-11-10T12:00:00Z", "2026-11-11T12:00:00Z",
     "2026-11-10T17:30:00Z", "2026-11-11T09:10:00Z", [absence("2026-11-10T19:00:00Z", "2026-11-11T07:00:00Z")]),
    ("home late, after midnight", "2026-11-10T12:00:00Z", "2026-11-11T12:00:00Z",
     "2026-11-10T14:00:00Z", "2026-11-11T00:25:00Z", [absence("2026-11-10T19:00:00Z", "2026-11-11T00:25:00Z")]),
    ("out early, before the curfew ends", "2026-11-10T12:00:00Z", "2026-11-11T12:00:00Z",
     "2026-11-11T05:05:00Z", "2026-11-11T10:00:00Z", [absence("2026-11-11T05:05:00Z", "2026-11-11T07:00:00Z")]),
    ("two whole nights and the day between", "2026-11-10T12:00:00Z", "2026-11-12T12:00:00Z",
     "2026-11-10T17:30:00Z", "2026-11-12T09:00:00Z",
     [absence("2026-11-10T19:00:00Z", "2026-11-11T07:00:00Z"),
      absence("2026-11-11T19:00:00Z", "2026-11-12T07:00:00Z")]),
    ("the whole night the clocks go back", "2026-10-24T12:00:00Z", "2026-10-25T12:00:00Z",
     "2026-10-24T16:00:00Z", "2026-10-25T09:00:00Z", [absence("2026-10-24T18:00:00Z", "2026-10-25T07:00:00Z")]),
    ("out over the hour the clocks go back", "2026-10-24T12:00:00Z", "2026-10-25T12:00:00Z",
     "2026-10-25T00:30:00Z", "2026-10-25T02:30:00Z", [absence("2026-10-25T00:30:00Z", "2026-10-25T02:30:00Z")]),
    ("home late the night the clocks go back", "2026-10-24T12:00:00Z", "2026-10-25T12:00:00Z",
     "2026-10-24T15:00:00Z", "2026-10-24T18:20:00Z", [absence("2026-10-24T18:00:00Z", "2026-10-24T18:20:00Z")]),
    ("the whole night the clocks go forward", "2027-03-27T12:00:00Z", "2027-03-28T12:00:00Z",
     "2027-03-27T18:00:00Z", "2027-03-28T08:00:00Z", [absence("2027-03-27T19:00:00Z", "2027-03-28T06:00:00Z")]),
    ("out over the hour the clocks go forward", "2027-03-27T12:00:00Z", "2027-03-28T12:00:00Z",
     "2027-03-28T00:30:00Z", "2027-03-28T01:30:00Z", [absence("2027-03-28T00:30:00Z", "2027-03-28T01:30:00Z")]),
    ("out early the morning the clocks go forward", "2027-03-27T12:00:00Z", "2027-03-28T12:00:00Z",
     "2027-03-28T05:30:00Z", "2027-03-28T07:30:00Z", [absence("2027-03-28T05:30:00Z", "2027-03-28T06:00:00Z")]),
]  # fmt: skip


def curfew_case() -> Any:
    return case([curfew()], [device("rf", fitted="2026-10-01T12:00:00Z")], start="2026-10-01", end="2027-04-30")


@pytest.mark.parametrize(
    ("first", "last", "leaves", "back", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_an_absence_reported_only_by_its_leave_and_return_events(first, last, leaves, back, expected):
    result = run(curfew_case(), change_only_unit(first, last, leaves, back))
    assert seen(result) == expected  # and nothing else: no no-signal while the heartbeats come


@pytest.mark.parametrize(
    ("name", "first", "last", "leaves", "back", "expected"),
    [c for c in CASES if c[5]],
    ids=[c[0] for c in CASES if c[5]],
)
def test_the_absence_reads_as_the_practitioner_expects(name, first, last, leaves, back, expected):
    (v, *_) = of_type(run(curfew_case(), change_only_unit(first, last, leaves, back)), "curfew_absence")
    assert v["duration_s"] == round(ts(v["end"]) - ts(v["start"]))
    assert "unit_silent_from" not in v["evidence"]
    text = violation_detail(ViolationType.CURFEW_ABSENCE, v["evidence"])
    if name.startswith("the whole night") or name.startswith("two whole"):
        assert text == "absent for the whole curfew period"
    elif leaves < v["evidence"]["window_start"]:
        assert text.startswith("late arrival")
    elif back > v["evidence"]["window_end"]:
        assert text.startswith("early departure")
    else:
        assert text == "left and came back during the curfew"


def test_heartbeats_just_under_the_no_signal_threshold_keep_a_whole_night_alive():
    readings = change_only_unit(
        "2026-11-10T12:00:00Z", "2026-11-11T12:00:00Z", "2026-11-10T18:00:00Z", "2026-11-11T08:00:00Z", SILENCE - 60
    )
    readings = [x for x in readings if x.type.value != "power"]  # only the heartbeats between the events
    assert seen(run(curfew_case(), readings)) == [absence("2026-11-10T19:00:00Z", "2026-11-11T07:00:00Z")]


def test_heartbeats_just_over_the_no_signal_threshold_are_no_signal_not_presence():
    """Out from 18:00, and the unit then heard only every 76 minutes: where the wearer was over the night is
    not known. The practitioner sees no signal (equipment) over the whole curfew, never a compliant night."""
    readings = [
        rf("2026-11-10T12:00:00Z", True),
        *heartbeats("2026-11-10T12:00:00Z", "2026-11-10T18:00:00Z", 1800, "RF-1"),
        rf("2026-11-10T18:00:00Z", False),
        *heartbeats("2026-11-10T18:30:00Z", "2026-11-11T07:30:00Z", SILENCE + 60, "RF-1"),
        rf("2026-11-11T08:00:00Z", True),
    ]
    result = run(curfew_case(), readings)
    assert of_type(result, "curfew_absence") == []
    silences = of_type(result, "no_signal")
    assert {v["category"] for v in silences} == {"equipment"}
    spans = [(ts(v["start"]), ts(v["end"])) for v in silences]
    assert spans[0][0] <= ts("2026-11-10T19:00:00Z") and spans[-1][1] >= ts("2026-11-11T07:00:00Z")
    assert all(a[1] == b[0] for a, b in itertools.pairwise(spans)), "no hole to read as home"


def test_a_unit_gone_silent_mid_absence_is_no_signal_and_the_absence_ends_there():
    """Out at 21:00; the home unit falls silent after its 22:07 heartbeat and is heard again at 02:07,
    when it says the tag is still out; the tag comes back at 05:00."""
    readings = change_only_unit(
        "2026-11-10T17:00:00Z",
        "2026-11-11T09:00:00Z",
        "2026-11-10T21:00:00Z",
        "2026-11-11T05:00:00Z",
        silent=("2026-11-10T22:07:00Z", "2026-11-11T02:07:00Z"),
    )
    readings.append(rf("2026-11-11T02:07:00Z", False))
    result = run(curfew_case(), readings)
    assert seen(result) == [
        absence("2026-11-10T21:00:00Z", "2026-11-10T22:07:00Z"),
        ("no_signal", "2026-11-10T22:07:00Z", "2026-11-11T02:07:00Z", "equipment"),
        absence("2026-11-11T02:07:00Z", "2026-11-11T05:00:00Z"),
    ]
    first = of_type(result, "curfew_absence")[0]
    assert first["evidence"]["unit_silent_from"] == "2026-11-10T22:07:00Z"
    detail = violation_detail(ViolationType.CURFEW_ABSENCE, first["evidence"])
    assert detail == "left during the curfew; then no signal from the home unit"  # never "came back"


def test_after_a_silence_heartbeats_alone_do_not_say_where_the_tag_is():
    """A change may have been lost while the unit was silent: what the unit says after it, not what it
    said before, starts an absence again."""
    readings = change_only_unit(
        "2026-11-10T17:00:00Z",
        "2026-11-11T09:00:00Z",
        "2026-11-10T21:00:00Z",
        "2026-11-11T05:00:00Z",
        silent=("2026-11-10T22:07:00Z", "2026-11-11T02:07:00Z"),
    )
    assert seen(run(curfew_case(), readings)) == [
        absence("2026-11-10T21:00:00Z", "2026-11-10T22:07:00Z"),
        ("no_signal", "2026-11-10T22:07:00Z", "2026-11-11T02:07:00Z", "equipment"),
    ]


def test_still_out_at_the_end_of_the_data_is_open_while_the_unit_is_alive():
    readings = change_only_unit("2026-11-10T17:00:00Z", "2026-11-11T04:30:00Z", "2026-11-10T20:00:00Z", None)
    assert seen(run(curfew_case(), readings, data_end="2026-11-11T05:00:00Z")) == [
        absence("2026-11-10T20:00:00Z", None)
    ]


def test_the_same_absences_whatever_the_arrival_order_and_batching():
    readings = change_only_unit(
        "2026-10-24T12:00:00Z", "2026-10-26T12:00:00Z", "2026-10-24T16:00:00Z", "2026-10-25T21:00:00Z"
    )
    expected = seen(run(curfew_case(), readings))
    assert expected == [
        absence("2026-10-24T18:00:00Z", "2026-10-25T07:00:00Z"),
        absence("2026-10-25T19:00:00Z", "2026-10-25T21:00:00Z"),
    ]
    stream = StreamingEngine(curfew_case())
    for k in range(0, len(readings), 7):
        stream.ingest(reversed(readings[k : k + 7]))
    stream.flush()
    assert [(v.type.value, v.to_json()["start"], v.to_json()["end"]) for v in stream.violations] == [
        x[:3] for x in expected
    ]


# ---------------------------------------------------------------- the simulator's change-only units


@pytest.fixture(scope="module", params=["2026-10-23", "2027-03-26"], ids=["autumn change", "spring change"])
def simulated(request, tmp_path_factory):
    """Three days around a clock change, every home unit reporting only changes, people who break their
    curfews often."""
    out = tmp_path_factory.mktemp("change-only")
    mix = {Behaviour.HOME_LATE: 0.35, Behaviour.OUT_ALL_NIGHT: 0.35, Behaviour.LEAVES_EARLY: 0.3}
    config = SimConfig(
        people=30, days=3, seed=11, start=request.param, bad_day_rate=0.8, mix=mix, change_only_home_units=1.0
    )
    simulate(config, out, processes=1)
    lines = [json.loads(x) for x in (out / "truth.jsonl").read_text().splitlines()]
    found = [v.to_json() for v in replay(out / "cases.json", out / "telemetry.jsonl").violations]
    readings: dict[str, list[dict[str, Any]]] = defaultdict(list)
    with open(out / "telemetry.jsonl") as fh:
        for line in fh:
            x = json.loads(line)
            readings[x["device"]].append(x)
    return {"truth": [x for x in lines if "type" in x], "found": found, "readings": readings, "out": Path(out)}


def test_simulated_change_only_units_send_events_and_heartbeats(simulated):
    units = [d for d in simulated["readings"] if d.startswith("RF-")]
    assert units
    for d in units:
        kinds = {x["type"] for x in simulated["readings"][d]}
        assert "heartbeat" in kinds and "rf" in kinds
        rf_states = [
            x["in_range"] for x in sorted(simulated["readings"][d], key=lambda x: x["time"]) if x["type"] == "rf"
        ]
        # Only changes (a repeat only where the unit reports its state again after a silence).
        repeats = sum(a == b for a, b in itertools.pairwise(rf_states))
        assert repeats <= 2, d


def test_every_simulated_absence_is_found_with_its_start_and_end(simulated):
    truth = [
        v
        for v in simulated["truth"]
        if v["type"] == "curfew_absence" and v["evidence"].get("home_unit") == "changes_only"
    ]
    observable = [v for v in truth if v["evidence"].get("observable") is not False]
    long_ones = [v for v in observable if v["duration_s"] >= 2 * GRACE]  # shorter may be lost in range flapping
    assert len(long_ones) >= 8 and any(v["duration_s"] > SILENCE for v in long_ones)
    assert any(v["evidence"]["whole_period"] for v in long_ones)
    found = [v for v in simulated["found"] if v["type"] == "curfew_absence" and v["evidence"]["technology"] == "rf"]
    for v in long_ones:
        # Within the scoring tolerance: the tag stays in range for the first and last tens of metres walked.
        match = [f for f in found if f["person"] == v["person"] and abs(ts(f["start"]) - ts(v["start"])) <= TOLERANCE_S]
        assert match, f"missed: {v}"
        assert abs(ts(match[0]["end"]) - ts(v["end"])) <= TOLERANCE_S, (v, match[0])
    # And nothing the wearer did not do.
    for f in found:
        assert any(
            t["person"] == f["person"]
            and ts(t["start"]) - TOLERANCE_S <= ts(f["end"])
            and ts(t["end"]) + TOLERANCE_S >= ts(f["start"])
            for t in truth
        ), f"false absence: {f}"


# ---------------------------------------------------------------- the demo caseload


def test_a_share_of_the_demo_home_units_report_only_changes_the_same_every_time():
    from openem.simulate.management.commands.demo_setup import demo_config
    from openem.simulate.profiles import HomeUnitReporting
    from openem.simulate.runner import plan

    from .conftest import TODAY

    def units():
        config = demo_config(today=TODAY)
        people = plan(config, date.fromisoformat(config.start))
        return {p.devices["rf"]: p.home_unit for p in people if p.devices.get("rf")}

    first = units()
    change_only = [d for d, u in first.items() if u == HomeUnitReporting.CHANGES_ONLY]
    assert 0 < len(change_only) < len(first)
    assert units() == first


# ---------------------------------------------------------------- the engine worker


@pytest.mark.slow
@pytest.mark.django_db
def test_the_windowed_worker_keeps_change_only_absences(tmp_path: Path, monkeypatch) -> None:
    from datetime import UTC, datetime

    from openem.alerts.models import Violation
    from openem.cases.casefile_io import import_casefile
    from openem.engine import casefile
    from openem.telemetry import cache as worker_module
    from openem.telemetry.ingest import ingest_jsonl
    from openem.telemetry.worker import EngineWorker

    monkeypatch.setattr(worker_module, "WINDOW_S", 12 * 3600.0)
    monkeypatch.setattr(worker_module, "TRIM_EVERY_S", 2 * 3600.0)
    simulate(SimConfig(people=30, days=4, seed=7, start="2026-11-09", change_only_home_units=1.0), tmp_path)
    import_casefile(casefile.load(tmp_path / "cases.json"), None, "test")
    lines = (tmp_path / "telemetry.jsonl").read_text().splitlines()
    worker = EngineWorker("window", batch=10_000)
    newest = ""
    for k in range(0, len(lines), 1_500):
        chunk = lines[k : k + 1_500]
        ingest_jsonl("\n".join(chunk))
        newest = max([newest, *(line.split('"time":"')[1][:20] if '"time":"' in line else "" for line in chunk)])
        worker.cycle(now=datetime.fromisoformat(newest.replace("Z", "+00:00")))
    worker.cycle(now=max(datetime.fromisoformat(newest.replace("Z", "+00:00")), datetime(2026, 11, 13, tzinfo=UTC)))
    stored = {
        (v.person.ref, v.start.timestamp(), v.end.timestamp() if v.end else None)
        for v in Violation.objects.filter(retracted=False, type="curfew_absence", person__ref__in={"P0002", "P0020"})
    }
    expected = {
        (v.person, v.start, v.end)
        for v in replay(tmp_path / "cases.json", tmp_path / "telemetry.jsonl").violations
        if v.type == ViolationType.CURFEW_ABSENCE and str(v.evidence["device"]).startswith("RF-")
    }
    assert expected and stored == expected
