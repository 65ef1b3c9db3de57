"""Curfew by radio frequency and by GPS: absences, their evidence, local time and clock changes."""

from __future__ import annotations

from .helpers import HOME, case, curfew, device, fix, heartbeats, iso, of_type, offset, rf, run, ts


def rf_states(start: str, end: str, *changes: tuple[str, bool], initial: bool = True) -> list:
    """What a home unit sends: each change of range, and the current state every 30 minutes."""
    out = [rf(t, state) for t, state in changes]
    state, t, stop = initial, ts(start), ts(end)
    pending = sorted((ts(c[0]), c[1]) for c in changes)
    while t <= stop:
        while pending and pending[0][0] <= t:
            state = pending.pop(0)[1]
        out.append(rf(iso(t), state))
        t += 1800
    return out


def test_a_late_arrival_is_an_absence_from_the_curfew_start():
    cf = case([curfew()], [device("rf")])
    readings = rf_states(
        "2026-11-10T17:00:00Z", "2026-11-11T08:00:00Z", ("2026-11-10T18:00:00Z", False), ("2026-11-10T19:42:00Z", True)
    )
    (v,) = of_type(run(cf, readings), "curfew_absence")
    assert (v["start"], v["end"], v["duration_s"]) == ("2026-11-10T19:00:00Z", "2026-11-10T19:42:00Z", 42 * 60)
    assert v["evidence"]["late_arrival"] and not v["evidence"]["whole_period"]
    assert v["category"] == "behaviour" and v["condition"] == "C1"


def test_an_early_departure_and_minutes_absent_in_the_period():
    cf = case([curfew()], [device("rf")])
    readings = rf_states(
        "2026-11-10T18:00:00Z",
        "2026-11-11T10:00:00Z",
        ("2026-11-10T23:00:00Z", False),
        ("2026-11-10T23:30:00Z", True),
        ("2026-11-11T06:15:00Z", False),
        ("2026-11-11T09:00:00Z", True),
    )
    vs = of_type(run(cf, readings), "curfew_absence")
    assert [(v["start"], v["end"]) for v in vs] == [
        ("2026-11-10T23:00:00Z", "2026-11-10T23:30:00Z"),
        ("2026-11-11T06:15:00Z", "2026-11-11T07:00:00Z"),
    ]
    assert vs[1]["evidence"]["early_departure"]
    assert {v["evidence"]["minutes_absent_in_period"] for v in vs} == {75}


def test_out_for_the_whole_period():
    cf = case([curfew()], [device("rf")])
    readings = rf_states(
        "2026-11-10T17:00:00Z", "2026-11-11T09:00:00Z", ("2026-11-10T17:00:00Z", False), ("2026-11-11T08:30:00Z", True)
    )
    (v,) = of_type(run(cf, readings), "curfew_absence")
    assert v["evidence"]["whole_period"] and v["duration_s"] == 12 * 3600


def test_range_flapping_is_not_an_absence():
    cf = case([curfew()], [device("rf")])
    readings = rf_states(
        "2026-11-10T18:00:00Z", "2026-11-11T08:00:00Z", ("2026-11-10T22:00:10Z", False), ("2026-11-10T22:01:30Z", True)
    )
    assert of_type(run(cf, readings), "curfew_absence") == []


def test_a_silent_home_unit_does_not_make_an_absence_longer_than_shown():
    cf = case([curfew()], [device("rf")])
    readings = rf_states("2026-11-10T18:00:00Z", "2026-11-10T22:00:00Z", ("2026-11-10T22:00:00Z", False))
    readings += [rf("2026-11-10T22:20:00Z", False), rf("2026-11-11T06:00:00Z", True)]
    result = run(cf, readings)
    (v,) = of_type(result, "curfew_absence")
    assert v["end"] == "2026-11-10T22:20:00Z"
    (silence,) = of_type(result, "no_signal")
    assert (silence["start"], silence["end"], silence["category"]) == (
        "2026-11-10T22:20:00Z",
        "2026-11-11T06:00:00Z",
        "equipment",
    )


def test_windows_are_local_time_across_the_autumn_clock_change():
    # 25 October 2026: clocks go back at 02:00 BST. 19:00-07:00 local is 18:00Z to 07:00Z: 13 hours.
    cf = case([curfew()], [device("rf", fitted="2026-10-01T12:00:00Z")], start="2026-10-01")
    readings = rf_states(
        "2026-10-24T16:00:00Z", "2026-10-25T09:00:00Z", ("2026-10-24T17:00:00Z", False), ("2026-10-25T07:30:00Z", True)
    )
    (v,) = of_type(run(cf, readings), "curfew_absence")
    assert (v["start"], v["end"], v["duration_s"]) == ("2026-10-24T18:00:00Z", "2026-10-25T07:00:00Z", 13 * 3600)


def test_windows_are_local_time_across_the_spring_clock_change():
    # 28 March 2027: clocks go forward at 01:00 GMT. 19:00-07:00 local is 19:00Z to 06:00Z: 11 hours.
    cf = case([curfew()], [device("rf", fitted="2027-03-01T12:00:00Z")], start="2027-03-01", end="2027-06-30")
    readings = rf_states(
        "2027-03-27T17:00:00Z", "2027-03-28T09:00:00Z", ("2027-03-27T18:00:00Z", False), ("2027-03-28T08:00:00Z", True)
    )
    (v,) = of_type(run(cf, readings), "curfew_absence")
    assert (v["start"], v["end"], v["duration_s"]) == ("2027-03-27T19:00:00Z", "2027-03-28T06:00:00Z", 11 * 3600)


def test_release_day_curfew_starts_at_the_release_time():
    cf = case(
        [curfew(release_day_start="15:00")],
        [device("rf", fitted="2026-11-01T13:00:00Z")],
        order_type="hdc",
        start="2026-11-01",
        end="2027-01-31",
    )
    readings = rf_states(
        "2026-11-01T13:30:00Z", "2026-11-02T08:00:00Z", ("2026-11-01T16:00:00Z", False), ("2026-11-01T17:00:00Z", True)
    )
    (v,) = of_type(run(cf, readings, data_end="2026-11-02T08:00:00Z"), "curfew_absence")
    assert (v["start"], v["end"]) == ("2026-11-01T16:00:00Z", "2026-11-01T17:00:00Z")


def test_gps_curfew_needs_fixes_clearly_away_allowing_for_accuracy():
    cf = case([curfew("gps"), {"type": "trail"}], [device("gps")], order_type="bail")
    start = ts("2026-11-10T19:00:00Z")
    near = offset(*HOME, north_m=70)  # 70 m from the centre, 40 m from the property's edge
    far = offset(*HOME, north_m=800)
    # 70 m out with 50 m accuracy could be home: not an absence.
    vague = [fix(start + 60 * i, *near, acc=50) for i in range(30)]
    assert of_type(run(cf, vague), "curfew_absence") == []
    away = [fix(start + 60 * i, *far, acc=10) for i in range(30)] + [fix(start + 1860, *HOME, acc=15)]
    (v,) = of_type(run(cf, away), "curfew_absence")
    assert v["start"] == "2026-11-10T19:00:00Z" and v["end"] == "2026-11-10T19:29:00Z"
    assert v["evidence"]["technology"] == "gps"


def test_missing_gps_data_is_never_an_absence():
    cf = case([curfew("gps"), {"type": "trail"}], [device("gps")], order_type="bail")
    readings = [
        fix("2026-11-10T18:00:00Z", *HOME),
        *heartbeats("2026-11-10T18:05:00Z", "2026-11-11T08:00:00Z", 900, "GPS-1"),
    ]
    assert of_type(run(cf, readings), "curfew_absence") == []


def test_a_single_multipath_jump_is_not_an_absence():
    cf = case([curfew("gps"), {"type": "trail"}], [device("gps")], order_type="bail")
    start = ts("2026-11-10T20:00:00Z")
    readings = [fix(start + 60 * i, *HOME, acc=25) for i in range(20)]
    readings[10] = fix(start + 600, *offset(*HOME, east_m=250), acc=10)
    assert of_type(run(cf, readings), "curfew_absence") == []
