"""Police crime batches (CSV) read and checked row by row: docs/crime.md, "The batch file"."""

from __future__ import annotations

from .records import ParsedBatch

COLUMNS = (
    "policeForce",
    "crimeTypeId",
    "crimeTypeDescription",
    "batchId",
    "crimeReference",
    "dateFrom",
    "dateTo",
    "easting",
    "northing",
    "latitude",
    "longitude",
    "datum",
    "crimeText",
)


def parse_batch(data: bytes, *, filename: str = "") -> ParsedBatch:
    """The batch's valid crimes and a problem for each row (or the reason the file cannot be used)."""
    raise NotImplementedError
