"""Readings read back from storage are the readings that were validated on the way in."""

from __future__ import annotations

import math

import pytest

from openem.engine.telemetry import ReadingError, parse_reading, parse_time, stored_reading

FIX = {"device": "GPS-1", "time": "2026-11-20T21:00:05Z", "type": "fix", "lat": 52.67, "lon": -0.73, "seq": 4}


def test_a_stored_fix_reads_back_as_the_validated_fix():
    assert stored_reading(FIX, "d") == parse_reading(FIX, "d")
    with_accuracy = {**FIX, "accuracy_m": 12}
    assert stored_reading(with_accuracy, "d") == parse_reading(with_accuracy, "d")
    assert math.isnan(stored_reading(FIX).accuracy_m)


def test_other_stored_readings_go_through_the_parser():
    power = {"device": "GPS-1", "time": "2026-11-20T21:00:05Z", "type": "power", "battery_pct": 40}
    assert stored_reading(power) == parse_reading(power)


def test_times_are_cached_but_bad_ones_are_refused_every_time():
    assert parse_time("2026-11-20T21:00:05Z") == parse_time("2026-11-20T21:00:05Z") == 1795208405.0
    for _ in range(2):
        with pytest.raises(ReadingError, match="has no offset"):
            parse_time("2026-11-20T21:00:05")


def test_a_fix_without_accuracy_takes_it_from_hdop_on_every_path():
    from openem.engine.telemetry import accuracy_from_hdop

    assert (accuracy_from_hdop(0.5), accuracy_from_hdop(1.2), accuracy_from_hdop(99.99)) == (5.0, 6.0, 250.0)
    with_hdop = {**FIX, "hdop": 2.0}
    assert parse_reading(with_hdop).accuracy_m == stored_reading(with_hdop).accuracy_m == 10.0
    assert math.isnan(parse_reading({**FIX, "hdop": 0}).accuracy_m)  # 0: not known
    assert math.isnan(parse_reading({**FIX, "accuracy_m": 0}).accuracy_m)
    with pytest.raises(ReadingError, match="hdop"):
        parse_reading({**FIX, "hdop": 150})
    with pytest.raises(ReadingError, match="hdop"):
        parse_reading({**FIX, "hdop": "good"})
