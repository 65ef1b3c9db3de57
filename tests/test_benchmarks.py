"""The benchmarks run and report their fields; detection is held to its bars on every run."""

from __future__ import annotations

import pytest

from openem.bench import bench_alerts, bench_detection, bench_engine


def test_detection_meets_its_bars_on_a_quick_run():
    r = bench_detection(quick=True)
    assert r["device_days"] >= 300
    assert r["behaviour_recall"] == 1.0, r["missed_examples"]
    assert r["false_behaviour_per_1000_device_days"] < 1, r["false_examples"]
    assert r["equipment_reported_as_behaviour"] == 0


def test_alerts_meet_their_bars_and_beat_one_alert_per_violation():
    r = bench_alerts(quick=True)
    ours, base = r["ours"], r["baseline"]
    assert r["genuine_incidents"] > 5
    assert ours["genuine_share_of_practitioner_notifications"] >= 0.95
    assert ours["missed_genuine_incidents"] == 0
    assert ours["notifications_per_1000_device_days"] < base["notifications_per_1000_device_days"]
    assert ours["alerts_per_1000_device_days"] <= base["alerts_per_1000_device_days"]


@pytest.mark.slow
def test_engine_benchmark_reports_its_fields():
    r = bench_engine(quick=True)
    assert {"readings_per_s_per_core", "baseline_readings_per_s", "ratio", "state_bytes_per_device"} <= set(r)
    assert r["readings_per_s_per_core"] > 1_000_000 and r["state_bytes_per_device"] < 2048


@pytest.mark.slow
def test_simulator_benchmark_reports_its_fields_and_writes_the_same_files_either_way():
    from openem.bench import bench_simulate

    r = bench_simulate(quick=True)
    assert {"device_days_per_s", "one_process_device_days_per_s", "ratio", "seconds"} <= set(r)
    assert r["same_files"] and r["device_days"] > 2_000


@pytest.mark.slow
def test_national_benchmark_reports_its_fields_beside_the_smaller_caseload():
    from openem.bench import bench_national

    r = bench_national(quick=True)
    small, large = r["runs"]["sqlite"]
    for res in (small, large):
        assert "failed" not in res, res.get("failed")
        assert {
            "stored_and_evaluated_fixes_per_s", "p99_reading_to_violation_s", "caseload_change_applied_s",
            "catch_up_readings_per_s", "silent_check_ms", "case_list_ms", "centre_ms", "worker_rss_mb",
        } <= set(res)  # fmt: skip
    assert large["people"] > small["people"]
    assert large["violations_not_found"] == 0 and large["p99_reading_to_violation_s"] < 1.0
    assert large["caseload_change_applied_s"] is not None and large["caseload_change_applied_s"] < 1.0
