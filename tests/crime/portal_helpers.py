"""Shared by the crime portal tests: a batch file as police send it, and a trail stored through the
telemetry ingest for Sam Example (GPS-0001) on 10 November 2026."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from openem.crime.batches import COLUMNS

FORCE = "Leicestershire Police"
T0 = datetime(2026, 11, 10, 8, 0, tzinfo=UTC)
# Sam walks south along longitude -0.7351 from 52.6702, 0.0002 degrees (22 m) a minute, 08:00 to 11:00.
START_LAT, LON = 52.6702, -0.7351


def where(minute: int) -> tuple[float, float]:
    return START_LAT - minute * 0.0002, LON


def store_trail(minutes: int = 180, skip: range | None = None) -> None:
    from openem.telemetry.ingest import ingest_jsonl

    lines = []
    for i in range(minutes):
        if skip is not None and i in skip:
            continue
        lat, lon = where(i)
        t = (T0 + timedelta(minutes=i)).isoformat().replace("+00:00", "Z")
        fix = {"device": "GPS-0001", "time": t, "type": "fix", "lat": lat, "lon": lon, "accuracy_m": 8}
        lines.append(json.dumps(fix))
    ingest_jsonl("\n".join(lines))


def stamp(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y%m%d%H%M%S")


def row(ref: str, lat: float, lon: float, start: datetime, end: datetime, **over: Any) -> dict[str, Any]:
    r = {
        "policeForce": FORCE, "crimeTypeId": "BIAD", "crimeTypeDescription": "Burglary in a dwelling",
        "batchId": "LP-2026-11-10", "crimeReference": ref, "dateFrom": stamp(start), "dateTo": stamp(end),
        "easting": "", "northing": "", "latitude": f"{lat:.6f}", "longitude": f"{lon:.6f}", "datum": "WGS84",
        "crimeText": "Entry by rear door; jewellery taken",
    }  # fmt: skip
    r.update(over)
    return r


def csv_of(rows: list[dict[str, Any]]) -> bytes:
    lines = [",".join(COLUMNS)] + [",".join(str(r[c]) for c in COLUMNS) for r in rows]
    return ("\r\n".join(lines) + "\r\n").encode()


def near_crime(ref: str = "LP/1001/26", minute: int = 30) -> dict[str, Any]:
    """On Sam's path at ``minute`` past 08:00, a window of 20 minutes around it."""
    lat, lon = where(minute)
    at = T0 + timedelta(minutes=minute)
    return row(ref, lat, lon, at - timedelta(minutes=10), at + timedelta(minutes=10))


def far_crime(ref: str = "LP/1002/26") -> dict[str, Any]:
    """Three kilometres east of Sam's path, while his trail is complete: he is shown not to be there."""
    at = T0 + timedelta(minutes=90)
    return row(ref, 52.66, -0.69, at - timedelta(minutes=10), at + timedelta(minutes=10), crimeTypeId="TFMV",
               crimeTypeDescription="Theft from a motor vehicle")  # fmt: skip


BASIS = {"lawful_basis": "investigation", "purpose": "Operation Larch: dwelling burglaries in Oakham"}


def upload(client: Any, data: bytes, name: str = "batch.csv") -> Any:
    """A batch file sent through the portal's upload form, with a lawful basis and purpose."""
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.urls import reverse

    return client.post(reverse("crime:batches"), {"file": SimpleUploadedFile(name, data, "text/csv"), **BASIS})
