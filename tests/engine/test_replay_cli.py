"""`openem replay CASES EVENTS` from the command line: output, and bad input with exit code 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from ..conftest import example

ROOT = Path(__file__).resolve().parents[2]


def replay(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "openem.cli", "replay", *args], capture_output=True, text=True, cwd=ROOT
    )


def write(tmp_path: Path, cases: dict, lines: list[str]) -> tuple[str, str]:
    c, e = tmp_path / "cases.json", tmp_path / "events.jsonl"
    c.write_text(json.dumps(cases))
    e.write_text("\n".join(lines) + "\n")
    return str(c), str(e)


def test_replay_prints_violations_as_json_lines(tmp_path):
    lines = [
        json.dumps(
            {
                "device": "RF-0001",
                "time": f"2026-11-02T{h:02d}:{m:02d}:00Z",
                "type": "rf",
                "in_range": not (20 <= h < 22),
            }
        )
        for h in range(17, 24)
        for m in (0, 30)
    ]
    proc = replay(*write(tmp_path, example(), lines))
    assert proc.returncode == 0, proc.stderr
    out = [json.loads(x) for x in proc.stdout.splitlines()]
    absence = [v for v in out if v["type"] == "curfew_absence"]
    assert absence == [
        {
            "person": "P0001",
            "order": "O0001",
            "condition": "C1",
            "type": "curfew_absence",
            "category": "behaviour",
            "start": "2026-11-02T20:00:00Z",
            "end": "2026-11-02T22:00:00Z",
            "duration_s": 7200,
            "evidence": absence[0]["evidence"],
        }
    ]


def test_a_bad_line_names_the_line_and_field_with_exit_code_2(tmp_path):
    good = json.dumps({"device": "RF-0001", "time": "2026-11-02T20:00:00Z", "type": "rf", "in_range": True})
    bad = json.dumps({"device": "GPS-0001", "time": "2026-11-02T20:00:00Z", "type": "fix", "lat": 95, "lon": 0})
    proc = replay(*write(tmp_path, example(), [good, bad]))
    assert proc.returncode == 2
    assert proc.stderr.strip().endswith("events.jsonl: line 2: lat: 95 is out of range (-90 to 90)")
    proc = replay(*write(tmp_path, example(), [good, "{not json"]))
    assert proc.returncode == 2 and "line 2: (line): not valid JSON" in proc.stderr
    old = json.dumps({"device": "GPS-0001", "time": "1901-12-13T20:45:52Z", "type": "fix", "lat": 46, "lon": 13})
    proc = replay(*write(tmp_path, example(), [old]))
    assert 'line 1: time: "1901-12-13T20:45:52Z" is before any device in service was made' in proc.stderr


def test_a_bad_case_file_is_an_error_too(tmp_path):
    cases = example()
    cases["people"][0]["orders"][0]["conditions"][0]["windows"][0]["end"] = "25:00"
    proc = replay(*write(tmp_path, cases, []))
    assert proc.returncode == 2
    assert 'people[0].orders[0].conditions[0].windows[0].end: "25:00" is not a time' in proc.stderr
