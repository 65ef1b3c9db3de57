"""What the crime pages show: a batch a page at a time, the near positions counted as the table lists
them, why each position is near, force names as forces write them, times with GMT or BST."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from openem.crime.models import CrimeBatch, Finding, ReviewState
from openem.crime.worker import CrimeWorker
from tests.helpers import client_for

from .portal_helpers import T0, csv_of, near_crime, row, store_trail

pytestmark = pytest.mark.django_db
BASIS = {"lawful_basis": "investigation", "purpose": "Operation Larch: dwelling burglaries in Oakham"}


def upload(client: Client, data: bytes, name: str = "batch.csv") -> object:
    return client.post(reverse("crime:batches"), {"file": SimpleUploadedFile(name, data, "text/csv"), **BASIS})


def batch_of(n: int, batch_id: str) -> bytes:
    """``n`` crimes along Sam's path (08:00 to 11:00), each a match."""
    rows = []
    for k in range(n):
        r = near_crime(f"{batch_id}/{k:04d}", minute=5 + (170 * k) // max(n, 1))
        r["batchId"] = batch_id
        rows.append(r)
    return csv_of(rows)


# --------------------------------------------------------------------------------------------- the batch page


def test_a_big_batch_comes_a_page_at_a_time_for_as_many_queries_as_a_small_one(personas, case):
    store_trail()
    police, hub = client_for(personas["police"]), client_for(personas["hub"])
    upload(police, batch_of(2, "SMALL"))
    upload(police, batch_of(120, "BIG"))
    CrimeWorker("test").run_once()
    Finding.objects.matches().update(review=ReviewState.RELEASED)  # police see them too
    small, big = CrimeBatch.objects.get(batch_ref="SMALL"), CrimeBatch.objects.get(batch_ref="BIG")
    assert big.crimes.count() == 120 and Finding.objects.filter(crime__batch=big).matches().count() == 120

    def queries(client: Client, b: CrimeBatch, query: str = "") -> tuple[int, str]:
        with CaptureQueriesContext(connection) as q:
            response = client.get(reverse("crime:batch", args=[b.pk]) + query)
        assert response.status_code == 200
        return len(q), response.content.decode()

    for who, client in (("police", police), ("hub", hub)):
        n_small, _ = queries(client, small)
        n_big, page = queries(client, big)
        assert n_big == n_small, who
        assert page.count('href="/batches/crimes/') == 50, who  # one page of crimes
        assert "Showing 1 to 50 of 120 crimes" in page and 'class="govuk-pagination' in page, who
        assert "BIG/0000" in page and "BIG/0050" not in page, who
        n_last, last = queries(client, big, "?page=3")
        assert n_last == n_small, who
        assert "Showing 101 to 120 of 120 crimes" in last and "BIG/0119" in last and "BIG/0099" not in last, who
    # The hub's counts and the analyst's released matches are the crime's own on every page.
    assert "1 / 0 / 0" in queries(hub, big, "?page=2")[1]
    assert "Sam Example" in queries(police, big, "?page=2")[1]


def test_a_batch_with_many_rows_to_put_right_lists_them_a_page_at_a_time(personas, case):
    rows = [near_crime(f"LP/{k}/26") for k in range(60)]
    for r in rows[1:]:
        r["crimeTypeId"] = "XX"
    police = client_for(personas["police"])
    upload(police, csv_of(rows))
    b = CrimeBatch.objects.get()
    page = police.get(reverse("crime:batch", args=[b.pk])).content.decode()
    assert "Showing 1 to 50 of 59 problems" in page and "problems_page=2#problems" in page
    second = police.get(reverse("crime:batch", args=[b.pk]) + "?problems_page=2").content.decode()
    assert "Showing 51 to 59 of 59 problems" in second and '<td class="govuk-table__cell">61</td>' in second


def test_looking_at_a_page_of_a_batch_is_audited_with_which_crimes_were_shown(personas, case):
    from openem.audit.models import AuditAction, AuditEvent

    police = client_for(personas["police"])
    upload(police, batch_of(60, "MID"))
    b = CrimeBatch.objects.get()
    police.get(reverse("crime:batch", args=[b.pk]) + "?page=2")
    event = AuditEvent.objects.filter(action=AuditAction.VIEW).latest("pk")
    assert event.summary == "crime batch MID: crimes 51 to 60 of 60, 0 findings shown"
    assert "Operation Larch" in event.reason


# --------------------------------------------------------------------------------------------- force names


@pytest.mark.parametrize(
    "written",
    [
        "Leicestershire Police",  # the name on file
        "leicestershire police",  # any case
        "  LEICESTERSHIRE   POLICE ",  # any spacing
        "Leicestershire",  # without "Police"
        "Leicestershire Constabulary",  # its name before 2012
        "Leicestershire Police Service",
        "Leicestershire-Police",
        "E23000021",  # its code on file (ONS police force area)
        "e23000021",
    ],
)
def test_a_force_may_write_its_own_name_as_forces_do(personas, case, written):
    r = near_crime()
    r["policeForce"] = written
    response = upload(client_for(personas["police"]), csv_of([r]))
    assert response.status_code == 302, written
    batch = CrimeBatch.objects.get()
    assert batch.rows_accepted == 1 and batch.force == "Leicestershire Police", written


def test_one_file_may_name_its_force_in_several_of_those_ways(personas, case):
    rows = [near_crime(f"LP/{k}/26") for k in range(3)]
    for r, written in zip(rows, ("E23000021", "Leicestershire Constabulary", "leicestershire police"), strict=True):
        r["policeForce"] = written
    upload(client_for(personas["police"]), csv_of(rows))
    assert CrimeBatch.objects.get().rows_accepted == 3


@pytest.mark.parametrize("written", ["Nottinghamshire Police", "Nottinghamshire", "E23000019", "Leicester City FC"])
def test_another_force_is_still_refused_saying_how_ours_may_be_written(personas, case, written):
    from html import escape

    r = near_crime()
    r["policeForce"] = written
    response = upload(client_for(personas["police"]), csv_of([r]))
    assert response.status_code == 200 and not CrimeBatch.objects.exists()
    page = response.content.decode()
    assert escape(f"This file is from {written} (its policeForce column)") in page
    assert escape('written "Leicestershire Police", "Leicestershire", "E23000021", in any case') in page


def test_force_names_compare_as_forces_write_them():
    from openem.crime.batches import force_key

    assert force_key("Devon & Cornwall Police") == force_key("devon and cornwall") == "devon and cornwall"
    assert force_key("Metropolitan Police Service") == force_key("The Metropolitan Police") == "metropolitan"
    assert force_key("Avon and Somerset Constabulary") == force_key("Avon & Somerset Police")
    assert force_key("Dyfed-Powys Police") == force_key("Dyfed Powys")
    assert force_key("Nottinghamshire Police") != force_key("Leicestershire Police")
    assert force_key("Police") == "police"  # nothing but the word: kept, never the empty name of every force


# --------------------------------------------------------------------------------------------- near positions

CRIME_AT = (52.6600, -0.7351)
M_PER_DEG_LAT, M_PER_DEG_LON = 111_250.0, 67_540.0  # at 52.66 N: near enough for distances with margins


def _fix(t: datetime, north_m: float, east_m: float, accuracy_m: float | None) -> str:
    import json

    fix = {"device": "GPS-0001", "time": t.isoformat().replace("+00:00", "Z"), "type": "fix",
           "lat": CRIME_AT[0] + north_m / M_PER_DEG_LAT, "lon": CRIME_AT[1] + east_m / M_PER_DEG_LON}  # fmt: skip
    if accuracy_m is not None:
        fix["accuracy_m"] = accuracy_m
    return json.dumps(fix)


@pytest.fixture
def edge_match(personas, case):
    """A crime 09:00 to 09:40 (widened by 30 minutes: 08:30 to 10:10) and a sparse trail: a fix at 08:29, 300 m
    north, joined to one at 08:33, 300 m south (the line between passes the crime at 08:31, inside the
    window, so both ends are near and the first is outside the window); 08:37 600 m south; 08:45 140 m
    east, 60 m uncertain (near by its confidence circle alone); 08:55 a kilometre east; 09:05 50 m east
    (near by its position); 09:15 two kilometres east. Fixes 8 or more minutes apart are not joined."""
    from openem.telemetry.ingest import ingest_jsonl

    lo = T0 + timedelta(minutes=30)
    ingest_jsonl("\n".join([
        _fix(lo - timedelta(minutes=1), 300, 0, 8),
        _fix(lo + timedelta(minutes=3), -300, 0, 8),
        _fix(lo + timedelta(minutes=7), -600, 0, 8),
        _fix(lo + timedelta(minutes=15), 0, 140, 60),
        _fix(lo + timedelta(minutes=25), 0, 1000, 8),
        _fix(lo + timedelta(minutes=35), 0, 50, None),
        _fix(lo + timedelta(minutes=45), 0, 2000, 8),
    ]))  # fmt: skip
    start = T0 + timedelta(minutes=60)
    upload(client_for(personas["police"]), csv_of([row("LP/7001/26", *CRIME_AT, start, start + timedelta(minutes=40))]))
    CrimeWorker("test").run_once()
    return Finding.objects.get(verdict="match")


def test_the_near_count_is_the_near_rows_of_the_table_with_a_line_end_outside_the_window_marked(personas, edge_match):
    f = edge_match
    assert f.stored.near == 4  # both ends of the line, the circle, the position
    response = client_for(personas["hub"]).get(reverse("crime:match", args=[f.pk]))
    page = response.content.decode()
    near_rows = [r for r in response.context["fixes"] if r.near]
    assert len(near_rows) == f.stored.near == 4
    assert '<span class="app-near-total">4</span>, marked in the table' in page
    assert page.count('<tr class="govuk-table__row app-near') == 4  # the four rows in bold
    assert "Positions in the window (6) and 1 just outside it" in page
    assert page.count("outside window \u2013 shows the line") == 1
    assert "1 within 100 m themselves; 1 further, their confidence circle within it; 2 at the end of a line" in page
    assert "(1 just outside the window: the line counts for its part inside)" in page
    first = response.context["fixes"][0]
    assert first.outside and first.uk == "10/11/2026 08:29:00 GMT"
    assert [r.n for r in response.context["fixes"]] == [1, 2, 3, 4, 5, 6, 7]  # numbered as in the report
    assert [r[6] for r in response.context["data"]["fixes"]] == [True] + [False] * 6  # the map marks it too
    # The look is recorded for the period shown, the position just outside the window included.
    from openem.audit.models import AuditEvent

    look = AuditEvent.objects.filter(actor=personas["hub"], person=f.person).latest("pk")
    assert look.period_start == first.t < f.window()[0] and look.period_end >= f.window()[1]


def test_the_positions_csv_says_why_each_position_is_near(personas, edge_match):
    import csv
    import io

    body = client_for(personas["hub"]).get(reverse("crime:positions-csv", args=[edge_match.pk])).content
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))
    assert list(rows[0]) == [
        "number", "time_utc", "time_uk", "lat", "lon", "accuracy_m", "speed_kmh", "direction", "distance_m", "near",
        "near_by", "confidence_radius_m", "distance_less_radius_m", "in_window",
    ]  # fmt: skip
    by_time = {r["time_uk"][11:16]: r for r in rows}
    outside, line_end, far, circle, position = (by_time[t] for t in ("08:29", "08:33", "08:37", "08:45", "09:05"))
    assert (outside["number"], outside["near"], outside["near_by"], outside["in_window"]) == (
        "1",
        "True",
        "line",
        "False",
    )
    assert (line_end["number"], line_end["near_by"], line_end["in_window"]) == ("2", "line", "True")
    assert (far["near"], far["near_by"]) == ("False", "")
    # 140 m away, 60 m uncertain: near only because its confidence circle reaches within 100 m.
    assert circle["near_by"] == "confidence circle" and circle["confidence_radius_m"] == "60.0"
    assert 135 < float(circle["distance_m"]) < 145 and 75 < float(circle["distance_less_radius_m"]) < 85
    # Accuracy not reported: the 50 m the matcher takes is given, the reported column left empty.
    assert (
        position["near_by"] == "position" and position["accuracy_m"] == "" and position["confidence_radius_m"] == "50.0"
    )
    assert circle["time_uk"] == "10/11/2026 08:45:00 GMT" and circle["time_utc"] == "2026-11-10T08:45:00+00:00"


# --------------------------------------------------------------------------------------------- times


def test_times_are_shown_in_uk_time_marked_gmt_or_bst_beside_the_utc_the_file_gave(personas, case):
    from datetime import UTC

    summer = datetime(2026, 7, 1, 22, 15, tzinfo=UTC)  # 23:15 BST
    police = client_for(personas["police"])
    upload(police, csv_of([near_crime(), row("LP/7002/26", 52.66, -0.73, summer, summer + timedelta(hours=1))]))
    b = CrimeBatch.objects.get()
    page = police.get(reverse("crime:batch", args=[b.pk])).content.decode()
    assert "Wed 1 Jul 2026 23:15 BST to Thu 2 Jul 00:15 BST" in page
    assert "Tue 10 Nov 2026 08:20 GMT to 08:40 GMT" in page
    assert "The batch file's <code>dateFrom</code> and <code>dateTo</code> are UTC" in page
    crime = b.crimes.get(reference="LP/7002/26")
    page = police.get(reverse("crime:crime", args=[crime.pk])).content.decode()
    assert "Wednesday 1 July 2026 23:15 BST" in page
    assert "sent as <code>dateFrom</code> 20260701221500, <code>dateTo</code> 20260701231500 (UTC" in page


def test_the_match_page_and_the_csvs_give_uk_times_with_their_zone(personas, edge_match):
    hub = client_for(personas["hub"])
    page = hub.get(reverse("crime:match", args=[edge_match.pk])).content.decode()
    assert "Tue 10 Nov 2026 09:00 GMT to Tue 10 Nov 2026 09:40 GMT" in page
    assert "10/11/2026 08:45:00 GMT" in page  # the table
    assert "no positions 08:37 GMT to 10:10 GMT (1 hour 33 minutes)" in page  # the gaps
    body = hub.get(reverse("crime:matches-csv", args=[edge_match.crime.batch_id])).content.decode().splitlines()
    header, first = body[0].split(","), body[1].split(",")
    assert header[3:7] == ["from", "to", "from_uk", "to_uk"] and "released_at_uk" in header
    assert first[3:7] == ["2026-11-10T09:00:00+00:00", "2026-11-10T09:40:00+00:00", "10/11/2026 09:00:00 GMT",
                          "10/11/2026 09:40:00 GMT"]  # fmt: skip
