"""The trail kept as blocks: a period's fixes come back whole and in order whichever blocks hold them,
retention deletes exactly a fitting's fixes, and fixes stored before blocks existed move into them."""

from __future__ import annotations

import numpy as np
import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from openem.telemetry import trail
from openem.telemetry.models import TrailBlock

DAY = 86_400.0
T0 = 1_795_000_000.0


def fix(device: str, t: float, acc: float | None = 8.0) -> tuple[str, float, float, float, float | None]:
    return (device, t, 52.6 + t / 1e12, -0.7, acc)


@pytest.mark.django_db
def test_a_period_comes_back_whole_and_in_order_from_the_blocks_that_hold_it():
    # Three days at a fix a minute, stored as late and out-of-order uploads of a quarter of an hour.
    times = T0 + np.arange(3 * 1440) * 60.0
    uploads = np.split(times, 3 * 96)
    for k in [*range(0, len(uploads), 2), *range(1, len(uploads), 2)]:
        trail.store([fix("GPS-1", t) for t in uploads[k].tolist()])
    trail.store([fix("GPS-2", T0 + 30)])  # someone else's
    assert TrailBlock.objects.filter(device="GPS-1").count() == 3 * 96
    lo, hi = T0 + 0.5 * DAY, T0 + 2.5 * DAY
    got = trail.fixes("GPS-1", lo, hi)
    expected = times[(times >= lo) & (times < hi)]
    assert np.array_equal(got.t, expected)
    assert got.rows()[0] == (52.6 + expected[0] / 1e12, -0.7, round(expected[0], 3), 8.0)


@pytest.mark.django_db
def test_a_block_covers_at_most_a_day_and_an_accuracy_not_reported_stays_unknown():
    trail.store([fix("GPS-1", T0 + k * 3600, acc=None) for k in range(60)])  # 60 hours in one batch
    spans = [e - s for s, e in TrailBlock.objects.values_list("start_s", "end_s")]
    assert len(spans) == 3 and max(spans) < DAY
    assert trail.fixes("GPS-1", T0, T0 + 3 * DAY).rows()[0][3] is None


@pytest.mark.django_db
def test_the_last_position_is_found_however_long_ago():
    trail.store([fix("GPS-1", T0), fix("GPS-1", T0 + 600)])
    assert trail.last_position("GPS-1", T0 + 300) == pytest.approx((52.6 + T0 / 1e12, -0.7))
    assert trail.last_position("GPS-1", T0 + 10 * DAY) == pytest.approx((52.6 + (T0 + 600) / 1e12, -0.7))
    assert trail.last_position("GPS-1", T0 - 1) is None
    assert trail.last_position("GPS-9", T0) is None


@pytest.mark.django_db
def test_deleting_a_fitting_period_keeps_the_fixes_either_side():
    trail.store([fix("GPS-1", T0 + k * 60) for k in range(100)])
    assert trail.delete("GPS-1", T0 + 20 * 60, T0 + 30 * 60) == 10
    left = trail.fixes("GPS-1", 0, 2e9).t
    assert len(left) == 90 and not ((left >= T0 + 20 * 60) & (left < T0 + 30 * 60)).any()
    assert trail.delete("GPS-1", T0 + 50 * 60, None) == 50
    assert len(trail.fixes("GPS-1", 0, 2e9)) == 40
    assert trail.delete("GPS-1", 0, None) == 40 and not TrailBlock.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_fixes_stored_a_row_each_move_into_blocks():
    executor = MigrationExecutor(connection)
    executor.migrate([("telemetry", "0003_one_index_per_reading")])
    with connection.cursor() as cursor:
        for k in range(5):
            cursor.execute(
                "INSERT INTO telemetry_fix (device, t, lat, lon, accuracy_m, reading_id) "
                "VALUES (%s, %s, %s, %s, %s, %s)",
                ["GPS-1", f"2026-11-20 21:0{k}:00", 52.6 + k / 1000, -0.7, 8.0 if k else None, k + 1],
            )
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
    got = trail.fixes("GPS-1", 0, 2e9)
    assert len(got) == 5 and got.rows()[1][0] == pytest.approx(52.601) and got.rows()[0][3] is None
