"""The trail store's slots and its read with boxes (openem.telemetry.trail, "Slots"): a device's slots hold
its fixes and the ten minutes before each, however uploaded; the read takes the stretches of the slots
meeting a crime's box; and the matcher finds from it exactly what it finds reading every trail whole: a
pass-through between two fixes in two far blocks (stored in either order), a far fix between two uploads
near the place (no line drawn across it), uploads late and overlapping, and random walkers, drivers and
bad fixes against many crimes."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import numpy as np
import pytest
from django.db import connection

from openem.crime.matching import PackedTrails, match_batch, near_pairs, read_boxes
from openem.crime.records import CrimeRow, CrimeType, MatchParams, Verdict
from openem.telemetry import trail
from openem.telemetry.models import TrailBlock, TrailSlot

from .helpers import PLANE, T0, fix

pytestmark = pytest.mark.django_db
PARAMS = MatchParams()  # 100 m, 30 minutes each side, 160 km/h, 5 minutes
LEAD = PARAMS.max_gap_min * 60
LO, HI = T0.timestamp() - 6 * 3600, T0.timestamp() + 6 * 3600


def crime(ref: str = "C1", minute: int = 0, minutes: int = 60, east: float = 0.0, north: float = 0.0) -> CrimeRow:
    lon, lat = PLANE.inverse.transform(east, north)
    start = T0 + timedelta(minutes=minute)
    return CrimeRow(2, "Leicestershire Police", "B1", ref, CrimeType.BIAD, "", start,
                    start + timedelta(minutes=minutes), float(lat), float(lon), None, None, "WGS84", "")  # fmt: skip


def put(device: str, points: list[tuple[float, float, float]], acc: float | None = 5.0) -> None:
    """One upload: (minute, metres east, metres north) of the crime's place."""
    rows = []
    for m, e, n in points:
        f = fix(m, e, n, acc)
        rows.append((device, f.t, f.lat, f.lon, f.accuracy_m))
    trail.store(rows)


def read(devices: list[str], crimes: list[CrimeRow] | None, params: MatchParams = PARAMS):
    boxes = None if crimes is None else read_boxes(crimes, params)
    return trail.window_packed(devices, LO, HI, boxes, params.max_gap_min * 60)


def findings(devices: list[str], crimes: list[CrimeRow], boxes: bool, params: MatchParams = PARAMS):
    """What the matcher finds from the read with boxes (or the whole read): the pairs near (with lines, and
    fixes only) and each match's closest approach, minutes near, first and last moment, near fixes' times."""
    names, offsets, rec = read(devices, crimes if boxes else None, params)
    packed = PackedTrails.from_columns(names, offsets, rec["t"], rec["lat"], rec["lon"], rec["acc"], params)
    pairs = [
        {(crimes[c].reference, names[k]) for c, k in zip(*(a.tolist() for a in found), strict=True)}
        for found in (near_pairs(crimes, packed, params), near_pairs(crimes, packed, params, fixes_only=True))
    ]
    matches = {}
    for f in match_batch(crimes, packed, {}, params, matches_only=True):
        near = [float(rec["t"][offsets[names.index(f.person)] + i]) for i in f.near_fixes]
        matches[(f.crime_ref, f.person)] = (f.verdict, f.closest_m, f.closest_edge_m, f.minutes_near, f.first_near,
                                            f.last_near, near)  # fmt: skip
    return pairs, matches, len(rec)


def slots_now() -> set[tuple[object, ...]]:
    fields = ("device", "slot", "lat_min", "lat_max", "lon_min", "lon_max", "first_start")
    return set(TrailSlot.objects.values_list(*fields))


# ------------------------------------------------------------------------------------------------ the store


def test_slots_hold_the_box_of_their_fixes_and_the_ten_minutes_before_however_uploaded():
    # A driver's hour east at 1.5 km a minute in uploads of a quarter of an hour, stored late and out of
    # order, with an upload overlapping two others and someone else beside them.
    drive = [(m, -45_000 + 1500 * m, 0.0) for m in range(60)]
    for part in (drive[30:45], drive[0:15], drive[45:60], drive[15:30]):
        put("GPS-CAR", part)
    put("GPS-CAR", [(m + 0.5, -45_000 + 1500 * m + 750, 300.0) for m in range(10, 40, 3)])  # overlapping
    put("GPS-WALK", [(m, 20.0 * m, 5.0) for m in range(60)])
    # The same slots as all the stored blocks give at once.
    stored = list(TrailBlock.objects.order_by("pk").values_list("device", "start_s", "end_s", "n", "data"))
    assert slots_now() == set(trail.slot_rows([(d, s, e, n, bytes(b)) for d, s, e, n, b in stored]))
    # The slot from 22:20 holds the car's fixes from 22:10, 15 km west of its own first.
    lon_own, _ = PLANE.inverse.transform(-45_000 + 1500 * 20, 0)
    lon_link, _ = PLANE.inverse.transform(-45_000 + 1500 * 10, 0)
    slot = TrailSlot.objects.get(device="GPS-CAR", slot=int(fix(20, 0, 0).t // trail.SLOT_S))
    assert lon_link - trail.GRID_DEG < slot.lon_min <= lon_link < lon_own
    assert slot.first_start == pytest.approx(fix(10.5, 0, 0).t)  # the overlapping upload's first fix


def test_the_read_gives_what_the_slots_meeting_the_boxes_hold_and_their_ten_minutes_before():
    put("GPS-1", [(m, -3000.0, 0.0) for m in range(-60, -15)])  # far west, until 21:44
    put("GPS-1", [(m, -3000.0 + 200 * (m + 15), 0.0) for m in range(-15, 0)])  # walking to the place
    put("GPS-1", [(m, 0.0, 0.0) for m in range(0, 15)])  # there
    put("GPS-1", [(m, 5000.0, 0.0) for m in range(30, 60)])  # far east, after a quarter of an hour's silence
    put("GPS-FAR", [(m, 50_000.0, 0.0) for m in range(-60, 60)])
    names, offsets, rec = read(["GPS-1", "GPS-FAR"], [crime(minute=2, minutes=5)])
    assert names == ["GPS-1", "GPS-FAR"] and offsets[2] == offsets[1]  # nothing of the far tag
    got = rec["t"][offsets[0] : offsets[1]]
    # The crime's box runs from 21:32 (its widened window) to 22:42 (and the longest line). The slots
    # meeting it: from 21:40 (with its link from 21:30: the walk comes within 200 m), 22:00 (the stay)
    # and 22:20 (its link from 22:10 holds the stay): 21:30 to 22:40 is read, whatever the tag did then.
    minutes = (got - T0.timestamp()) / 60
    assert minutes.tolist() == [*range(-30, 15), *range(30, 40)]
    whole = read(["GPS-1"], None)[2]
    assert np.array_equal(whole[(whole["t"] >= got[0]) & (whole["t"] <= got[-1])], rec[offsets[0] : offsets[1]])


def test_a_block_not_placed_in_the_slots_is_read_wherever_it_is_until_placed():
    f = fix(0, 50_000, 0)  # 50 km from the crime
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO telemetry_trailblock (device, start_s, end_s, n, data) VALUES (%s, %s, %s, %s, %s)",
            ["GPS-RAW", f.t, f.t, 1, np.array([(f.t, f.lat, f.lon, 5.0)], dtype=trail.FIX).tobytes()],
        )
    rec = read(["GPS-RAW"], [crime()])[2]
    assert len(rec) == 1 and rec["t"][0] == f.t
    with connection.cursor() as cursor:
        assert trail.place_all(cursor) == 1
    assert len(read(["GPS-RAW"], [crime()])[2]) == 0


def test_two_stretches_less_than_a_line_apart_are_read_as_one():
    # Near the place from 22:00 to 22:19 (a box drawn round it to 22:10 only: the slot from 22:00 is read,
    # from 21:50 to 22:20), far away at 22:21, and a block not placed at 22:32 (read from 22:22). The fix at
    # 22:21 lies between two stretches read less than a line's time apart: it is read too, so that 22:19 and
    # 22:22 are not taken as consecutive.
    put("GPS-1", [(m, 0.0, 0.0) for m in range(0, 20)])
    put("GPS-1", [(21, 40_000.0, 0.0)])
    f = fix(32, 0, 0)
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO telemetry_trailblock (device, start_s, end_s, n, data) VALUES (%s, %s, %s, %s, %s)",
            ["GPS-1", f.t, f.t, 1, np.array([(f.t, f.lat, f.lon, 5.0)], dtype=trail.FIX).tobytes()],
        )
    (lon0, lon1), (lat0, lat1) = PLANE.inverse.transform([-50.0, 50.0], [-50.0, 50.0])
    t = T0.timestamp()
    boxes = np.array([[t, t + 600, lat0, lat1, lon0, lon1]])
    _, _, rec = trail.window_packed(["GPS-1"], LO, HI, boxes, LEAD)
    assert ((rec["t"] - t) / 60).tolist() == [*range(0, 20), 21, 32]


def test_a_line_longer_than_the_slots_allow_for_reads_the_whole_window():
    put("GPS-1", [(m, 50_000.0, 0.0) for m in range(60)])
    longer = replace(PARAMS, max_gap_min=trail.LINK_S / 60 + 1)
    assert len(read(["GPS-1"], [crime()], longer)[2]) == 60
    assert len(read(["GPS-1"], [crime()])[2]) == 0


def test_the_slot_index_is_made_again_after_a_migration_drops_it():
    put("GPS-1", [(m, 0.0, 0.0) for m in range(5)])
    trail.remove_slot_index()
    trail.ensure_slot_index()
    assert len(read(["GPS-1"], [crime()])[2]) == 5
    put("GPS-1", [(m, 0.0, 0.0) for m in range(5, 10)])  # and kept as blocks are added
    assert len(read(["GPS-1"], [crime()])[2]) == 10


def test_deleting_a_period_leaves_no_slot_holding_where_the_deleted_fixes_were():
    # Two hours at the place, then two hours 3 km east; the hour either side of the move deleted (a fitting
    # ending, retention). The slots' boxes are those the fixes left make, as if the deleted ones had never
    # been (a slot's first start may stay earlier: it only says where to start looking).
    put("GPS-1", [(m, 0.0, 0.0) for m in range(-120, 0)])
    put("GPS-1", [(m, 3000.0, 0.0) for m in range(0, 120)])
    put("GPS-2", [(m, 0.0, 0.0) for m in range(-120, 120)])  # someone else's, untouched
    before = slots_now()
    trail.delete("GPS-1", fix(-60, 0, 0).t, fix(60, 0, 0).t)
    stored = list(TrailBlock.objects.order_by("pk").values_list("device", "start_s", "end_s", "n", "data"))
    expected = {r[:6]: r[6] for r in trail.slot_rows([(d, s, e, n, bytes(b)) for d, s, e, n, b in stored])}
    now = {r[:6]: r[6] for r in slots_now()}
    assert set(now) == set(expected) and all(now[k] <= expected[k] for k in now)
    assert {r for r in before if r[0] == "GPS-2"} <= slots_now()
    k = int(T0.timestamp() // trail.SLOT_S)
    assert not {s for d, s, *_ in slots_now() if d == "GPS-1"} & set(range(k - 2, k + 3))


# ------------------------------------------------------------------------------------------------ matching


@pytest.mark.parametrize("order", ["in order", "late"])
def test_a_pass_through_between_two_fixes_in_two_far_blocks_is_found(order):
    # A car at 90 km/h, 50 m north of the place, a fix a minute but the one as it passed: its uploads end
    # 1.5 km west of the place and start 1.5 km east of it two minutes later. Neither block's fixes come
    # within 1.5 km of the place; the line between them passes 50 m away.
    before = [(m, 1500.0 * (m + 1), 50.0) for m in range(-15, -1)]  # to 1.5 km west, at 21:58
    after = [(m, 1500.0 * (m + 1), 50.0) for m in range(0, 14)]  # from 1.5 km east, at 22:00
    for part in (before, after) if order == "in order" else (after, before):
        put("GPS-CAR", part)
    put("GPS-WALK", [(m, 3000.0, 3000.0) for m in range(-30, 30)])
    crimes = [crime(minute=-5, minutes=1)]  # 21:55-21:56: the window, widened, holds the pass
    for boxes in (True, False):
        pairs, matches, _ = findings(["GPS-CAR", "GPS-WALK"], crimes, boxes)
        assert pairs[0] == {("C1", "GPS-CAR")} and pairs[1] == set()  # a line, not a fix
        ((verdict, closest, *_),) = matches.values()
        assert verdict == Verdict.MATCH and closest == pytest.approx(50, abs=1)
    assert findings(["GPS-CAR", "GPS-WALK"], crimes, True)[:2] == findings(["GPS-CAR", "GPS-WALK"], crimes, False)[:2]


def test_a_far_fix_between_two_uploads_near_the_place_is_read_with_them_so_no_line_is_drawn_across_it():
    # Two uploads beside the place (fixes 300 m west, then 300 m east of it, north and south: none within
    # 100 m + 5 m), and between them one fix 40 km away: the lines to it and back are too fast, so the person
    # is never shown near. Without that fix, the line from the last fix of the first upload (300 m
    # south-west) to the first of the second (300 m north-east) would cross the place.
    put("GPS-1", [(0, -300.0, 300.0), (1, -300.0, -300.0)])
    put("GPS-1", [(2, -300.0, 40_000.0)])
    put("GPS-1", [(3, 300.0, 300.0), (4, 300.0, -300.0)])
    crimes = [crime(minute=0, minutes=5)]
    boxed, whole = findings(["GPS-1"], crimes, True), findings(["GPS-1"], crimes, False)
    assert boxed[:2] == whole[:2] and whole[0] == [set(), set()]
    assert boxed[2] == 5  # the far fix was read


def test_uploads_late_and_overlapping_give_the_same_matches():
    # A walker crossing the place with fixes from two uploads that interleave in time, stored backwards.
    walk = [(m, 25.0 * m, 60.0) for m in range(-30, 30)]
    put("GPS-1", walk[1::2][15:])
    put("GPS-1", walk[0::2][15:])
    put("GPS-1", walk[1::2][:15])
    put("GPS-1", walk[0::2][:15])
    crimes = [crime(minute=-1, minutes=2), crime("C2", minute=20, minutes=5, east=500), crime("C3", east=2000)]
    boxed, whole = findings(["GPS-1"], crimes, True), findings(["GPS-1"], crimes, False)
    assert boxed[:2] == whole[:2] and {c for c, _ in whole[0][0]} == {"C1", "C2"}


def test_random_walkers_drivers_and_bad_fixes_give_the_same_matches_read_with_boxes_or_whole():
    rng = np.random.default_rng(7)
    devices = []
    for k in range(40):
        device = f"GPS-{k:02d}"
        devices.append(device)
        step = 1500.0 if k % 4 == 0 else 40.0  # a quarter drive (pass-throughs between sparse fixes)
        every = float(rng.choice([0.5, 1.0, 3.0]))
        minutes = np.arange(-240, 240, every) + rng.uniform(0, every / 3, int(480 / every))
        east = rng.uniform(-8000, 8000) + np.cumsum(rng.normal(0, step, len(minutes)))
        north = rng.uniform(-8000, 8000) + np.cumsum(rng.normal(0, step, len(minutes)))
        acc = rng.uniform(3, 60, len(minutes))
        acc[rng.random(len(minutes)) < 0.05] = 300.0  # too uncertain to use
        glitch = rng.random(len(minutes)) < 0.01  # far off, confidently
        east[glitch] += 30_000
        points = [
            (float(m), float(e), float(n), float(a)) for m, e, n, a in zip(minutes, east, north, acc, strict=True)
        ]
        cuts = np.sort(rng.choice(np.arange(1, len(points)), size=int(rng.integers(5, 30)), replace=False))
        uploads = np.split(np.arange(len(points)), cuts)
        for u in rng.permutation(len(uploads)):  # late and out of order
            rows = []
            for i in uploads[u].tolist():
                f = fix(points[i][0], points[i][1], points[i][2], points[i][3])
                rows.append((device, f.t, f.lat, f.lon, f.accuracy_m))
            trail.store(rows)
    crimes = [
        crime(f"C{c}", minute=int(rng.integers(-200, 200)), minutes=int(rng.integers(2, 90)),
              east=float(rng.uniform(-8000, 8000)), north=float(rng.uniform(-8000, 8000)))
        for c in range(150)
    ]  # fmt: skip
    boxed, whole = findings(devices, crimes, True), findings(devices, crimes, False)
    assert boxed[0] == whole[0] and boxed[1] == whole[1]
    assert len(whole[0][0]) > 10 and whole[0][0] > whole[0][1]  # matches, some of them lines only
    assert boxed[2] < whole[2] / 2  # and most of the fixes left unread
