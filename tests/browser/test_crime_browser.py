"""Issue 18's journey in a browser: a police analyst uploads a batch, the crime worker matches it, a hub
caseworker reviews the match on the map and qualifies it, a hub manager releases it, and the analyst
downloads the proximity report and verifies it. Screenshots of every page."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest
from pypdf import PdfReader

from tests.crime.portal_helpers import csv_of, far_crime, near_crime, store_trail

from .conftest import shot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def sign_in_as(page, live_server, username):
    page.context.clear_cookies()
    page.goto(f"{live_server.url}/")
    page.fill("#id_username", username)
    page.fill("#id_password", "pw")
    page.click("button[type=submit]")


def test_upload_review_release_and_download_the_report(page, live_server, personas, case, tmp_path):
    from openem.crime.models import Finding, ProximityReport
    from openem.crime.worker import CrimeWorker

    store_trail()
    bad = {**near_crime("LP/1009/26"), "crimeTypeId": "XX"}  # not a crime type police send
    batch_file = tmp_path / "LP-2026-11-10.csv"
    batch_file.write_bytes(csv_of([near_crime(), far_crime(), bad]))

    # The analyst sends the batch: one row is refused, with its row and column.
    sign_in_as(page, live_server, "priya.police")
    page.wait_for_selector("h1:has-text('Crime batches')")
    page.set_input_files("#id_file", str(batch_file))
    page.check("input[name=lawful_basis][value=investigation]")
    page.fill("#id_purpose", "Operation Larch: dwelling burglaries in Oakham")
    shot(page, "crime-01-upload")
    page.click("button:has-text('Upload and check')")
    page.wait_for_selector("h1:has-text('Batch LP-2026-11-10')")
    main = page.inner_text("main")
    assert "2 of 3 accepted" in main and "crimeTypeId" in main
    shot(page, "crime-02-batch-partial")

    CrimeWorker("browser").run_once()

    # The hub caseworker reviews the match on the map and qualifies it.
    sign_in_as(page, live_server, "hana.caseworker")
    page.wait_for_selector("h1:has-text('Matches to review')")
    shot(page, "crime-03-queue")
    page.click("text=LP/1001/26")
    page.wait_for_selector("#match-map[data-near-fixes]")
    assert int(page.get_attribute("#match-map", "data-near-fixes")) > 0
    assert page.locator(".app-fix-number").count() > 0
    shot(page, "crime-04-review")
    page.check("input[name=decision][value=qualify]")
    page.fill("#id_reason", "The trail passes the address at 08:30, positions accurate to 8 m.")
    page.click("button:has-text('Record the decision')")
    page.wait_for_selector("text=Match qualified")
    f = Finding.objects.get(verdict="match")
    page.goto(f"{live_server.url}/batches/crimes/{f.crime_id}/")
    assert "Ruled out: monitored and not there" in page.inner_text("main")
    shot(page, "crime-05-crime-hub")

    # The hub manager authorises release.
    sign_in_as(page, live_server, "hugo.hubmanager")
    page.wait_for_selector("h1:has-text('Matches to review')")
    page.click("text=LP/1001/26")
    page.click("button:has-text('Authorise release')")
    page.wait_for_selector("text=Match released to Leicestershire Police")

    # The analyst sees the released match and downloads the report; verifying it says it is genuine.
    sign_in_as(page, live_server, "priya.police")
    page.click("text=LP-2026-11-10")
    page.wait_for_selector("text=Sam Example")
    shot(page, "crime-06-batch-released")
    page.click("main >> text=Sam Example")
    page.wait_for_selector("#match-map[data-near-fixes]")
    shot(page, "crime-07-match-police")
    with page.expect_download() as download:
        page.click("text=Proximity report (PDF)")
    pdf = Path(download.value.path()).read_bytes()
    reader = PdfReader(io.BytesIO(pdf))
    assert f"consisting of {len(reader.pages)} pages" in " ".join(
        " ".join(p.extract_text() for p in reader.pages).split()
    )
    assert ProximityReport.objects.get().sha256 == hashlib.sha256(pdf).hexdigest()
    (tmp_path / "report.pdf").write_bytes(pdf)
    page.click("nav >> text=Verify a report")
    page.set_input_files("#id_file", str(tmp_path / "report.pdf"))
    page.click("button:has-text('Check')")
    page.wait_for_selector("text=This report is genuine")
    shot(page, "crime-08-verified")
    assert not page.js_errors, page.js_errors


def test_a_report_verifies_after_retention_and_the_practitioner_sees_no_search_place(
    page, live_server, personas, case, tmp_path, settings
):
    from datetime import timedelta

    from django.test import Client
    from django.urls import reverse
    from django.utils import timezone

    from openem.crime.models import CrimeBatch, Finding
    from openem.crime.retention import enforce_crime
    from openem.crime.worker import CrimeWorker

    store_trail()
    sign_in_as(page, live_server, "priya.police")
    page.goto(f"{live_server.url}/searches/")
    page.fill("#id_place", "Home of witness Mrs J Smith")
    page.fill("#id_lat", "52.6642")
    page.fill("#id_lon", "-0.7351")
    page.fill("#id_start", "10/11/2026 08:00")
    page.fill("#id_end", "10/11/2026 10:00")
    page.check("input[name=lawful_basis][value=investigation]")
    page.fill("#id_purpose", "Operation Larch: dwelling burglaries in Oakham")
    page.click("main button[type=submit]")
    CrimeWorker("browser").run_once()
    page.goto(f"{live_server.url}/searches/")
    page.click("main table a")
    main = page.inner_text("main")
    assert "with the hub for review: 0 released to you so far" in main
    shot(page, "crime-09-search-police-withheld")
    f = Finding.objects.get(verdict="match")
    sign_in_as(page, live_server, "alex.practitioner")
    page.goto(f"{live_server.url}{reverse('portal:person', args=[f.person_id])}")
    main = page.inner_text("main")
    assert "Ad-hoc search on 10 Nov 2026" in main and "Mrs J Smith" not in main
    shot(page, "crime-10-person-search-outcome")
    f.qualify(personas["hub"], "Passed the church at 08:30")
    f.release(personas["hub_manager"])
    police = Client()
    police.force_login(personas["police"])
    (tmp_path / "report.pdf").write_bytes(police.get(reverse("crime:report", args=[f.pk])).content)
    settings.OPENEM_CRIME_RETENTION_DAYS = 30
    CrimeBatch.objects.update(uploaded_at=timezone.now() - timedelta(days=31))
    enforce_crime()
    sign_in_as(page, live_server, "priya.police")
    page.goto(f"{live_server.url}{reverse('crime:verify')}")
    page.set_input_files("#id_file", str(tmp_path / "report.pdf"))
    page.click("button:has-text('Check')")
    page.wait_for_selector("text=This report is genuine")
    assert "under the retention period" in page.inner_text("main")
    shot(page, "crime-11-verified-after-retention")
