"""The crime matching journey in the portal: a police analyst sends a batch (portal or API), the crime
worker matches it against trails stored through the telemetry ingest, the hub reviews and releases,
police see only what was released to their force, and every step is on the record."""

from __future__ import annotations

import hashlib
import io
from datetime import timedelta
from html import escape

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader

from openem.accounts.models import ApiToken, User
from openem.alerts.models import Notification
from openem.audit.models import AuditAction, AuditEvent
from openem.crime.models import (
    AdHocSearch,
    BatchStatus,
    Crime,
    CrimeBatch,
    Finding,
    MatchRun,
    ProximityReport,
    ReviewState,
    Verdict,
)
from openem.crime.retention import enforce_crime
from openem.crime.worker import CrimeWorker
from tests.helpers import client_for

from .conftest import the_match
from .portal_helpers import BASIS, FORCE, T0, csv_of, far_crime, near_crime, row, store_trail, upload

pytestmark = pytest.mark.django_db
# --------------------------------------------------------------------------------------------- receiving


def test_a_batch_with_errors_keeps_its_valid_rows_and_says_what_is_wrong_where(personas, case):
    bad = row("LP/1003/26", 52.66, -0.73, T0, T0 + timedelta(hours=1), dateTo="2026111")
    police = client_for(personas["police"])
    response = upload(police, csv_of([near_crime(), bad]))
    batch = CrimeBatch.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("crime:batch", args=[batch.pk])
    assert batch.status == BatchStatus.PARTIAL and batch.rows_accepted == 1 and batch.rows_read == 2
    problem = batch.problems.get()
    assert (problem.row, problem.column) == (3, "dateTo")
    page = police.get(response["Location"]).content.decode()
    assert "Rows not accepted" in page and "dateTo" in page and escape(problem.message) in page
    assert batch.sha256 == hashlib.sha256(csv_of([near_crime(), bad])).hexdigest()
    # The sender is told by notification as well as on screen.
    told = Notification.objects.get(user=personas["police"])
    assert "1 of 2 rows accepted" in told.body and "Row 3, dateTo" in told.body


def test_sending_a_crime_reference_again_makes_a_new_version_saying_what_changed(personas, case):
    police = client_for(personas["police"])
    upload(police, csv_of([near_crime()]))
    moved = near_crime()
    moved["latitude"] = "52.660000"
    upload(police, csv_of([moved]))
    first, second = Crime.objects.filter(reference="LP/1001/26").order_by("version")
    assert (first.version, second.version) == (1, 2) and second.previous == first
    assert any(c.startswith("lat:") for c in second.changes), second.changes
    page = police.get(reverse("crime:crime", args=[second.pk])).content.decode()
    assert "version 2" in page and "Changed from version 1" in page


def test_a_file_from_another_force_is_refused_and_nothing_is_kept(personas, case):
    other = near_crime()
    other["policeForce"] = "Nottinghamshire Police"
    response = upload(client_for(personas["police"]), csv_of([other]))
    assert response.status_code == 200
    page = response.content.decode()
    assert "This file is from Nottinghamshire Police" in page and "Leicestershire Police" in page
    assert not CrimeBatch.objects.exists()
    assert AuditEvent.objects.filter(action=AuditAction.DENIED, summary__contains="Nottinghamshire").exists()


def test_the_api_takes_a_batch_with_a_token_and_answers_every_problem(personas, case):
    _t, token = ApiToken.issue(personas["police"], "force system")
    api = Client(HTTP_AUTHORIZATION=f"Token {token}")
    bad = row("LP/1004/26", 58.0, 4.0, T0, T0 + timedelta(hours=1))  # in the North Sea
    url = reverse("crime-api:batches") + "?lawful_basis=detection&purpose=Weekly+burglary+batch&filename=b.csv"
    response = api.post(url, csv_of([near_crime(), bad]), content_type="text/csv")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["rows_accepted"] == 1 and body["status"] == "partial"
    assert [(p["row"], p["column"]) for p in body["problems"]] and body["problems"][0]["row"] == 3
    assert body["status_url"].endswith(reverse("crime-api:batch", args=[body["batch"]]))
    status = api.get(reverse("crime-api:batch", args=[body["batch"]])).json()
    assert status["status"] == "partial" and status["released_matches"] == []
    assert CrimeBatch.objects.get().source == "api"
    # Without a lawful basis, nothing is kept.
    refused = api.post(reverse("crime-api:batches"), csv_of([near_crime()]), content_type="text/csv")
    assert refused.status_code == 400 and "lawful_basis" in refused.json()["error"]
    assert Client().post(url, csv_of([near_crime()]), content_type="text/csv").status_code == 401
    _t, hub_token = ApiToken.issue(personas["hub"], "hub")
    assert Client(HTTP_AUTHORIZATION=f"Token {hub_token}").post(url, b"x", content_type="text/csv").status_code == 403


# --------------------------------------------------------------------------------------------- matching


def test_the_worker_claims_each_batch_once_and_matches_it_on_the_stored_trail(personas, case):
    store_trail()
    upload(client_for(personas["police"]), csv_of([near_crime(), far_crime()]))
    batch = CrimeBatch.objects.get()
    # Another worker holds it: this one leaves it alone.
    now = timezone.now()
    assert batch.claim("other", now + timedelta(minutes=10), now)
    assert CrimeWorker("test").run_once().batches == 0
    CrimeBatch.objects.filter(pk=batch.pk).update(claimed_until=None)
    r = CrimeWorker("test").run_once()
    assert (r.batches, r.crimes) == (1, 2)
    batch.refresh_from_db()
    assert batch.status == BatchStatus.MATCHED and batch.claimed_until is None
    match = Finding.objects.get(crime__reference="LP/1001/26")
    assert match.verdict == Verdict.MATCH and match.review == ReviewState.PENDING and match.person == case
    assert match.closest_m is not None and match.closest_m < 10 and match.minutes_near > 0
    kept = match.stored.positions()  # the positions in and around the window copied, with their device
    assert match.stored.near > 0 and kept.devices == ["GPS-0001"] and len(kept) > match.stored.near
    ruled_out = Finding.objects.get(crime__reference="LP/1002/26")
    assert ruled_out.verdict == Verdict.NOT_THERE and ruled_out.review == ""
    run = match.run
    assert run.params_version and run.params["distance_m"] > 0 and run.code_version.startswith("openem")
    assert CrimeWorker("test").run_once().batches == 0  # nothing left


def test_people_ruled_out_far_away_are_not_listed_one_by_one(personas, case, settings):
    settings.OPENEM_CRIME_RULED_OUT_WITHIN_M = 1000  # the far crime is 3 km from Sam's path
    store_trail()
    upload(client_for(personas["police"]), csv_of([near_crime(), far_crime()]))
    CrimeWorker("test").run_once()
    assert list(Finding.objects.values_list("crime__reference", "verdict")) == [("LP/1001/26", "match")]


def kept_positions(f: Finding) -> str | None:
    """The digest of the positions kept with a match (None for a finding that keeps none)."""
    from openem.crime.models import FindingEvidence

    return FindingEvidence.objects.filter(finding=f).values_list("sha256", flat=True).first()


def test_the_worker_reads_only_the_trails_it_may_name_and_keeps_what_reading_every_trail_keeps(
    personas, case, settings, monkeypatch
):
    from openem.telemetry import trail as trail_store

    police = client_for(personas["police"])
    store_trail()
    read: list[set[str]] = []
    whole = trail_store.window
    monkeypatch.setattr(
        trail_store, "window", lambda devices, lo, hi: read.append(set(devices)) or whole(devices, lo, hi)
    )
    # Only the far crime, naming no one beyond 1 km: Sam's trail and home are 3 km from it, and not read.
    settings.OPENEM_CRIME_RULED_OUT_WITHIN_M = 1000
    upload(police, csv_of([far_crime("LP/1002/26")]))
    CrimeWorker("test").run_once()
    assert read == [set()] and not Finding.objects.exists()
    assert MatchRun.objects.get().people_considered == 1  # monitored, considered, not named
    # The near and the far crime, naming anyone within 10 km: read with the boxes, then whole (boxes that
    # cannot hold the longest line read every trail). The same findings are kept.
    settings.OPENEM_CRIME_RULED_OUT_WITHIN_M = 10_000
    kept = []
    for batch, link_s in (("LP/2", trail_store.LINK_S), ("LP/3", 0.0)):
        monkeypatch.setattr(trail_store, "LINK_S", link_s)
        upload(police, csv_of([near_crime(f"{batch}001/26"), far_crime(f"{batch}002/26")]))
        CrimeWorker("test").run_once()
        kept.append(
            [
                (f.crime.reference[5:], f.verdict, f.closest_m, f.minutes_near, f.at_home, kept_positions(f), f.gaps)
                for f in Finding.objects.filter(crime__reference__startswith=batch).order_by("crime__reference")
            ]
        )
    assert read[1:] == [{"GPS-0001"}, {"GPS-0001"}]
    assert kept[0] == kept[1] and [k[1] for k in kept[0]] == [Verdict.MATCH, Verdict.NOT_THERE]


def test_a_gap_in_the_trail_is_not_covered_and_the_hub_sees_who_was_ruled_out(personas, case):
    store_trail(skip=range(80, 100))  # no positions 09:20 to 09:40, while the far crime happened
    upload(client_for(personas["police"]), csv_of([near_crime(), far_crime()]))
    CrimeWorker("test").run_once()
    far = Finding.objects.get(crime__reference="LP/1002/26")
    assert far.verdict == Verdict.NOT_COVERED and far.gaps
    page = client_for(personas["hub"]).get(reverse("crime:crime", args=[far.crime_id])).content.decode()
    assert "Not covered: monitored, with gaps" in page and "Sam Example" in page and "no positions" in page


# --------------------------------------------------------------------------------------------- review


def test_review_then_release_and_police_see_only_released_matches_of_their_force(personas, matched):
    police, hub, manager = (client_for(personas[p]) for p in ("police", "hub", "hub_manager"))
    f = the_match()
    batch_page = reverse("crime:batch", args=[matched.pk])
    assert "Sam Example" not in police.get(batch_page).content.decode()
    assert police.get(reverse("crime:match", args=[f.pk])).status_code == 404
    assert f.pk in [x.pk for x in client_for(personas["hub"]).get(reverse("crime:queue")).context["pending"]]
    # A reason is required.
    hub.post(reverse("crime:review", args=[f.pk]), {"decision": "qualify", "reason": "  "})
    assert Finding.objects.get(pk=f.pk).review == ReviewState.PENDING
    # A manager cannot qualify; a caseworker cannot release.
    assert manager.post(reverse("crime:review", args=[f.pk]), {"decision": "qualify", "reason": "x"}).status_code == 403
    hub.post(reverse("crime:review", args=[f.pk]), {"decision": "qualify", "reason": "Walked past the house at 08:30"})
    assert hub.post(reverse("crime:release", args=[f.pk])).status_code == 403
    assert police.get(reverse("crime:match", args=[f.pk])).status_code == 404  # qualified is not released
    manager.post(reverse("crime:release", args=[f.pk]))
    f.refresh_from_db()
    assert f.review == ReviewState.RELEASED and f.released_by == personas["hub_manager"]
    page = police.get(batch_page).content.decode()
    assert "Sam Example" in page
    far = Crime.objects.get(reference="LP/1002/26")
    ruled_out = police.get(reverse("crime:crime", args=[far.pk])).content.decode()
    assert "1 monitored person within 10 km was shown not to be there" in ruled_out and "Sam Example" not in ruled_out
    assert police.get(reverse("crime:match", args=[f.pk])).status_code == 200
    # Another force's analyst sees neither the batch nor the match.
    personas["police"].police_force = "Nottinghamshire Police"
    personas["police"].save()
    assert police.get(batch_page).status_code == 404
    assert police.get(reverse("crime:match", args=[f.pk])).status_code == 404


def test_two_caseworkers_at_once_one_decides_and_the_other_is_told(personas, matched):
    f = the_match()
    twin = Finding.objects.get(pk=f.pk)
    assert f.qualify(personas["hub"], "first")
    assert not twin.reject(personas["hub"], "second")
    assert Finding.objects.get(pk=f.pk).review == ReviewState.QUALIFIED
    response = client_for(personas["hub"]).post(
        reverse("crime:review", args=[f.pk]), {"decision": "reject", "reason": "too late"}, follow=True
    )
    assert "Someone else has already reviewed this match" in response.content.decode()


def test_the_practitioner_sees_that_a_match_exists_and_its_outcome_only(personas, matched):
    f = the_match()
    page = client_for(personas["practitioner"]).get(reverse("portal:person", args=[f.person_id])).content.decode()
    assert "Police crime matches" in page and "Burglary in a dwelling" in page and "Waiting for review" in page
    assert "LP/1001/26" not in page and "Operation Larch" not in page and "rear door" not in page
    f.reject(personas["hub"], "It was his route to work")
    page = client_for(personas["practitioner"]).get(reverse("portal:person", args=[f.person_id])).content.decode()
    assert "Rejected by the hub" in page


# --------------------------------------------------------------------------------------------- evidence


@pytest.mark.slow  # the proximity report is laid out two or three times
def test_the_proximity_report_states_its_real_page_count_and_its_digest_verifies(personas, matched):
    f = the_match()
    f.qualify(personas["hub"], "Trail passes the address at 08:30 within 10 m")
    f.release(personas["hub_manager"])
    police = client_for(personas["police"])
    response = police.get(reverse("crime:report", args=[f.pk]))
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    pdf = response.content
    reader = PdfReader(io.BytesIO(pdf))
    text = " ".join(p.extract_text() for p in reader.pages)
    n = len(reader.pages)
    assert f"consisting of {n} pages" in " ".join(text.split()), text[:2000]
    assert "What a match does not prove" in text and "Exhibit HM/3" in text and "Sam Example" in text
    record = ProximityReport.objects.get()
    assert record.sha256 == hashlib.sha256(pdf).hexdigest() == response["X-Report-SHA256"] and record.pages == n
    assert record.sha256 in police.get(reverse("crime:match", args=[f.pk])).content.decode()
    genuine = police.post(reverse("crime:verify"), {"file": SimpleUploadedFile("r.pdf", pdf)}).content.decode()
    assert "This report is genuine" in genuine and "LP/1001/26" in genuine
    changed = pdf.replace(b"Sam Example", b"Sam Exampel", 1) if b"Sam Example" in pdf else pdf + b"\n"
    forged = police.post(reverse("crime:verify"), {"file": SimpleUploadedFile("r.pdf", changed)}).content.decode()
    assert "No report with this digest" in forged


def test_csv_of_matches_and_of_positions(personas, matched):
    f = the_match()
    hub = client_for(personas["hub"])
    matches = hub.get(reverse("crime:matches-csv", args=[matched.pk])).content.decode().splitlines()
    assert matches[0].startswith("crime,version,crime_type") and len(matches) == 3  # a match and a ruled-out
    positions = hub.get(reverse("crime:positions-csv", args=[f.pk])).content.decode("utf-8-sig").splitlines()
    assert positions[0].startswith("number,time_utc,time_uk,lat,lon,accuracy_m,speed_kmh,direction")
    assert any(line.endswith(",True") for line in positions[1:])
    # Police get the released matches only: none yet.
    police = client_for(personas["police"]).get(reverse("crime:matches-csv", args=[matched.pk]))
    assert len(police.content.decode().splitlines()) == 1


@pytest.mark.slow  # the proximity report is laid out two or three times
def test_every_upload_view_review_release_and_export_is_audited_with_the_lawful_basis(personas, matched):
    f = the_match()
    hub, manager = client_for(personas["hub"]), client_for(personas["hub_manager"])
    hub.get(reverse("crime:match", args=[f.pk]))
    hub.post(reverse("crime:review", args=[f.pk]), {"decision": "qualify", "reason": "Passed the house"})
    manager.post(reverse("crime:release", args=[f.pk]))
    client_for(personas["police"]).get(reverse("crime:report", args=[f.pk]))
    events = AuditEvent.objects.filter(reason__contains="Operation Larch")
    assert events.filter(action=AuditAction.IMPORT, actor=personas["police"]).exists()
    assert events.filter(action=AuditAction.VIEW, actor=personas["hub"], person=f.person, period_start__isnull=False)
    assert events.filter(action=AuditAction.CHANGE, actor=personas["hub"], summary__contains="qualified").exists()
    assert events.filter(action=AuditAction.CHANGE, actor=personas["hub_manager"], summary__contains="released")
    assert events.filter(action=AuditAction.EXPORT, actor=personas["police"], person=f.person).exists()
    assert all("Investigation of a specific offence" in e.reason for e in events)


def test_retention_deletes_crime_data_past_its_period(personas, matched, settings):
    settings.OPENEM_CRIME_RETENTION_DAYS = 30
    assert enforce_crime().batches == 0
    CrimeBatch.objects.update(uploaded_at=timezone.now() - timedelta(days=31))
    r = enforce_crime()
    assert (r.batches, r.crimes, r.findings) == (1, 2, 2)
    assert not Crime.objects.exists() and not Finding.objects.exists()
    assert AuditEvent.objects.filter(action=AuditAction.DELETE, summary__contains="1 crime batches").exists()


# --------------------------------------------------------------------------------------------- searches


def search(client: Client, **over: object) -> object:
    data = {"place": "Oakham, Church Street", "lat": "52.6642", "lon": "-0.7351", "radius_m": "100",
            "start": "10/11/2026 08:00", "end": "10/11/2026 10:00", **BASIS, **over}  # fmt: skip
    return client.post(reverse("crime:search"), data)


def test_an_ad_hoc_search_is_limited_to_a_day_and_the_force_area_and_needs_a_lawful_basis(personas, case):
    police = client_for(personas["police"])
    too_long = search(police, end="11/11/2026 09:00")
    assert too_long.status_code == 200 and "Search at most 24 hours at a time" in too_long.content.decode()
    outside = search(police, lat="51.5074", lon="-0.1278")  # London: the Metropolitan Police's
    assert escape("outside Leicestershire Police's area") in outside.content.decode()
    no_basis = search(police, lawful_basis="", purpose="")
    text = no_basis.content.decode()
    assert "Choose the lawful basis" in text and "Say what this is for" in text
    assert not AdHocSearch.objects.exists()


def test_an_ad_hoc_search_is_matched_by_the_worker_and_reviewed_like_any_match(personas, case):
    store_trail()
    police = client_for(personas["police"])
    response = search(police)
    s = AdHocSearch.objects.get()
    assert response.status_code == 302 and s.force == FORCE
    assert AuditEvent.objects.filter(action=AuditAction.SEARCH, reason__contains="Operation Larch").exists()
    CrimeWorker("test").run_once()
    s.refresh_from_db()
    assert s.results["match"] == 1
    f = the_match()
    assert f.crime.radius_m == 100 and f.run.params["distance_m"] == 100
    page = police.get(reverse("crime:search-detail", args=[s.pk]), follow=True).content.decode()
    assert "with the hub for review: 0 released to you so far" in page and "Sam Example" not in page
    assert "1 possible match" not in page


def test_the_list_pages_make_as_many_queries_for_many_batches_as_for_one(personas, matched):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    police, hub = client_for(personas["police"]), client_for(personas["hub"])

    def counts() -> list[int]:
        out = []
        for client, url in ((police, reverse("crime:batches")), (hub, reverse("crime:queue")),
                            (hub, reverse("crime:batch", args=[matched.pk]))):  # fmt: skip
            with CaptureQueriesContext(connection) as q:
                assert client.get(url).status_code == 200
            out.append(len(q))
        return out

    before = counts()
    for k in range(3):
        upload(police, csv_of([near_crime(f"LP/20{k}/26", minute=20 + k), near_crime(f"LP/21{k}/26", minute=40 + k)]))
    CrimeWorker("test").run_once()
    assert Finding.objects.matches().count() >= 7
    assert counts() == before


@pytest.mark.slow  # loads the demo's week of readings
def test_the_demo_shows_the_whole_journey(settings, tmp_path):
    """demo-setup sends a Leicestershire Police batch with a row to put right; the worker matches it; one
    match is released (the analyst sees it), one qualified, the rest wait for the hub."""
    from io import StringIO

    from django.core.management import call_command

    settings.DATA_DIR = tmp_path
    out = StringIO()
    call_command("demo_setup", "--people", "6", stdout=out)
    assert "Crime batch LP-DEMO-1 from Leicestershire Police" in out.getvalue()
    batch = CrimeBatch.objects.get(batch_ref="LP-DEMO-1")
    assert batch.status == BatchStatus.MATCHED and batch.problems.count() == 1
    assert Finding.objects.filter(review=ReviewState.RELEASED).count() == 1
    assert Finding.objects.filter(verdict=Verdict.MATCH).count() >= 2
    police = client_for(User.objects.get(username="priya.police"))
    released = Finding.objects.get(review=ReviewState.RELEASED)
    assert released.person.name in police.get(reverse("crime:batch", args=[batch.pk])).content.decode()


def test_text_from_a_batch_is_shown_as_text(personas, case):
    store_trail()
    crime = near_crime("LP/<b>9</b>/26")
    crime["crimeText"] = '<script>window.__x=1</script><img src=x onerror="alert(1)">'
    upload(client_for(personas["police"]), csv_of([crime]))
    CrimeWorker("test").run_once()
    f = the_match()
    hub = client_for(personas["hub"])
    for url in (reverse("crime:crime", args=[f.crime_id]), reverse("crime:match", args=[f.pk])):
        page = hub.get(url).content.decode()
        assert "<script>window.__x" not in page and "<img src=x" not in page and "<b>9</b>" not in page, url
    data = hub.get(reverse("crime:match", args=[f.pk])).context["data"]
    assert data["crime"]["reference"] == "LP/<b>9</b>/26"  # json_script escapes it; match.js sets it as text


def test_a_match_at_the_persons_own_curfew_address_is_marked_as_such(personas, case):
    import json

    from openem.telemetry.ingest import ingest_jsonl

    home = (52.6702, -0.7321)  # Sam Example's curfew address (tests/conftest.py)
    ingest_jsonl("\n".join(
        json.dumps({"device": "GPS-0001", "time": (T0 + timedelta(minutes=i)).isoformat().replace("+00:00", "Z"),
                    "type": "fix", "lat": home[0], "lon": home[1], "accuracy_m": 10})
        for i in range(120)
    ))  # fmt: skip
    at = T0 + timedelta(minutes=60)
    upload(
        client_for(personas["police"]),
        csv_of([row("LP/1005/26", home[0] + 0.0002, home[1], at, at + timedelta(minutes=10))]),
    )
    CrimeWorker("test").run_once()
    f = the_match()
    assert f.at_home
    page = client_for(personas["hub"]).get(reverse("crime:crime", args=[f.crime_id])).content.decode()
    assert "at their own curfew address" in page


def test_a_file_that_cannot_be_used_is_rejected_with_the_reason(personas, case):
    police = client_for(personas["police"])
    response = upload(police, b"name,age\nBob,12\n", "people.csv")
    batch = CrimeBatch.objects.get()
    assert batch.status == BatchStatus.REJECTED and batch.rows_accepted == 0 and batch.rejected_because
    page = police.get(response["Location"]).content.decode()
    assert "This file could not be used" in page and escape(batch.rejected_because) in page
    assert CrimeWorker("test").run_once().batches == 0  # nothing to match
    _t, token = ApiToken.issue(personas["police"], "force system")
    api = Client(HTTP_AUTHORIZATION=f"Token {token}")
    url = reverse("crime-api:batches") + "?lawful_basis=detection&purpose=Weekly+batch"
    answer = api.post(url, b"name,age\nBob,12\n", content_type="text/csv")
    assert answer.status_code == 422 and answer.json()["rejected_because"]
