"""The engine on real recordings: GPS tracks with their defects, and SCRAM readings of a bar crawl."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from openem.engine import casefile
from openem.engine.engine import Engine
from openem.engine.telemetry import ReadingError, parse_reading

from ..conftest import shared_data

GPX = "{http://www.topografix.com/GPX/1/1}"


def gpx_points(path: Path) -> list[dict]:
    root = ET.parse(path).getroot()
    ns = GPX if root.tag.startswith(GPX) else "{http://www.topografix.com/GPX/1/0}"
    out = []
    for pt in root.iter(f"{ns}trkpt"):
        when = pt.find(f"{ns}time")
        out.append(
            {"lat": float(pt.get("lat")), "lon": float(pt.get("lon")), "time": when.text if when is not None else None}
        )
    return out


def track_case(points: list[dict], start: str, end: str) -> casefile.CaseFile:
    lat = np.array([p["lat"] for p in points])
    lon = np.array([p["lon"] for p in points])
    k = len(points) // 2
    # An exclusion zone beside the route: its edge 60 m from the nearest point of the track.
    clat, clon = lat[k], lon[k]
    north = np.hypot((lat - clat) * 111_250, (lon - clon) * 111_320 * np.cos(np.radians(clat)))
    bearing_lat = clat + (160 / 111_250)
    dists = np.hypot((lat - bearing_lat) * 111_250, (lon - clon) * 111_320 * np.cos(np.radians(clat)))
    radius = float(dists.min() - 60)
    reach = float(north.max() + 300)
    return casefile.parse(
        {
            "format": "openem-cases/1",
            "people": [
                {
                    "id": "P1",
                    "name": "Walker",
                    "orders": [
                        {
                            "id": "O1",
                            "type": "licence",
                            "start": start,
                            "end": end,
                            "conditions": [
                                {"id": "C1", "type": "trail"},
                                {
                                    "id": "C2",
                                    "type": "exclusion_zone",
                                    "monitored": True,
                                    "name": "Beside the route",
                                    "area": {"lat": bearing_lat, "lon": float(clon), "radius_m": max(radius, 20)},
                                },
                                {
                                    "id": "C3",
                                    "type": "inclusion_zone",
                                    "monitored": True,
                                    "name": "The area",
                                    "area": {"lat": float(clat), "lon": float(clon), "radius_m": reach},
                                },
                                {
                                    "id": "C4",
                                    "type": "curfew",
                                    "technology": "gps",
                                    "address": {"lat": float(lat[0]), "lon": float(lon[0]), "radius_m": 30},
                                    "windows": [
                                        {
                                            "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
                                            "start": "23:00",
                                            "end": "05:00",
                                        }
                                    ],
                                },
                            ],
                        }
                    ],
                    "devices": [{"id": "GPS-1", "kind": "gps", "fitted": f"{start}T00:00:00Z", "removed": None}],
                }
            ],
        }
    )


@pytest.mark.parametrize("name", ["around-visnjan-with-car.gpx", "cerknicko-jezero.gpx", "korita-zbevnica.gpx"])
def test_real_gps_tracks_raise_no_false_zone_or_curfew_violation(name):
    points = gpx_points(shared_data("gpx-samples", name))
    timed = [p for p in points if p["time"]]
    day = timed[0]["time"][:10]
    cf = track_case(points, day, day[:4] + "-12-31")
    engine = Engine(cf)
    rejected = 0
    for p in points:
        try:
            engine.add([parse_reading({"device": "GPS-1", "type": "fix", "accuracy_m": 10.0, **p})])
        except ReadingError as exc:
            assert exc.field == "time"  # points without a time are refused, with the reason
            rejected += 1
    assert rejected == len(points) - len(timed)
    result = engine.evaluate()
    behaviour = [v.to_json() for v in result.violations if v.category.value == "behaviour"]
    assert behaviour == []


def test_a_track_with_bogus_1901_times_is_refused_point_by_point():
    points = gpx_points(shared_data("gpx-samples", "Mojstrovka.gpx"))
    errors = set()
    for p in points:
        with pytest.raises(ReadingError) as exc:
            parse_reading({"device": "GPS-1", "type": "fix", **p})
        errors.add(str(exc.value))
    assert errors and all(
        e.startswith('time: "1901-12-13T20:45:52') and e.endswith("is before any device in service was made")
        for e in errors
    )


def bar_crawl(pid: str) -> list[dict]:
    openpyxl = pytest.importorskip("openpyxl")
    path = next(shared_data("alcohol-bar-crawl", "raw_tac").glob(f"{pid} *.xlsx"))
    rows = list(openpyxl.load_workbook(path, read_only=True).active.iter_rows(values_only=True))[2:]
    out = []
    for r in rows:
        if r[0] is None or r[11] is None:
            continue
        when = r[11] if isinstance(r[11], datetime) else datetime(1899, 12, 30) + timedelta(days=float(r[11]))
        out.append(
            {
                "device": "ALC-1",
                "type": "alcohol",
                "time": when.isoformat() + "Z",
                "tac_g_dl": float(r[0]),
                "ir_v": float(r[3]),
                "temp_c": round((float(r[8]) - 32) * 5 / 9, 2),
            }
        )
    return out


PIDS = ["BK7610", "BU4707", "DC6359", "DK3500", "JB3156", "JR8022", "MC7070", "SA0297"]


@pytest.mark.parametrize("pid", PIDS)
def test_each_bar_crawl_participant_has_exactly_one_confirmed_drinking_event(pid):
    readings = bar_crawl(pid)
    cf = casefile.parse(
        {
            "format": "openem-cases/1",
            "people": [
                {
                    "id": pid,
                    "name": pid,
                    "orders": [
                        {
                            "id": "O1",
                            "type": "community_order",
                            "start": "2017-04-20",
                            "end": "2017-10-31",
                            "conditions": [
                                {
                                    "id": "C1",
                                    "type": "alcohol",
                                    "mode": "abstinence",
                                    "requirement": "aamr",
                                    "start": "2017-04-20",
                                    "end": "2017-08-17",
                                }
                            ],
                        }
                    ],
                    "devices": [{"id": "ALC-1", "kind": "alcohol", "fitted": "2017-05-01T00:00:00Z", "removed": None}],
                }
            ],
        }
    )
    engine = Engine(cf)
    engine.add(parse_reading(r, json.dumps(r)) for r in readings)
    result = engine.evaluate()
    drinking = [v for v in result.violations if v.type.value == "alcohol_confirmed"]
    assert len(drinking) == 1, [v.to_json() for v in drinking]

    def at(r: dict) -> float:
        return datetime.fromisoformat(r["time"].replace("Z", "+00:00")).timestamp()

    # The sober hours at the start of the recording (transdermal alcohol still at zero) hold no
    # confirmed drinking, and the one event is the night itself: it contains the highest reading.
    sober_until = min(at(r) for r in readings if r["tac_g_dl"] >= 0.01)
    assert drinking[0].start >= sober_until
    assert sober_until - min(at(r) for r in readings) > 2700, "the recording starts sober"
    peak = max(readings, key=lambda r: r["tac_g_dl"])
    assert drinking[0].start <= at(peak) <= (drinking[0].end or float("inf"))
    assert [v for v in result.violations if v.type.value == "tamper"] == []
