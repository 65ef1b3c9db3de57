"""Exclusion and inclusion zones: accuracy, dwell, hysteresis, pass-through, schedules, unmonitored."""

from __future__ import annotations

from .helpers import HOME, case, device, fix, of_type, offset, run, ts

CENTRE = offset(*HOME, north_m=3000)


def zone(kind: str = "exclusion_zone", monitored: bool = True, radius: float = 200, **kw):
    return {
        "type": kind,
        "monitored": monitored,
        "name": "Victim's street",
        "area": {"lat": CENTRE[0], "lon": CENTRE[1], "radius_m": radius},
        **kw,
    }


def cf(*conds):
    return case([{"type": "trail"}, *conds], [device("gps")], order_type="licence")


def walk(start: str, points: list[tuple[float, float]], every_s: float = 60, acc: float = 8):
    t0 = ts(start)
    return [fix(t0 + i * every_s, *offset(*CENTRE, north_m=n, east_m=e), acc=acc) for i, (n, e) in enumerate(points)]


def test_lingering_inside_is_one_entry_with_its_times():
    path = [(-600, 0), (-400, 0)] + [(0, 0)] * 10 + [(400, 0), (600, 0)]
    (v,) = of_type(run(cf(zone()), walk("2026-11-10T12:00:00Z", path)), "exclusion_zone_entry")
    assert (v["start"], v["end"]) == ("2026-11-10T12:02:00Z", "2026-11-10T12:12:00Z")
    assert v["evidence"]["pass_through"] is False and v["evidence"]["fixes_inside"] == 10


def test_one_fix_inside_is_not_enough_and_an_inaccurate_fix_does_not_count():
    one = [(-600, 0), (-400, 0), (-150, 0), (-400, 0), (-600, 0)]
    assert of_type(run(cf(zone()), walk("2026-11-10T12:00:00Z", one)), "exclusion_zone_entry") == []
    # 150 m in, but each fix could be 80 m out: the person may well be outside the 200 m zone.
    vague = [(-600, 0)] + [(-150, 0)] * 5 + [(-600, 0)]
    assert of_type(run(cf(zone()), walk("2026-11-10T12:00:00Z", vague, acc=80)), "exclusion_zone_entry") == []


def test_hysteresis_a_wobble_at_the_edge_does_not_split_an_entry():
    path = [(-600, 0)] + [(0, 0)] * 4 + [(-240, 0)] + [(0, 0)] * 4 + [(-600, 0)] * 3
    (v,) = of_type(run(cf(zone()), walk("2026-11-10T12:00:00Z", path)), "exclusion_zone_entry")
    assert v["duration_s"] == 9 * 60


def test_driving_through_without_stopping_is_a_pass_through():
    # 15 m/s, a fix a minute: 900 m apart, one either side of the 200 m zone.
    path = [(-2250, 0), (-1350, 0), (-450, 0), (450, 0), (1350, 0)]
    (v,) = of_type(run(cf(zone()), walk("2026-11-10T12:00:00Z", path)), "exclusion_zone_entry")
    assert v["evidence"]["pass_through"] is True and v["evidence"]["implied_speed_mps"] == 15.0
    assert (v["start"], v["end"]) == ("2026-11-10T12:02:00Z", "2026-11-10T12:03:00Z")


def test_a_line_that_only_cuts_the_corner_or_fixes_too_far_apart_is_not_a_pass_through():
    corner = [(-1350, 170), (-450, 170), (450, 170), (1350, 170)]  # 30 m inside the edge, between fixes
    assert of_type(run(cf(zone()), walk("2026-11-10T12:00:00Z", corner)), "exclusion_zone_entry") == []
    sparse = [(-1500, 0), (1500, 0)]
    assert of_type(run(cf(zone()), walk("2026-11-10T12:00:00Z", sparse, every_s=600)), "exclusion_zone_entry") == []


def test_a_zone_with_a_schedule_only_counts_inside_its_windows():
    weekend = zone(windows=[{"days": ["sat", "sun"], "start": "00:00", "end": "24:00"}])
    path = [(-600, 0)] + [(0, 0)] * 5 + [(-600, 0)] * 2
    assert of_type(run(cf(weekend), walk("2026-11-10T12:00:00Z", path)), "exclusion_zone_entry") == []  # Tuesday
    assert len(of_type(run(cf(weekend), walk("2026-11-14T12:00:00Z", path)), "exclusion_zone_entry")) == 1


def test_an_unmonitored_zone_is_evaluated_for_information_but_raises_nothing():
    path = [(-600, 0)] + [(0, 0)] * 5 + [(-600, 0)] * 2
    result = run(cf(zone(monitored=False)), walk("2026-11-10T12:00:00Z", path))
    assert of_type(result, "exclusion_zone_entry") == []
    (info,) = [i for i in result.info if i.get("info") == "unmonitored_zone"]
    assert info["type"] == "exclusion_zone_entry" and info["condition"] == "C2"


def test_leaving_an_inclusion_zone():
    inc = zone("inclusion_zone", radius=1000)
    path = [(0, 0)] * 3 + [(1500, 0)] * 5 + [(0, 0)] * 3
    (v,) = of_type(run(cf(inc), walk("2026-11-10T12:00:00Z", path)), "inclusion_zone_exit")
    assert (v["start"], v["end"]) == ("2026-11-10T12:03:00Z", "2026-11-10T12:08:00Z")


def test_a_polygon_zone():
    d = 0.002
    poly = {
        "type": "exclusion_zone",
        "monitored": True,
        "name": "Park",
        "area": {
            "type": "Polygon",
            "coordinates": [
                [
                    [CENTRE[1] - d, CENTRE[0] - d],
                    [CENTRE[1] + d, CENTRE[0] - d],
                    [CENTRE[1] + d, CENTRE[0] + d],
                    [CENTRE[1] - d, CENTRE[0] + d],
                    [CENTRE[1] - d, CENTRE[0] - d],
                ]
            ],
        },
    }
    path = [(-600, 0)] + [(0, 0)] * 3 + [(-600, 0)] * 2
    assert len(of_type(run(cf(poly), walk("2026-11-10T12:00:00Z", path)), "exclusion_zone_entry")) == 1


def test_a_fix_without_accuracy_is_never_taken_as_precise():
    """30 m inside a 200 m exclusion zone's edge: a fix of 8 m is certainly inside; a fix that reports no
    accuracy (or 0, Android's "not known") is taken as Params.unreported_accuracy_m (50 m) and could be
    outside, exactly as a fix reporting 50 m; one giving only its HDOP is taken as HDOP x 5 m."""
    from openem.engine.model import Params
    from openem.engine.telemetry import parse_reading

    path = [(-600, 0)] + [(-170, 0)] * 6 + [(-600, 0)] * 3

    def fixes(**accuracy):
        t0 = ts("2026-11-10T12:00:00Z")
        out = []
        for i, (n, e) in enumerate(path):
            lat, lon = offset(*CENTRE, north_m=n, east_m=e)
            time = f"2026-11-10T12:{i:02d}:00Z"
            assert ts(time) == t0 + 60 * i
            out.append(parse_reading({"device": "GPS-1", "time": time, "type": "fix", "lat": lat, "lon": lon,
                                      **accuracy}))  # fmt: skip
        return out

    def entries(readings, params=None):
        return of_type(run(cf(zone()), readings, params), "exclusion_zone_entry")

    assert len(entries(fixes(accuracy_m=8))) == 1
    assert entries(fixes()) == entries(fixes(accuracy_m=50)) == entries(fixes(accuracy_m=0)) == []
    assert len(entries(fixes(hdop=1.2))) == 1  # 6 m
    assert entries(fixes(hdop=8)) == []  # 40 m: could be outside
    assert len(entries(fixes(accuracy_m=8, hdop=8))) == 1  # a reported accuracy wins over HDOP
    # The assumption is a setting: an installation that trusts its devices more may lower it.
    assert len(entries(fixes(), Params(unreported_accuracy_m=10))) == 1
