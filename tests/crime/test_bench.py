"""`openem bench crime --quick` reports its fields, and the matcher's answers are PostGIS's when PostGIS
is there (it says how to install it when it is not)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_the_quick_crime_bench_reports_its_fields_and_agrees_with_postgis(tmp_path):
    env = {**os.environ, "OPENEM_BENCH_DIR": str(tmp_path), "OPENEM_DEMO": "1"}
    env.pop("DATABASE_URL", None)
    proc = subprocess.run(
        [sys.executable, "-m", "openem.cli", "bench", "crime", "--quick", "--json"],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    r = json.loads(proc.stdout.splitlines()[-1])
    assert r["fixes"] > 1_000_000 and r["fixes_read"] < r["fixes"] / 5  # the slots near a crime only
    assert r["same_as_whole_read"] is True
    assert r["matches"] >= r["matches_fixes_only"] > 20
    assert r["matching_s"] < 1.0
    for key in ("read_s", "postgis_s", "ratio_vs_postgis", "peak_rss_mb"):
        assert key in r
    if r["postgis_s"] is None:
        assert "apt-get install postgresql-15-postgis-3" in r["postgis"]
        assert "PostGIS half skipped" in proc.stdout
    else:
        assert r["same_answers"] is True and r["only_postgis"] == r["only_openem"] == 0
