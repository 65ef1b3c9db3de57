"""Who was near a crime, on hand-built trails with known answers: a pass-through between sparse fixes, a
confidence circle that just reaches and one that just misses, a gap in coverage, a complete trail never
near, a match at home; and the all-at-once search finding exactly what one-at-a-time finds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from openem.crime.matching import PackedTrails, match_batch, match_crime, near_pairs
from openem.crime.records import CrimeRow, CrimeType, Fix, MatchParams, Verdict

from .helpers import PLACE, PLANE, T0, fix

PARAMS = MatchParams()  # 100 m, 30 minutes each side, 160 km/h, 5 minutes


def crime(ref: str = "LE/1", minutes: int = 60, lat: float = PLACE[0], lon: float = PLACE[1]) -> CrimeRow:
    return CrimeRow(2, "Leicestershire Police", "B1", ref, CrimeType.BIAD, "Burglary in a dwelling", T0,
                    T0 + timedelta(minutes=minutes), lat, lon, None, None, "WGS84", "")  # fmt: skip


def steady(east: float, north: float, acc: float | None = 5.0, minutes=range(-40, 100)) -> list[Fix]:
    return [fix(m, east, north, acc) for m in minutes]


def one(trail, homes=None, **kw):
    (found,) = match_crime(crime(), {"P1": trail}, homes or {}, PARAMS, **kw)
    return found


def test_a_pass_through_between_sparse_fixes_is_a_match_with_the_time_it_was_near():
    # Walking east at 100 m a minute, 50 m north of the place, a fix every 3 minutes (300 m apart): the
    # fixes either side of the place are 200 m west and 100 m east (111.8 m away: outside 100 m + 5 m), the
    # line between them passes at 50.
    trail = [fix(m, -3000 + 100 * m, 50) for m in range(-44, 105, 3)]
    found = one(trail)
    assert found.verdict == Verdict.MATCH
    assert found.closest_m == pytest.approx(50, abs=0.5)
    # Within 105 m (100 + the confidence radius) while |x| <= sqrt(105^2 - 50^2) = 92.3 m: 1.85 minutes.
    assert found.minutes_near == pytest.approx(2 * np.sqrt(105**2 - 50**2) / 100, abs=0.01)
    assert [trail[i].t for i in found.near_fixes] == [fix(28, 0, 0).t, fix(31, 0, 0).t]  # the segment's ends
    assert found.first_near < T0 + timedelta(minutes=30) < found.last_near
    assert not found.at_home and found.gaps == []


def test_fixes_too_far_apart_in_time_are_not_joined_by_a_line():
    trail = [fix(m, -3000 + 100 * m, 50) for m in range(-45, 105, 10) if m != 35]  # 10 minutes apart
    found = one(trail)
    assert found.verdict == Verdict.NOT_COVERED and found.gaps


def test_a_line_implying_an_impossible_speed_is_a_gap_not_a_pass_through():
    # 20 km in 4 minutes (300 km/h) across the place: not interpolated.
    trail = [*steady(-10_000, 0, minutes=range(-40, 29)), *steady(10_000, 0, minutes=range(33, 100))]
    found = one(trail)
    assert found.verdict == Verdict.NOT_COVERED
    assert [(a - T0, b - T0) for a, b in found.gaps] == [(timedelta(minutes=28), timedelta(minutes=33))]


def test_a_confidence_circle_that_just_reaches_is_a_match_and_one_that_just_misses_is_not():
    # 180 m away: one fix is 81 m uncertain (reaches to 99 m of the place), its neighbours 5 m.
    reaches = [fix(m, 180, 0, 81.0 if m == 20 else 5.0) for m in range(-40, 100)]
    misses = [fix(m, 180, 0, 79.0 if m == 20 else 5.0) for m in range(-40, 100)]
    hit, miss = one(reaches), one(misses)
    assert hit.verdict == Verdict.MATCH and miss.verdict == Verdict.NOT_THERE
    # The fix, and its neighbours: the radius grows evenly towards it along the lines either side.
    assert [reaches[i].t for i in hit.near_fixes] == [fix(m, 0, 0).t for m in (19, 20, 21)]
    assert 0 < hit.minutes_near < 0.1
    assert hit.closest_m == pytest.approx(180, abs=0.5) and hit.closest_edge_m == pytest.approx(99, abs=0.5)
    assert miss.closest_edge_m == pytest.approx(101, abs=0.5)


def test_a_fix_without_accuracy_is_taken_as_fifty_metres_uncertain():
    assert one(steady(145, 0, acc=None)).verdict == Verdict.MATCH
    assert one(steady(155, 0, acc=None)).verdict == Verdict.NOT_THERE


def test_a_fix_too_uncertain_to_use_is_left_out_and_leaves_a_gap():
    trail = [fix(m, 2000, 0, 500.0 if 0 <= m < 30 else 5.0) for m in range(-40, 100)]
    found = one(trail)
    assert found.verdict == Verdict.NOT_COVERED
    assert [(a - T0, b - T0) for a, b in found.gaps] == [(timedelta(minutes=-1), timedelta(minutes=30))]


def test_a_gap_in_coverage_is_not_covered_and_the_gap_is_listed():
    trail = steady(2000, 0, minutes=[*range(-40, 10), *range(40, 100)])
    found = one(trail)
    assert found.verdict == Verdict.NOT_COVERED and found.closest_m == pytest.approx(2000, abs=1)
    assert [(a - T0, b - T0) for a, b in found.gaps] == [(timedelta(minutes=9), timedelta(minutes=40))]


def test_a_complete_trail_never_near_rules_the_person_out():
    found = one(steady(2000, 0))
    assert found.verdict == Verdict.NOT_THERE and found.gaps == [] and found.minutes_near == 0


def test_a_trail_starting_late_in_the_window_is_not_covered_at_its_start():
    found = one(steady(2000, 0, minutes=range(0, 100)))
    assert found.verdict == Verdict.NOT_COVERED
    assert [(a - T0, b - T0) for a, b in found.gaps] == [(timedelta(minutes=-30), timedelta(minutes=0))]


def test_monitored_without_a_fix_is_not_covered_for_the_whole_window():
    found = one([], monitored={"P1": [(T0.timestamp() - 86400, None)]})
    assert found.verdict == Verdict.NOT_COVERED and found.closest_m is None
    assert [(a - T0, b - T0) for a, b in found.gaps] == [(timedelta(minutes=-30), timedelta(minutes=90))]


def test_not_monitored_in_the_window_is_not_reported():
    assert match_crime(crime(), {"P1": steady(0, 0)}, {}, PARAMS, monitored={"P1": [(0.0, 1.0)]}) == []


def test_a_device_fitted_during_the_window_leaves_the_time_before_uncovered():
    fitted = T0.timestamp() + 20 * 60
    found = one(steady(2000, 0, minutes=range(20, 100)), monitored={"P1": [(fitted, None)]})
    assert found.verdict == Verdict.NOT_COVERED
    assert [(a - T0, b - T0) for a, b in found.gaps] == [(timedelta(minutes=-30), timedelta(minutes=20))]


def test_a_match_at_the_persons_curfew_address_is_marked_as_such():
    home = (PLACE[0] + 0.0003, PLACE[1])  # next door: 33 m north
    lon, lat = PLANE.inverse.transform(0, 33)
    found = one(steady(0, 33), homes={"P1": (lat, lon)})
    assert found.verdict == Verdict.MATCH and found.at_home
    assert found.minutes_near == pytest.approx(120)  # the whole widened window
    elsewhere = one([*steady(0, 33, minutes=range(-40, 10)), *steady(40, 0, minutes=range(10, 100))],
                    homes={"P1": home})  # fmt: skip
    assert elsewhere.verdict == Verdict.MATCH and elsewhere.at_home  # 40 m from the place, 45 from home
    away = one(steady(0, -80), homes={"P1": (lat, lon)})  # 80 m from the place, 113 m from home
    assert away.verdict == Verdict.MATCH and not away.at_home
    far_home = one(steady(0, -60), homes={"P1": (PLACE[0] + 0.01, PLACE[1])})
    assert far_home.verdict == Verdict.MATCH and not far_home.at_home


def test_only_the_widened_window_counts():
    # Near 35 minutes before the crime's window opens (the buffer is 30): not a match.
    before = [fix(m, 0 if m < -35 else 2000, 0) for m in range(-60, 100)]
    found = one(before)
    assert found.verdict == Verdict.NOT_THERE
    inside = [fix(m, 0 if m < -25 else 2000, 0) for m in range(-60, 100)]
    assert one(inside).verdict == Verdict.MATCH


def test_arrays_and_fixes_give_the_same_finding():
    trail = [fix(m, -3000 + 100 * m, 50) for m in range(-45, 105, 3)]
    arrays = {
        "t": np.array([f.t for f in trail]),
        "lat": np.array([f.lat for f in trail]),
        "lon": np.array([f.lon for f in trail]),
        "acc": np.array([f.accuracy_m for f in trail], dtype=np.float32),
    }
    assert one(trail) == one(arrays)


def test_all_at_once_finds_exactly_the_matches_one_at_a_time_finds():
    rng = np.random.default_rng(7)
    people, n = 60, 600
    t = T0.timestamp() - 3600 + np.arange(n) * 30.0 + rng.uniform(0, 3, (people, n))
    east = rng.uniform(-3000, 3000, (people, 1)) + np.cumsum(rng.normal(0, 40, (people, n)), axis=1)
    north = rng.uniform(-3000, 3000, (people, 1)) + np.cumsum(rng.normal(0, 40, (people, n)), axis=1)
    lon, lat = PLANE.inverse.transform(east, north)
    acc = rng.uniform(3, 60, (people, n))
    acc[rng.random((people, n)) < 0.02] = np.nan
    acc[rng.random((people, n)) < 0.02] = 150.0  # unusable
    trails = {f"P{k}": {"t": t[k], "lat": lat[k], "lon": lon[k], "acc": acc[k]} for k in range(people)}
    crimes = []
    for c in range(80):
        e, nn = rng.uniform(-3000, 3000, 2)
        clon, clat = PLANE.inverse.transform(e, nn)
        start = T0 + timedelta(minutes=int(rng.integers(-60, 200)))
        crimes.append(CrimeRow(c, "F", "B", f"C{c}", CrimeType.RB, "", start,
                               start + timedelta(minutes=int(rng.integers(5, 120))), float(clat), float(clon),
                               None, None, "WGS84", ""))  # fmt: skip
    full = match_batch(crimes, trails, {}, PARAMS)
    assert len(full) == 80 * people
    one_by_one = {(f.crime_ref, f.person) for f in full if f.verdict == Verdict.MATCH}
    packed = PackedTrails.of(trails, PARAMS)
    c, p = near_pairs(crimes, packed, PARAMS)
    assert {(crimes[i].reference, packed.people[k]) for i, k in zip(c.tolist(), p.tolist(), strict=True)} == one_by_one
    assert 20 < len(one_by_one) < 80 * people / 2  # a real test: some matches, not everyone
    quick = match_batch(crimes, packed, {}, PARAMS, matches_only=True)
    assert {(f.crime_ref, f.person) for f in quick} == one_by_one
    by_key = {(f.crime_ref, f.person): f for f in full}
    for f in quick:
        g = by_key[(f.crime_ref, f.person)]
        assert (f.minutes_near, f.closest_m, f.near_fixes) == (g.minutes_near, g.closest_m, g.near_fixes)


def test_findings_as_json_lead_with_the_published_fields():
    found = one(steady(0, 33))
    assert list(found.to_json())[:6] == ["crime", "person", "verdict", "closest_m", "minutes_near", "params_version"]
    assert found.to_json()["params_version"] == PARAMS.version
    assert found.first_near == datetime(2026, 12, 1, 21, 30, tzinfo=UTC)


def test_two_tags_of_one_person_make_one_trail():
    from openem.crime.matching import joined

    before = [fix(m, 2000, 0) for m in range(-40, 20)]
    after = [fix(m, 0, 30) for m in range(20, 100)]  # the replacement tag, at the place
    found = one(joined([after, before]))
    assert found.verdict == Verdict.MATCH and found.gaps == []
    # Near from the line between the old tag's last fix and the new one's first.
    assert T0 + timedelta(minutes=19) < found.first_near < T0 + timedelta(minutes=20)


def test_near_fixes_name_the_fixes_as_given_when_uncertain_ones_were_left_out():
    trail = [fix(m, 0 if m == 30 else 2000, 0, 500.0 if m % 7 == 0 else 5.0) for m in range(-40, 100)]
    found = one(trail)
    assert found.verdict == Verdict.MATCH
    assert fix(30, 0, 0).t in [trail[i].t for i in found.near_fixes]
    assert all(trail[i].accuracy_m == 5.0 for i in found.near_fixes)


def test_a_gap_too_short_to_reach_the_place_and_back_does_not_leave_the_question_open():
    # Six minutes without a fix: at 160 km/h a person can cover 16 km. From 10 km away (20 km there and
    # back) they could not have come near; from 5 km they could.
    minutes = [*range(-40, 20), *range(26, 100)]
    far, near_enough = one(steady(10_000, 0, minutes=minutes)), one(steady(5_000, 0, minutes=minutes))
    assert far.verdict == Verdict.NOT_THERE and far.gaps == []
    assert near_enough.verdict == Verdict.NOT_COVERED
    assert [(a - T0, b - T0) for a, b in near_enough.gaps] == [(timedelta(minutes=19), timedelta(minutes=26))]
    # The same at the window's start: the first fix 40 minutes in, 200 km away.
    assert one(steady(200_000, 0, minutes=range(10, 100))).verdict == Verdict.NOT_THERE


def test_someone_fitted_but_missing_from_the_trails_is_still_reported_not_covered():
    found = match_crime(crime(), {"P1": steady(2000, 0)}, {}, PARAMS,
                        monitored={"P1": [(0.0, None)], "P2": [(0.0, None)]})  # fmt: skip
    assert [(f.person, f.verdict) for f in found] == [("P1", Verdict.NOT_THERE), ("P2", Verdict.NOT_COVERED)]
