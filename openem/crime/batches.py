"""Police crime batches (CSV) read and checked row by row: docs/crime.md, "The batch file".

Rows are numbered as a spreadsheet numbers them (the header is row 1, a blank line is a row), so a
sender can find the row in the file they sent. A row with a problem is refused and the others kept.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np

from .geography import grid_to_wgs84, in_great_britain, wgs84_to_grid
from .records import CrimeRow, CrimeType, ParsedBatch, RowProblem

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
TIME_FORMAT = "%Y%m%d%H%M%S"  # yyyyMMddHHmmss, UTC
MAX_WINDOW = timedelta(hours=12)
FUTURE_SLACK = timedelta(minutes=5)  # clocks differ a little
MAX_TEXT = 4000  # crimeText: a short summary, not a statement
MAX_FIELD = 100  # force, description
MAX_REF = 80  # crimeReference and batchId: as long as they are stored (models.Crime, models.CrimeBatch)
GRID_DATUMS = {"OSGB36", "OSGB", "BNG", "EPSG:27700", "27700", "OSGB 1936", "BRITISH NATIONAL GRID"}
WGS84_DATUMS = {"WGS84", "WGS 84", "WGS-84", "EPSG:4326", "4326", "ETRS89"}
TYPES = ", ".join(f"{t.value} ({t.label})" for t in CrimeType)


# What forces put after their place name, longest first: "Metropolitan Police Service", "Avon and Somerset
# Constabulary", "Leicestershire Police" (its name since 2012; "Leicestershire Constabulary" before).
_FORCE_SUFFIXES = (("police", "service"), ("police", "force"), ("police",), ("constabulary",))


def force_key(name: str) -> str:
    """A force's name as compared: case, spaces and punctuation ignored, "&" read as "and", and "Police",
    "Constabulary" or "Police Service" after the place dropped, so "Leicestershire Police",
    "LEICESTERSHIRE CONSTABULARY" and "leicestershire" are one force, as are "Devon & Cornwall Police" and
    "Devon and Cornwall". A name that is only such words ("Police") is kept whole."""
    words = re.sub(r"[^\w]+", " ", name.casefold().replace("&", " and ")).split()
    if words[:1] == ["the"] and len(words) > 1:
        words = words[1:]
    for suffix in _FORCE_SUFFIXES:
        if len(words) > len(suffix) and tuple(words[-len(suffix) :]) == suffix:
            words = words[: -len(suffix)]
            break
    return " ".join(words)


def _decode(data: bytes) -> str | None:
    if b"\x00" in data[:4096]:
        return None  # UTF-16, a spreadsheet's own format or an image: not a CSV we read
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252")  # Excel's "CSV" on Windows
    except UnicodeDecodeError:
        return None


def _time(value: str) -> datetime | None:
    if len(value) != 14 or not value.isdigit():
        return None
    try:
        return datetime.strptime(value, TIME_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return None


def _number(value: str) -> float | None:
    try:
        x = float(value.replace(",", ""))
    except ValueError:
        return None
    return x if math.isfinite(x) else None


def parse_batch(
    data: bytes,
    *,
    filename: str = "",
    now: datetime | None = None,
    max_rows: int | None = None,
    force_of: Callable[[str], str] = force_key,
) -> ParsedBatch:
    """The batch's valid crimes and a problem for each refused row, or ``fatal`` saying why the file
    cannot be used at all (nothing is then kept, nor when it has more than ``max_rows`` crimes). ``now``: a
    crime said to start after it is refused (a typing slip in the date; there is no trail yet to match it
    against). ``force_of``: which force a ``policeForce`` cell names (the portal's also knows forces' codes)."""
    now = now or datetime.now(UTC)
    name = f"{filename} " if filename else "The file "
    text = _decode(data)
    if text is None:
        return ParsedBatch("", "", fatal=f"{name}is not a CSV file in UTF-8: save it from the spreadsheet as CSV.")
    try:
        records = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        return ParsedBatch("", "", fatal=f"{name}cannot be read as CSV ({exc}): save it from the spreadsheet as CSV.")
    rows = [(n, [c.strip() for c in rec]) for n, rec in enumerate(records, start=1)]
    rows = [(n, cells) for n, cells in rows if any(cells)]  # blank lines are tolerated
    if not rows:
        return ParsedBatch("", "", fatal=f"{name}is empty: it needs a header row and a row for each crime.")
    header_row, header = rows[0]
    index = {c.lower(): i for i, c in enumerate(header) if c}
    missing = [c for c in COLUMNS if c.lower() not in index]
    if missing:
        return ParsedBatch(
            "",
            "",
            fatal=f"{name}does not have the batch header (row {header_row}): missing "
            + ", ".join(missing)
            + ". The first row must name the columns "
            + ", ".join(COLUMNS)
            + ".",
        )
    body = rows[1:]
    if not body:
        return ParsedBatch("", "", fatal=f"{name}has a header but no crimes: add a row for each crime.")
    if max_rows is not None and len(body) > max_rows:
        return ParsedBatch(
            "",
            "",
            fatal=f"{name}has {len(body):,} crimes: a batch holds at most {max_rows:,}. "
            "Split the file into several batches.",
        )

    def cell(cells: list[str], column: str) -> str:
        i = index[column.lower()]
        return cells[i] if i < len(cells) else ""

    # One force however it is typed: "Leicestershire Police", "leicestershire  constabulary" are the same.
    spelt: dict[str, str] = {}
    for _, c in body:
        if cell(c, "policeForce"):
            spelt.setdefault(force_of(cell(c, "policeForce")), " ".join(cell(c, "policeForce").split()))
    forces = sorted(spelt.values())
    batches = sorted({cell(c, "batchId") for _, c in body} - {""})
    if len(forces) > 1:
        return ParsedBatch(
            "", "", fatal=f"{name}holds crimes from several forces ({', '.join(forces)}): send one file per force."
        )
    if len(batches) > 1:
        return ParsedBatch(
            "", "", fatal=f"{name}holds several batches ({', '.join(batches)}): send one file per batch."
        )
    if not forces:
        return ParsedBatch("", "", fatal=f"{name}does not say the police force: fill in policeForce on every row.")
    if not batches:
        return ParsedBatch("", "", fatal=f"{name}does not give a batch: fill in batchId on every row.")
    force, batch_id = forces[0], batches[0]
    if len(batch_id) > MAX_REF:
        return ParsedBatch(
            "", "", fatal=f"{name}has a batchId {len(batch_id)} characters long: a batch id is at most {MAX_REF}."
        )
    out = ParsedBatch(force, batch_id)
    seen: dict[str, int] = {}
    pending: list[_Pending] = []  # rows valid so far, awaiting the check that they are in Great Britain

    for n, cells in body:
        problems: list[RowProblem] = []

        def bad(column: str, message: str, n: int = n, problems: list[RowProblem] = problems) -> None:
            problems.append(RowProblem(n, column, message))

        if len(cells) > len(header) and any(cells[len(header) :]):
            bad("(row)", f"has {len(cells)} cells where the header has {len(header)}: check for a stray comma.")
        for column in ("policeForce", "batchId"):
            if not cell(cells, column):
                bad(column, f"is empty: give the batch's {'force' if column == 'policeForce' else 'batch id'}.")
        ref = cell(cells, "crimeReference")
        if not ref:
            bad("crimeReference", "is empty: give the force's crime reference.")
        elif len(ref) > MAX_REF:
            bad("crimeReference", f"is {len(ref)} characters long: a reference is at most {MAX_REF}.")
        elif ref in seen:
            bad("crimeReference", f"{ref} is also on row {seen[ref]}: give each crime once in a batch.")
        type_id = cell(cells, "crimeTypeId").upper()
        crime_type = CrimeType(type_id) if type_id in CrimeType._value2member_map_ else None
        if crime_type is None:
            shown = cell(cells, "crimeTypeId")
            bad(
                "crimeTypeId",
                f"{shown!r} is not a crime type we match: use one of {TYPES}."
                if shown
                else f"is empty: use one of {TYPES}.",
            )
        description = cell(cells, "crimeTypeDescription")
        if len(description) > MAX_FIELD:
            bad("crimeTypeDescription", f"is {len(description)} characters long: at most {MAX_FIELD}.")
        start, end = cell(cells, "dateFrom"), cell(cells, "dateTo")
        t0, t1 = _time(start), _time(end)
        for column, raw, t in (("dateFrom", start, t0), ("dateTo", end, t1)):
            if t is None:
                bad(
                    column,
                    f"{raw!r} is not a date and time: write yyyyMMddHHmmss in UTC, e.g. 20260314221500."
                    if raw
                    else "is empty: write when the crime could have happened, yyyyMMddHHmmss in UTC.",
                )
        if t0 is not None and t1 is not None:
            if t1 <= t0:
                bad("dateTo", f"{end} is not after dateFrom {start}: the window must end after it starts.")
            elif t1 - t0 > MAX_WINDOW:
                hours = (t1 - t0).total_seconds() / 3600
                bad("dateTo", f"the window is {hours:.1f} hours long: at most 12 hours; split or narrow it.")
            if t0 > now + FUTURE_SLACK:
                bad("dateFrom", f"{start} is in the future (UTC): check the date; times are yyyyMMddHHmmss in UTC.")
        text = cell(cells, "crimeText")
        if len(text) > MAX_TEXT:
            bad("crimeText", f"is {len(text)} characters long: at most {MAX_TEXT}.")
        where = _place(cells, cell, bad)
        if not problems and where is not None and crime_type is not None and t0 is not None and t1 is not None:
            seen[ref] = n
            pending.append(_Pending(n, ref, crime_type, description or crime_type.label, t0, t1, text, where))
        elif ref and ref not in seen:
            seen[ref] = n
        out.problems.extend(problems)

    if pending:
        inside = in_great_britain(np.array([p.where.e for p in pending]), np.array([p.where.n for p in pending]))
        for p, ok in zip(pending, inside.tolist(), strict=True):
            w = p.where
            if not ok:
                shown = f"{w.lat}, {w.lon}" if w.grid is None else f"easting {w.grid[0]:g}, northing {w.grid[1]:g}"
                out.problems.append(
                    RowProblem(
                        p.row,
                        "latitude" if w.grid is None else "easting",
                        f"{shown} is not in Great Britain: check the location (latitude and longitude may be "
                        "swapped, a minus sign or a digit lost).",
                    )
                )
                continue
            out.crimes.append(
                CrimeRow(
                    row=p.row,
                    force=force,
                    batch_id=batch_id,
                    reference=p.ref,
                    crime_type=p.crime_type,
                    description=p.description,
                    start=p.t0,
                    end=p.t1,
                    lat=w.lat,
                    lon=w.lon,
                    easting=None if w.grid is None else w.grid[0],
                    northing=None if w.grid is None else w.grid[1],
                    datum=w.datum,
                    text=p.text,
                )
            )
    out.problems.sort(key=lambda p: (p.row, COLUMNS.index(p.column) if p.column in COLUMNS else -1))
    return out


@dataclass(frozen=True)
class _Place:
    lat: float
    lon: float
    e: float  # the grid reference, as sent or converted, for the check that it is in Great Britain
    n: float
    grid: tuple[float, float] | None  # as sent
    datum: str


@dataclass(frozen=True)
class _Pending:
    row: int
    ref: str
    crime_type: CrimeType
    description: str
    t0: datetime
    t1: datetime
    text: str
    where: _Place


def _place(cells: list[str], cell: Callable[[list[str], str], str], bad: Callable[[str, str], None]) -> _Place | None:
    """The row's location: lat/lon (WGS84) and grid reference, or None after saying what is wrong."""
    raw = {c: cell(cells, c) for c in ("easting", "northing", "latitude", "longitude")}
    datum_raw = cell(cells, "datum")
    datum = " ".join(datum_raw.upper().split())
    has_grid = bool(raw["easting"] or raw["northing"])
    has_ll = bool(raw["latitude"] or raw["longitude"])
    if has_grid and has_ll:
        bad("easting", "is given as well as latitude and longitude: give the location once, as one or the other.")
        return None
    if not has_grid and not has_ll:
        bad(
            "latitude",
            "no location: give latitude and longitude (WGS84) or easting and northing (British National Grid).",
        )
        return None
    pair = ("easting", "northing") if has_grid else ("latitude", "longitude")
    limits = {"easting": (0, 700_000), "northing": (0, 1_300_000), "latitude": (-90, 90), "longitude": (-180, 180)}
    values = []
    for column in pair:
        other = pair[1] if column == pair[0] else pair[0]
        if not raw[column]:
            bad(column, f"is empty while {other} is given: give both.")
            continue
        x = _number(raw[column])
        lo, hi = limits[column]
        if x is None:
            bad(
                column,
                f"{raw[column]!r} is not a number: write it in figures, e.g. "
                + ("452300." if column in ("easting", "northing") else "52.6702."),
            )
        elif not lo <= x <= hi:
            bad(column, f"{raw[column]} is outside {lo} to {hi:,}: check the figures.")
        else:
            values.append(x)
    if has_grid:
        if datum and datum not in GRID_DATUMS:
            bad(
                "datum",
                f"{datum_raw!r} does not go with easting and northing (British National Grid): write "
                "OSGB36, or give latitude and longitude for WGS84.",
            )
            return None
    elif datum and datum not in WGS84_DATUMS:
        bad(
            "datum",
            f"{datum_raw!r} does not go with latitude and longitude: write WGS84, or give easting and "
            "northing for OSGB36.",
        )
        return None
    if len(values) != 2:
        return None
    if has_grid:
        lat, lon = grid_to_wgs84(np.array([values[0]]), np.array([values[1]]))
        grid = (values[0], values[1])
        return _Place(round(float(lat[0]), 7), round(float(lon[0]), 7), *grid, grid, datum or "OSGB36")
    e, n = wgs84_to_grid(np.array([values[0]]), np.array([values[1]]))
    return _Place(values[0], values[1], float(e[0]), float(n[0]), None, datum or "WGS84")
