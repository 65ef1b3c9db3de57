"""Attendance, trail, alcohol, equipment and not-monitored rules."""

from __future__ import annotations

from .helpers import HOME, case, device, fix, heartbeats, iso, of_type, offset, r, run, ts

OFFICE = offset(*HOME, north_m=2000)


def attendance():
    return {
        "type": "attendance",
        "name": "Probation office",
        "place": {"lat": OFFICE[0], "lon": OFFICE[1], "radius_m": 50},
        "appointments": [{"start": "2026-11-10T10:00:00Z", "end": "2026-11-10T11:00:00Z"}],
    }


def test_attendance_present_missed_and_unknown():
    cf = case([{"type": "trail"}, attendance()], [device("gps")], order_type="licence")
    t0 = ts("2026-11-10T09:50:00Z")
    there = [fix(t0 + 60 * i, *OFFICE, acc=30) for i in range(0, 80, 7)]
    assert of_type(run(cf, there, data_end="2026-11-10T12:00:00Z"), "attendance_missed") == []
    elsewhere = [fix(t0 + 60 * i, *HOME, acc=10) for i in range(0, 80, 5)]
    (v,) = of_type(run(cf, elsewhere, data_end="2026-11-10T12:00:00Z"), "attendance_missed")
    assert v["start"] == "2026-11-10T10:00:00Z" and v["evidence"]["nearest_m"] > 1900
    nothing = heartbeats("2026-11-10T09:00:00Z", "2026-11-10T12:00:00Z", 600, "GPS-1")
    result = run(cf, nothing)
    assert of_type(result, "attendance_missed") == []
    assert any(i.get("info") == "attendance_unknown" for i in result.info)


def test_location_failure_while_the_tag_still_reports():
    cf = case([{"type": "trail"}], [device("gps")], order_type="licence")
    readings = [
        fix("2026-11-10T08:00:00Z", *HOME),
        *heartbeats("2026-11-10T08:10:00Z", "2026-11-10T12:00:00Z", 900, "GPS-1"),
    ]
    readings.append(fix("2026-11-10T12:05:00Z", *HOME))
    (v,) = of_type(run(cf, readings), "location_failure")
    assert (v["start"], v["end"], v["category"]) == ("2026-11-10T08:00:00Z", "2026-11-10T12:05:00Z", "equipment")
    assert of_type(run(cf, readings), "no_signal") == []


def alcohol_readings(values, start="2026-11-10T12:00:00Z", every_s=1800, ir=1.15, temp=33.5, dev="ALCOHOL-1"):
    t0 = ts(start)
    return [
        r(device=dev, time=iso(t0 + i * every_s), type="alcohol", tac_g_dl=v, ir_v=ir, temp_c=temp)
        for i, v in enumerate(values)
    ]


def alcohol_case(mode="abstinence", **kw):
    return case([{"type": "alcohol", "mode": mode, "end": "2027-02-28", **kw}], [device("alcohol")])


def test_drinking_is_confirmed_over_consecutive_readings_with_a_plausible_rise():
    curve = [0, 0, 0.004, 0.018, 0.034, 0.047, 0.052, 0.045, 0.036, 0.027, 0.019, 0.01, 0, 0]
    (v,) = of_type(run(alcohol_case(), alcohol_readings(curve)), "alcohol_confirmed")
    assert v["start"] == "2026-11-10T14:00:00Z" and v["end"] == "2026-11-10T17:00:00Z"
    assert v["evidence"]["peak_g_dl"] == 0.052


def test_a_fast_spike_is_environmental_exposure_not_drinking():
    spike = [0, 0, 0, 0.038, 0.004, 0, 0]
    result = run(alcohol_case(), alcohol_readings(spike))
    assert of_type(result, "alcohol_confirmed") == []
    assert any(i["info"] in ("environmental_exposure", "single_alcohol_reading") for i in result.info if "info" in i)


def test_level_mode_reports_exceedance_only_above_the_level():
    curve = [0, 0.02, 0.03, 0.035, 0.03, 0.02, 0]
    cf = alcohol_case("level", level_g_dl=0.04, requirement="aml")
    assert of_type(run(cf, alcohol_readings(curve)), "alcohol_level_exceeded") == []
    high = [0, 0.02, 0.045, 0.06, 0.05, 0.03, 0]
    (v,) = of_type(run(cf, alcohol_readings(high)), "alcohol_level_exceeded")
    assert v["evidence"]["peak_g_dl"] == 0.06


def test_obstruction_is_tamper_and_sober_days_are_counted():
    readings = alcohol_readings([0.0] * 48 * 3, start="2026-11-10T00:10:00Z")
    readings += alcohol_readings([0.0] * 3, start="2026-11-13T01:10:00Z", ir=2.4, temp=24.0)
    result = run(alcohol_case(), readings)
    (v,) = of_type(result, "tamper")
    assert v["evidence"]["kind"] == "obstruction" and v["category"] == "behaviour"
    (sober,) = [i for i in result.info if i.get("info") == "sober_days"]
    assert sober["days_worn"] == 3 and sober["sober_days"] == 3 and sober["current_streak"] == 3


def test_strap_tamper_battery_and_home_unit_power():
    cf = case(
        [
            {"type": "trail"},
            {
                "type": "curfew",
                "technology": "rf",
                "address": {"lat": HOME[0], "lon": HOME[1], "radius_m": 30},
                "windows": [{"days": ["mon"], "start": "20:00", "end": "06:00"}],
            },
        ],
        [device("gps"), device("rf")],
        order_type="suspended_sentence_order",
    )
    gps = heartbeats("2026-11-10T08:00:00Z", "2026-11-10T12:00:00Z", 900, "GPS-1")
    gps += [r(device="GPS-1", time="2026-11-10T12:00:00Z", type="power", battery_pct=4, charging=False)]
    gps += heartbeats("2026-11-10T16:00:00Z", "2026-11-10T17:00:00Z", 900, "GPS-1")
    gps += [
        r(device="GPS-1", time="2026-11-10T09:00:00Z", type="tamper", kind="strap", state="open"),
        r(device="GPS-1", time="2026-11-10T09:20:00Z", type="tamper", kind="strap", state="closed"),
    ]
    rf = [
        r(device="RF-1", time=iso(ts("2026-11-10T08:00:00Z") + 1800 * i), type="rf", in_range=True) for i in range(19)
    ]
    rf += [
        r(device="RF-1", time="2026-11-10T10:00:00Z", type="power", mains=False),
        r(device="RF-1", time="2026-11-10T13:00:00Z", type="power", mains=True),
    ]
    result = run(cf, gps + rf)
    (flat,) = of_type(result, "battery_depleted")
    assert (flat["start"], flat["end"], flat["evidence"]["last_battery_pct"]) == (
        "2026-11-10T12:00:00Z",
        "2026-11-10T16:00:00Z",
        4,
    )
    assert of_type(result, "no_signal") == []
    (t,) = of_type(result, "tamper")
    assert (t["duration_s"], t["evidence"]["kind"], t["condition"]) == (1200, "strap", None)
    (hmu,) = of_type(result, "home_unit_power")
    assert hmu["duration_s"] == 3 * 3600 and hmu["category"] == "equipment"


def test_a_monitored_condition_with_no_device_fitted_is_not_monitored():
    cf = case(
        [{"type": "trail"}], [{"id": "GPS-1", "kind": "gps", "fitted": None, "removed": None}], order_type="licence"
    )
    other = [r(device="RF-9", time="2026-11-10T12:00:00Z", type="heartbeat")]
    result = run(cf, other)
    (v,) = of_type(result, "not_fitted")
    assert v["end"] is None and v["category"] == "equipment" and v["evidence"]["device_kind"] == "gps"
    (info,) = [i for i in result.info if i.get("info") == "unassigned_readings"]
    assert info["device"] == "RF-9"


def test_readings_of_a_device_fitted_to_nobody_are_reported_not_evaluated():
    cf = case([{"type": "trail"}], [device("gps", fitted="2026-11-12T00:00:00Z")], order_type="licence")
    early = [fix("2026-11-10T12:00:00Z", *HOME)]
    result = run(cf, early, data_end="2026-11-11T00:00:00Z")
    assert [i["count"] for i in result.info if i.get("info") == "unassigned_readings"] == [1]
