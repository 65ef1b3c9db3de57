"""What the crime pages show: a batch a page at a time, the near positions counted as the table lists
them, why each position is near, force names as forces write them, times with GMT or BST."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from openem.crime.models import CrimeBatch, Finding, ReviewState
from openem.crime.worker import CrimeWorker
from tests.helpers import client_for

from .portal_helpers import csv_of, near_crime, store_trail

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
