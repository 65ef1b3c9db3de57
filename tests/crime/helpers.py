"""Police batches from police.uk's street-level crime files, and trails built in metres around a place."""

from __future__ import annotations

import csv
import hashlib
from datetime import UTC, datetime, timedelta

import pytest

from openem.crime.batches import COLUMNS
from openem.crime.geography import wgs84_to_grid
from openem.crime.records import Fix
from openem.engine.geometry import LocalProjection

from ..conftest import SHARED

POLICE_UK = SHARED / "data" / "crime-police-uk"
# police.uk's categories as the types police send for matching (vehicle crime: alternately of and from).
CATEGORY = {"Burglary": "BIAD", "Robbery": "RB", "Theft from the person": "TFP", "Vehicle crime": "TFMV"}
FORCE = {
    "leicestershire": "Leicestershire Police",
    "merseyside": "Merseyside Police",
    "city-of-london": "City of London",
}


def police_uk_rows(area: str = "leicestershire", limit: int = 40) -> list[dict[str, str]]:
    """Acquisitive crimes with a location from police.uk's street file for August 2021."""
    path = POLICE_UK / f"2021-08-{area}-street.csv"
    if not path.exists():
        pytest.skip(f"police.uk street data absent ({path}): see /work/shared/data/README.md")
    out = []
    with open(path, encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if row["Crime type"] in CATEGORY and row["Latitude"] and row["Longitude"]:
                out.append(row)
                if len(out) == limit:
                    break
    return out


def batch_rows(rows: list[dict[str, str]], batch: str = "B2021-08-01", area: str = "leicestershire",
               grid_every: int = 3) -> list[dict[str, str]]:  # fmt: skip
    """Each police.uk row as a batch row: a window of up to 6 hours on a day of its month (from its crime
    ID, so the same every run), every ``grid_every``-th located by easting/northing (OSGB36) instead."""
    out = []
    for k, row in enumerate(rows):
        h = int(hashlib.sha256((row["Crime ID"] or str(k)).encode()).hexdigest()[:8], 16)
        start = datetime(2021, 8, 1 + h % 31, tzinfo=UTC) + timedelta(minutes=h // 31 % 1440)
        end = start + timedelta(minutes=30 + h % 330)
        code = CATEGORY[row["Crime type"]]
        if code == "TFMV" and k % 2:
            code = "TOMV"
        lat, lon = float(row["Latitude"]), float(row["Longitude"])
        r = {
            "policeForce": FORCE[area],
            "crimeTypeId": code,
            "crimeTypeDescription": row["Crime type"],
            "batchId": batch,
            "crimeReference": f"{area[:3].upper()}/{k:05d}",
            "dateFrom": start.strftime("%Y%m%d%H%M%S"),
            "dateTo": end.strftime("%Y%m%d%H%M%S"),
            "easting": "",
            "northing": "",
            "latitude": row["Latitude"],
            "longitude": row["Longitude"],
            "datum": "WGS84",
            "crimeText": row["Location"],
        }
        if grid_every and k % grid_every == grid_every - 1:
            e, n = wgs84_to_grid([lat], [lon])
            r.update(easting=f"{e[0]:.0f}", northing=f"{n[0]:.0f}", latitude="", longitude="", datum="OSGB36")
        out.append(r)
    return out


def to_csv(rows: list[dict[str, str]], header: tuple[str, ...] = COLUMNS) -> bytes:
    lines = [",".join(header)]
    for r in rows:
        lines.append(",".join(_quote(r.get(c, "")) for c in header))
    return ("\r\n".join(lines) + "\r\n").encode()


def _quote(v: str) -> str:
    return '"' + v.replace('"', '""') + '"' if any(ch in v for ch in ',"\n') else v


PLACE = (52.6702, -0.7321)  # Oakham
PLANE = LocalProjection(*PLACE)
T0 = datetime(2026, 12, 1, 22, 0, tzinfo=UTC)


def fix(minute: float, east_m: float, north_m: float, acc: float | None = 5.0) -> Fix:
    """A fix ``minute`` minutes after 22:00 on 1 December 2026, so many metres east and north of PLACE."""
    lon, lat = PLANE.inverse.transform(east_m, north_m)
    return Fix(T0.timestamp() + minute * 60, lat, lon, acc)
