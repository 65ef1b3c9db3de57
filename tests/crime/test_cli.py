"""`openem crime-match CASES TELEMETRY CRIMES.csv`: a JSON line per crime and person monitored in its
window; refused rows on stderr with exit status 1; an unusable file exit status 2."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from .helpers import PLACE, PLANE, T0, to_csv

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "openem.cli", "crime-match", *args], capture_output=True, text=True, cwd=ROOT
    )


def person(pid: str, devices: list[dict], home: tuple[float, float] = PLACE) -> dict:
    curfew = {
        "id": "C1",
        "type": "curfew",
        "technology": "gps",
        "address": {"lat": home[0], "lon": home[1], "radius_m": 30},
        "windows": [{"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "start": "19:00", "end": "07:00"}],
    }
    order = {"id": f"O{pid}", "type": "community_order", "start": "2026-11-01", "end": "2027-04-30",
             "conditions": [curfew]}  # fmt: skip
    return {"id": pid, "name": f"Person {pid}", "orders": [order], "devices": devices}


def gps(did: str, fitted: str = "2026-11-02T10:00:00Z", removed: str | None = None) -> dict:
    return {"id": did, "kind": "gps", "fitted": fitted, "removed": removed}


def line(device: str, minute: float, east: float, north: float) -> str:
    lon, lat = PLANE.inverse.transform(east, north)
    when = (T0 + timedelta(minutes=minute)).isoformat().replace("+00:00", "Z")
    return json.dumps({"device": device, "time": when, "type": "fix", "lat": lat, "lon": lon, "accuracy_m": 8})


def crime_row(ref: str, start: str = "20261201220000", end: str = "20261201230000", **kw: str) -> dict:
    row = {
        "policeForce": "Leicestershire Police",
        "crimeTypeId": "BIAD",
        "crimeTypeDescription": "Burglary",
        "batchId": "B1",
        "crimeReference": ref,
        "dateFrom": start,
        "dateTo": end,
        "latitude": f"{PLACE[0]}",
        "longitude": f"{PLACE[1]}",
        "datum": "WGS84",
        "crimeText": "Rear door",
    }
    row.update(kw)
    return row


def files(tmp_path: Path, rows: list[dict]) -> tuple[str, str, str]:
    home_far = (PLACE[0] + 0.05, PLACE[1])
    cases = {
        "format": "openem-cases/1",
        "people": [
            person("P1", [gps("GPS-1")], home=home_far),  # walks past the place
            person("P2", [gps("GPS-2")], home=home_far),  # 2 km away throughout
            person("P3", [gps("GPS-3", removed="2026-11-20T10:00:00Z")]),  # removed before
            person("P4", [{"id": "RF-4", "kind": "rf", "fitted": "2026-11-02T10:00:00Z"}]),  # no GPS
            person("P5", [gps("GPS-5")]),  # fitted, silent: not covered
        ],
    }
    lines = [line("GPS-1", m, -3000 + 50 * m, 20) for m in range(-45, 120)]
    lines += [line("GPS-2", m, 2000, 0) for m in range(-45, 120)]
    lines += [line("GPS-3", m, 0, 0) for m in range(-45, 120)]  # someone else's tag now: not fitted to P3
    c, t, b = tmp_path / "cases.json", tmp_path / "telemetry.jsonl", tmp_path / "crimes.csv"
    c.write_text(json.dumps(cases))
    t.write_text("\n".join(lines) + "\n")
    b.write_bytes(to_csv(rows))
    return str(c), str(t), str(b)


def test_one_line_per_crime_and_person_monitored_in_its_window(tmp_path):
    proc = run(*files(tmp_path, [crime_row("LE/1")]))
    assert proc.returncode == 0, proc.stderr
    out = [json.loads(x) for x in proc.stdout.splitlines()]
    assert [(o["crime"], o["person"], o["verdict"]) for o in out] == [
        ("LE/1", "P1", "match"),
        ("LE/1", "P2", "not_there"),
        ("LE/1", "P5", "not_covered"),
    ]
    assert list(out[0])[:6] == ["crime", "person", "verdict", "closest_m", "minutes_near", "params_version"]
    # Within 108 m (100 + 8) for 2 x sqrt(108^2 - 20^2) = 212 m, at 50 m a minute.
    assert out[0]["closest_m"] == 20.0 and out[0]["minutes_near"] == 4.25
    assert out[1]["closest_m"] == 2000.0 and out[1]["minutes_near"] == 0
    assert out[2]["closest_m"] is None and out[2]["gaps"] == [["2026-12-01T21:30:00Z", "2026-12-01T23:30:00Z"]]


def test_refused_rows_go_to_stderr_and_the_rest_are_matched_with_exit_status_1(tmp_path):
    rows = [crime_row("LE/1"), crime_row("LE/2", crimeTypeId="XX"), crime_row("LE/3", end="20261202150000")]
    proc = run(*files(tmp_path, rows))
    assert proc.returncode == 1
    assert {json.loads(x)["crime"] for x in proc.stdout.splitlines()} == {"LE/1"}
    err = proc.stderr.splitlines()
    assert err[0].startswith("") and "row 3, crimeTypeId: 'XX' is not a crime type we match" in err[0]
    assert "row 4, dateTo: the window is 17.0 hours long: at most 12 hours" in err[1]


def test_a_file_that_cannot_be_used_exits_2(tmp_path):
    c, t, b = files(tmp_path, [crime_row("LE/1"), crime_row("LE/2", policeForce="Merseyside Police")])
    proc = run(c, t, b)
    assert proc.returncode == 2 and proc.stdout == ""
    assert "several forces" in proc.stderr
    c, t, b = files(tmp_path, [crime_row("LE/1", latitude="")])  # every row refused: nothing to match
    proc = run(c, t, b)
    assert proc.returncode == 2 and "row 2, latitude: is empty while longitude is given" in proc.stderr
    assert "no row can be used" in proc.stderr
