"""A match's evidence is the positions it was made on, kept with it: the review page, the positions CSV and
the proximity report show them whatever later happens to the trail, and they go with the finding at
retention. The crime worker commits crime by crime: a crime that fails does not stop the others, progress
shows while a batch is matched, and two workers never match the same crime twice."""

from __future__ import annotations

import io
import json
import threading
import zlib
from datetime import timedelta
from typing import Any
from unittest import mock

import numpy as np
import pytest
from django.db import connection, connections
from django.db.migrations.executor import MigrationExecutor
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader

from openem.alerts.models import Notification
from openem.crime import worker as crime_worker
from openem.crime.adapter import as_row
from openem.crime.evidence import IN_WINDOW, NEAR
from openem.crime.matching import match_crime
from openem.crime.models import (
    BatchStatus,
    Crime,
    CrimeBatch,
    CrimeState,
    Finding,
    FindingEvidence,
    MatchRun,
    Verdict,
)
from openem.crime.records import MatchParams
from openem.crime.retention import enforce_crime
from openem.crime.worker import CrimeWorker
from openem.health.models import Fault, FaultKind
from openem.telemetry import trail
from tests.helpers import client_for

from .conftest import the_match
from .portal_helpers import T0, csv_of, far_crime, near_crime, store_trail, upload

pytestmark = pytest.mark.django_db


def rewrite_the_trail() -> None:
    """After the match: the window's fixes trimmed (retention, a correction) and others arriving late, 2 km off."""
    assert trail.delete("GPS-0001", T0.timestamp(), (T0 + timedelta(minutes=90)).timestamp()) == 90
    late = [
        ("GPS-0001", (T0 + timedelta(minutes=m, seconds=30)).timestamp(), 52.68, -0.70, 12.0) for m in range(20, 41)
    ]
    trail.store(late)


# --------------------------------------------------------------------------------------------- evidence


def test_the_positions_the_match_was_made_on_are_kept_with_it(matched):
    f = the_match()
    kept = f.stored.positions()
    r = kept.records
    start, end = (w.timestamp() for w in f.window())
    # The widened window (07:50 to 09:10) of a trail from 08:00 a fix a minute, and the max gap after it.
    in_window = kept.flagged(IN_WINDOW)
    assert in_window.sum() == 71 and (r["t"][in_window] >= start).all() and (r["t"][in_window] <= end).all()
    assert r["t"].max() == end + 360  # to the max gap after the window, and the fix after that
    near = kept.flagged(NEAR)
    assert f.stored.near == near.sum() > 0 and f.stored.count == len(kept)
    assert kept.device_names() == ["GPS-0001"] * len(kept) and set(r["acc"].tolist()) == {8.0}
    # Speed and heading worked out from the fix before: 22 m a minute due south.
    assert r["speed"][1] == pytest.approx(22.2 * 60 / 1000, abs=0.05) and r["heading"][1] == pytest.approx(180)
    assert np.isnan(r["speed"][0])
    assert len(bytes(f.stored.fixes)) < 39 * len(kept)  # compressed


def test_kept_positions_that_are_not_what_was_kept_are_refused_not_shown(matched):
    stored = the_match().stored
    r = stored.positions().records.copy()
    r["lat"][3] += 0.001  # moved 110 m
    stored.fixes = zlib.compress(r.tobytes())
    with pytest.raises(ValueError, match="not those the match was made on"):
        stored.positions()


def test_the_kept_positions_are_enough_to_match_again_and_say_the_same(matched):
    f = the_match()
    r = f.stored.positions().records
    columns = {"t": r["t"], "lat": r["lat"], "lon": r["lon"], "acc": r["acc"].astype(np.float64)}
    again = match_crime(as_row(f.crime), {str(f.person_id): columns}, {}, MatchParams(**f.run.params))
    assert len(again) == 1 and again[0].verdict.value == f.verdict
    assert again[0].closest_m == pytest.approx(f.closest_m) and again[0].minutes_near == pytest.approx(f.minutes_near)
    assert again[0].near_fixes == np.flatnonzero(f.stored.positions().flagged(NEAR)).tolist()


def test_the_review_page_and_positions_csv_show_the_kept_positions_after_the_trail_changes(personas, matched):
    f = the_match()
    hub = client_for(personas["hub"])
    page = hub.get(reverse("crime:match", args=[f.pk]))
    before = hub.get(reverse("crime:positions-csv", args=[f.pk])).content
    shown = page.context["data"]["fixes"]
    rewrite_the_trail()
    assert len(trail.fixes("GPS-0001", 0, 2e9)) == 180 - 90 + 21
    again = hub.get(reverse("crime:match", args=[f.pk]))
    assert again.context["data"]["fixes"] == shown and len(shown) == 71
    assert hub.get(reverse("crime:positions-csv", args=[f.pk])).content == before
    assert "52.68000" not in again.content.decode()  # a late fix is not in what the hub reviewed


def report_text(pdf: bytes) -> str:
    """The report's words from its first section on: everything but when it was made and for whom."""
    text = " ".join(" ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages).split())
    return text[text.index("1. The request") :]


@pytest.mark.slow  # the proximity report is laid out two or three times, twice
def test_a_report_made_again_after_the_trail_changes_shows_the_same_positions(personas, matched):
    f = the_match()
    f.qualify(personas["hub"], "Trail passes the address at 08:30 within 10 m")
    hub = client_for(personas["hub"])
    first = hub.get(reverse("crime:report", args=[f.pk])).content
    rewrite_the_trail()
    second = hub.get(reverse("crime:report", args=[f.pk])).content
    assert report_text(first) == report_text(second)  # all but when it was made
    text = report_text(second)
    assert f.stored.sha256 in text.replace(" ", "") and "71 positions" in text
    assert "52.680000" not in text and "08:30:00" in text
    # Made at the same moment for the same person, it is the same file, byte for byte.
    at = timezone.now()
    with mock.patch("openem.crime.report.timezone.now", return_value=at):
        third = hub.get(reverse("crime:report", args=[f.pk]))
        fourth = hub.get(reverse("crime:report", args=[f.pk]))
    assert third.content == fourth.content and third["X-Report-SHA256"] == fourth["X-Report-SHA256"]


def test_retention_deletes_the_kept_positions_with_the_findings(matched, settings):
    settings.OPENEM_CRIME_RETENTION_DAYS = 30
    assert FindingEvidence.objects.count() == 1
    CrimeBatch.objects.update(uploaded_at=timezone.now() - timedelta(days=31))
    r = enforce_crime()
    assert (r.findings, r.evidence) == (2, 1)
    assert not FindingEvidence.objects.exists() and not Finding.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_the_migration_keeps_the_near_positions_of_matches_made_before(case):
    """Matches made before the whole window was kept had only their near positions copied: those, as such."""
    executor = MigrationExecutor(connection)
    executor.migrate([("crime", "0002_issued_reports")])
    old = executor.loader.project_state([("crime", "0002_issued_reports")]).apps
    batch = old.get_model("crime", "CrimeBatch").objects.create(
        force="Leicestershire Police", lawful_basis="investigation", purpose="Operation Larch", status="matched"
    )
    at = T0 + timedelta(minutes=30)
    crime = old.get_model("crime", "Crime").objects.create(
        batch=batch, force=batch.force, reference="LP/1/26", crime_type="BIAD",
        window_start=at - timedelta(minutes=10), window_end=at + timedelta(minutes=10), lat=52.664, lon=-0.7351,
    )  # fmt: skip
    run = old.get_model("crime", "MatchRun").objects.create(
        batch=batch, params={"buffer_min": 30, "max_accuracy_m": 100}, params_version="t", code_version="t"
    )
    near = [[at.timestamp() + 60 * k, 52.664 - 0.0002 * k, -0.7351, 8.0 if k else None, "GPS-0001"] for k in range(3)]
    found = old.get_model("crime", "Finding").objects.create(
        run=run, crime=crime, person_id=case.pk, verdict="match", review="pending", evidence=near
    )
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
    kept = FindingEvidence.objects.get(finding_id=found.pk)
    assert kept.source == "near_only" and kept.count == kept.near == 3
    r = kept.positions().records
    assert r["t"].tolist() == [e[0] for e in near] and np.isnan(r["acc"][0]) and r["acc"][1] == 8.0
    assert Crime.objects.get(pk=crime.pk).state == CrimeState.MATCHED
    assert CrimeBatch.objects.get(pk=batch.pk).crimes_done == 1


# --------------------------------------------------------------------------------------------- worker


def fail_on(reference: str, monkeypatch: Any, hook: Any = None) -> None:
    """The matcher raises for the crime with this reference (and calls ``hook`` before each crime)."""
    real = crime_worker.match_batch

    def matching(rows: Any, *args: Any, **kwargs: Any) -> Any:
        crime = Crime.objects.get(pk=int(rows[0].reference))
        if hook is not None:
            hook(crime)
        if crime.reference == reference:
            raise ValueError("a location the matcher cannot use")
        return real(rows, *args, **kwargs)

    monkeypatch.setattr(crime_worker, "match_batch", matching)


def test_a_crime_that_fails_is_marked_failed_with_its_reason_and_the_others_are_matched(personas, case, monkeypatch):
    store_trail()
    upload(client_for(personas["police"]), csv_of([near_crime(), far_crime()]))
    fail_on("LP/1002/26", monkeypatch)
    r = CrimeWorker("test").run_once()
    assert (r.batches, r.crimes, r.failed) == (1, 1, 1)
    batch = CrimeBatch.objects.get()
    assert batch.status == BatchStatus.MATCHED and (batch.crimes_done, batch.crimes_failed) == (1, 1)
    assert batch.status_text == "Matched; 1 could not be matched"
    failed = Crime.objects.get(reference="LP/1002/26")
    assert failed.state == CrimeState.FAILED and "a location the matcher cannot use" in failed.failure
    assert not failed.findings.exists()
    assert Crime.objects.get(reference="LP/1001/26").findings.get().verdict == Verdict.MATCH
    fault = Fault.objects.get(kind=FaultKind.CRIME_BATCH_FAILED)
    assert "LP/1002/26" in fault.summary and "the rest of the batch went on" in fault.summary
    # The hub sees why; the force that it could not be matched; the sender is told.
    hub_page = client_for(personas["hub"]).get(reverse("crime:batch", args=[batch.pk])).content.decode()
    assert "Could not be matched" in hub_page and "a location the matcher cannot use" in hub_page
    police = client_for(personas["police"])
    page = police.get(reverse("crime:batch", args=[batch.pk])).content.decode()
    assert "Could not be matched" in page and "a location the matcher cannot use" not in page
    assert "1 could not be matched" in page
    told = Notification.objects.filter(subject__contains="matched").order_by("-pk").first()
    assert told is not None and "1 of its 2 crimes could not be matched" in told.body


def test_the_api_gives_a_batchs_progress_and_its_failed_crimes(personas, case, monkeypatch):
    from openem.accounts.models import ApiToken

    store_trail()
    upload(client_for(personas["police"]), csv_of([near_crime(), far_crime()]))
    fail_on("LP/1002/26", monkeypatch)
    CrimeWorker("test").run_once()
    token = ApiToken.issue(personas["police"], "test")[1]
    batch = CrimeBatch.objects.get()
    got = Client(HTTP_AUTHORIZATION=f"Token {token}").get(reverse("crime-api:batch", args=[batch.pk]))
    body = json.loads(got.content)
    assert body["progress"] == {"crimes": 2, "matched": 1, "failed": 1} and body["failed_crimes"] == ["LP/1002/26"]


@pytest.mark.django_db(transaction=True)
def test_progress_is_committed_and_visible_while_a_batch_is_matched(personas, case, monkeypatch):
    store_trail()
    third = near_crime("LP/1003/26", minute=120)
    upload(client_for(personas["police"]), csv_of([near_crime(), far_crime(), third]))
    seen: list[tuple[str, int, str]] = []

    def look(crime: Crime) -> None:
        if crime.reference != "LP/1003/26":
            return

        def from_elsewhere() -> None:  # another connection: the portal, the API
            try:
                b = CrimeBatch.objects.get()
                seen.append((b.status_text, Finding.objects.count(), b.progress_text))
            finally:
                connections.close_all()

        reader = threading.Thread(target=from_elsewhere)
        reader.start()
        reader.join()

    fail_on("none", monkeypatch, hook=look)
    CrimeWorker("test").run_once()
    assert seen == [("Matching: 2 of 3 crimes", 2, "2 of 3 crimes done so far")]
    assert CrimeBatch.objects.get().status == BatchStatus.MATCHED


def test_a_worker_told_to_stop_mid_batch_leaves_the_crimes_left_to_the_next(personas, case, monkeypatch):
    store_trail()
    upload(client_for(personas["police"]), csv_of([near_crime(), far_crime()]))
    first = CrimeWorker("first")
    real = CrimeWorker.match_crime

    def one_then_stop(self: CrimeWorker, *args: Any, **kwargs: Any) -> None:
        real(self, *args, **kwargs)
        self.stop.set()

    monkeypatch.setattr(CrimeWorker, "match_crime", one_then_stop)
    assert first.run_once().batches == 0
    batch = CrimeBatch.objects.get()
    assert batch.status == BatchStatus.MATCHING and batch.claimed_until is None
    assert (batch.crimes_done, Crime.objects.filter(state=CrimeState.WAITING).count()) == (1, 1)
    assert "Stopped part way: 1 crimes left" in MatchRun.objects.get().error
    monkeypatch.setattr(CrimeWorker, "match_crime", real)
    assert CrimeWorker("second").run_once().batches == 1
    batch.refresh_from_db()
    assert batch.status == BatchStatus.MATCHED and batch.crimes_done == 2
    assert Finding.objects.count() == 2 and MatchRun.objects.count() == 2


def test_two_workers_never_match_a_crime_twice(personas, case, monkeypatch):
    """The first worker's claim lapses mid-batch (a long pause); the second takes the batch over. The first
    stores nothing more, whether it gets to a crime the second has matched or one it has not."""
    store_trail()
    third = near_crime("LP/1003/26", minute=120)
    upload(client_for(personas["police"]), csv_of([near_crime(), far_crime(), third]))
    first, second = CrimeWorker("first"), CrimeWorker("second")
    later = timezone.now() + timedelta(minutes=11)  # after the first's claim has lapsed
    taken_over: list[int] = []

    def pause(crime: Crime) -> None:
        if crime.reference == "LP/1002/26" and not taken_over:
            # The first worker is about to match its second crime: meanwhile the second takes the batch over
            # and matches the crimes left, this one included.
            taken_over.append(0)
            taken_over[0] = second.run_once(now=later).batches

    fail_on("none", monkeypatch, hook=pause)
    assert first.run_once().batches == 0
    assert taken_over == [1]
    batch = CrimeBatch.objects.get()
    assert batch.status == BatchStatus.MATCHED and batch.crimes_done == 3
    per_crime = {c.reference: c.findings.count() for c in Crime.objects.all()}
    assert per_crime == {"LP/1001/26": 1, "LP/1002/26": 1, "LP/1003/26": 1}
    assert Finding.objects.values("crime", "person").distinct().count() == Finding.objects.count() == 3
    assert FindingEvidence.objects.count() == 2  # the two matches, each once
    runs = MatchRun.objects.order_by("pk")
    assert "took the batch over" in runs[0].error and runs[1].error == "" and runs[1].worker == "second"


def test_a_worker_whose_claim_was_taken_stores_nothing_for_the_crime_in_hand(personas, case, monkeypatch):
    store_trail()
    upload(client_for(personas["police"]), csv_of([near_crime(), far_crime()]))
    first = CrimeWorker("first")
    later = timezone.now() + timedelta(minutes=11)

    def taken(crime: Crime) -> None:
        if crime.reference == "LP/1002/26":  # another worker claims the batch, not yet having matched anything
            assert CrimeBatch.objects.get().claim("second 1", later + timedelta(minutes=10), later)

    fail_on("none", monkeypatch, hook=taken)
    first.run_once()
    batch = CrimeBatch.objects.get()
    assert batch.claimed_by == "second 1" and batch.crimes_done == 1
    assert Crime.objects.get(reference="LP/1002/26").state == CrimeState.WAITING
    assert not Finding.objects.filter(crime__reference="LP/1002/26").exists()
