"""A police batch read row by row: real police.uk crimes made into batches as forces send them; every
kind of problem named with its row (as the sender's spreadsheet numbers it), column and what to do; the
good rows kept; a file that cannot be used at all said so."""

from __future__ import annotations

import pytest

from openem.crime.batches import COLUMNS, parse_batch
from openem.crime.records import CrimeType

from .helpers import batch_rows, police_uk_rows, to_csv


def problems(batch):
    return [(p.row, p.column) for p in batch.problems]


def test_real_crimes_are_read_with_grid_references_converted():
    rows = batch_rows(police_uk_rows(limit=30))
    batch = parse_batch(to_csv(rows), filename="aug.csv")
    assert batch.fatal is None and batch.problems == []
    assert (batch.force, batch.batch_id) == ("Leicestershire Police", "B2021-08-01")
    assert len(batch.crimes) == 30 and [c.row for c in batch.crimes] == list(range(2, 32))
    source = police_uk_rows(limit=30)
    for crime, row in zip(batch.crimes, source, strict=True):
        # A grid reference to the metre comes back within a couple of metres of police.uk's position.
        assert crime.lat == pytest.approx(float(row["Latitude"]), abs=3e-5)
        assert crime.lon == pytest.approx(float(row["Longitude"]), abs=3e-5)
        assert crime.end > crime.start
    grid = [c for c in batch.crimes if c.easting is not None]
    assert len(grid) == 10 and all(c.datum == "OSGB36" for c in grid)
    assert {c.crime_type for c in batch.crimes} <= set(CrimeType)


def test_bom_stray_spaces_and_blank_lines_are_tolerated_and_rows_counted_as_a_spreadsheet_does():
    rows = batch_rows(police_uk_rows(limit=3), grid_every=0)
    rows[1]["crimeTypeId"] = " biad "
    rows[1]["policeForce"] = "  Leicestershire Police "
    data = b"\xef\xbb\xbf" + to_csv(rows).replace(b"\r\n", b"\r\n\r\n", 1)  # a blank line after the header
    rows[2]["dateTo"] = "bad"
    data_bad = b"\xef\xbb\xbf" + to_csv(rows).replace(b"\r\n", b"\r\n\r\n", 1)
    assert [c.row for c in parse_batch(data).crimes] == [3, 4, 5]
    assert parse_batch(data).crimes[1].crime_type == CrimeType.BIAD
    assert problems(parse_batch(data_bad)) == [(5, "dateTo")]


@pytest.mark.parametrize(
    ("change", "column", "words"),
    [
        ({"crimeTypeId": "SL"}, "crimeTypeId", "not a crime type we match: use one of RB (Robbery)"),
        ({"crimeTypeId": ""}, "crimeTypeId", "is empty"),
        ({"dateFrom": "2021-08-03 10:00"}, "dateFrom", "write yyyyMMddHHmmss in UTC"),
        ({"dateFrom": "20210231100000"}, "dateFrom", "is not a date and time"),
        ({"dateFrom": "20210803100000", "dateTo": "20210803090000"}, "dateTo", "not after dateFrom"),
        ({"dateFrom": "20210803100000", "dateTo": "20210803223000"}, "dateTo", "12.5 hours long: at most 12"),
        ({"crimeReference": ""}, "crimeReference", "is empty"),
        ({"latitude": "", "longitude": ""}, "latitude", "no location"),
        ({"longitude": ""}, "longitude", "is empty while latitude is given"),
        ({"latitude": "52.6.1"}, "latitude", "is not a number"),
        ({"latitude": "152.6"}, "latitude", "outside -90 to 90"),
        ({"easting": "452000", "northing": "305000"}, "easting", "as well as latitude and longitude"),
        ({"datum": "OSGB36"}, "datum", "does not go with latitude and longitude"),
        ({"crimeText": "x" * 4001}, "crimeText", "at most 4000"),
    ],
)
def test_each_kind_of_problem_names_row_and_column_and_the_other_rows_are_kept(change, column, words):
    rows = batch_rows(police_uk_rows(limit=6), grid_every=0)
    rows[3].update(change)
    batch = parse_batch(to_csv(rows))
    assert batch.fatal is None
    assert problems(batch) == [(5, column)]
    assert words in batch.problems[0].message
    assert [c.row for c in batch.crimes] == [2, 3, 4, 6, 7] and batch.partial


def test_a_grid_reference_with_a_wgs84_datum_is_refused():
    rows = batch_rows(police_uk_rows(limit=3), grid_every=1)
    rows[0]["datum"] = "WGS84"
    batch = parse_batch(to_csv(rows))
    assert problems(batch) == [(2, "datum")] and "does not go with easting and northing" in batch.problems[0].message


def test_a_place_outside_great_britain_is_refused_real_rows_swapped_or_abroad():
    rows = batch_rows(police_uk_rows(limit=5), grid_every=0)
    rows[0]["latitude"], rows[0]["longitude"] = rows[0]["longitude"], rows[0]["latitude"]  # swapped
    rows[1]["latitude"], rows[1]["longitude"] = "53.3498", "-6.2603"  # Dublin: inside a box round GB
    rows[2]["latitude"], rows[2]["longitude"] = "54.1523", "-4.4861"  # Douglas, Isle of Man
    batch = parse_batch(to_csv(rows))
    assert problems(batch) == [(2, "latitude"), (3, "latitude"), (4, "latitude")]
    assert "is not in Great Britain" in batch.problems[1].message
    assert [c.row for c in batch.crimes] == [5, 6]


def test_the_same_crime_reference_twice_is_refused_on_the_later_row():
    rows = batch_rows(police_uk_rows(limit=4), grid_every=0)
    rows[3]["crimeReference"] = rows[1]["crimeReference"]
    batch = parse_batch(to_csv(rows))
    assert problems(batch) == [(5, "crimeReference")]
    assert "also on row 3" in batch.problems[0].message


def test_merseyside_rows_are_read_too():
    rows = batch_rows(police_uk_rows("merseyside", limit=20), area="merseyside")
    batch = parse_batch(to_csv(rows))
    assert batch.problems == [] and len(batch.crimes) == 20 and batch.force == "Merseyside Police"


def _body(rows):
    return to_csv(rows).split(b"\r\n", 1)[1]


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda r: b"", "is empty"),
        (lambda r: b"\n\n  \n", "is empty"),
        (lambda r: to_csv([]), "has a header but no crimes"),
        (lambda r: to_csv(r, header=COLUMNS[:-1]), "missing crimeText"),
        (lambda r: b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00", "is not a CSV file"),
        (lambda r: to_csv(r).replace(b"B2021-08-01", b"B2", 1), "several batches (B2, B2021-08-01)"),
        (lambda r: to_csv(r) + _body(batch_rows(police_uk_rows("merseyside", 2), area="merseyside")), "several forces"),
    ],
)  # fmt: skip
def test_a_file_that_cannot_be_used_at_all_says_why_and_keeps_nothing(make, words):
    rows = batch_rows(police_uk_rows(limit=4))
    batch = parse_batch(make(rows), filename="batch.csv")
    assert batch.fatal is not None and words in batch.fatal, batch.fatal
    assert batch.crimes == [] and batch.problems == []
