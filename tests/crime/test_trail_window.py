"""The trail service's read of many devices over a window: each device's fixes in the window, in time
order, whichever blocks (late, out of order, spanning the window's edges) hold them."""

from __future__ import annotations

import numpy as np
import pytest

from openem.telemetry import trail

T0 = 1_795_000_000.0


@pytest.mark.django_db
def test_many_devices_over_a_window_come_back_each_whole_and_in_order():
    times = T0 + np.arange(2 * 1440) * 60.0  # two days at a fix a minute
    uploads = np.split(times, 2 * 96)
    for k in [*range(1, len(uploads), 2), *range(0, len(uploads), 2)]:  # late, out of order
        trail.store([("GPS-A", t, 52.6, -0.7, 8.0) for t in uploads[k].tolist()])
    trail.store([("GPS-B", t, 52.7, -0.8, None) for t in times[::10].tolist()])
    trail.store([("GPS-C", T0 - 5 * 86400, 52.7, -0.8, 8.0)])  # long before the window
    lo, hi = T0 + 0.75 * 86400, T0 + 1.25 * 86400
    got = trail.window(["GPS-B", "GPS-A", "GPS-C", "GPS-NONE"], lo, hi)
    assert list(got) == ["GPS-B", "GPS-A", "GPS-C", "GPS-NONE"]
    inside = times[(times >= lo) & (times < hi)]
    assert np.array_equal(got["GPS-A"].t, inside)
    assert np.array_equal(got["GPS-B"].t, times[::10][(times[::10] >= lo) & (times[::10] < hi)])
    assert np.isnan(got["GPS-B"].acc).all() and (got["GPS-A"].acc == 8.0).all()
    assert len(got["GPS-C"]) == 0 and len(got["GPS-NONE"]) == 0
    # The same as reading each device on its own.
    assert np.array_equal(trail.fixes("GPS-A", lo, hi).t, got["GPS-A"].t)
    names, offsets, records = trail.window_packed(["GPS-A", "GPS-B"], lo, hi)
    assert names == ["GPS-A", "GPS-B"] and offsets.tolist() == [0, len(inside), len(records)]


@pytest.mark.django_db
def test_more_devices_than_one_query_names(monkeypatch):
    monkeypatch.setattr(trail, "WINDOW_DEVICES_PER_QUERY", 3)
    trail.store([(f"GPS-{k}", T0 + k, 52.6, -0.7, 5.0) for k in range(8)])
    got = trail.window([f"GPS-{k}" for k in range(8)], T0, T0 + 100)
    assert [g.t.tolist() for g in got.values()] == [[T0 + k] for k in range(8)]
