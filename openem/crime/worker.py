"""The crime worker: claims each waiting crime batch with a conditional UPDATE (so several can run), reads
the trails of everyone with a GPS device fitted in its crimes' windows from the telemetry trail store,
runs the core matcher, and stores what it found with the parameters and code version it used.

A batch is matched crime by crime, each crime's findings (and the positions each match was made on)
committed with the batch's progress in one transaction that also renews the claim, and only while the
claim is still this worker's: the pages show "Matching: 120 of 1,000 crimes" as it goes, a worker that
stops (SIGTERM, a crash, a lapsed claim) leaves what it stored and the next takes up the crimes left, and two
workers never store the same crime. A crime that cannot be matched is marked so with the reason (and an
operational alert) while the others go on; a database outage stops the batch, to be taken up again."""

from __future__ import annotations

import logging
import math
import os
import socket
import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from django.conf import settings
from django.db import DatabaseError, transaction
from django.db.models import F
from django.utils import timezone

from openem.health.faults import raise_fault
from openem.health.models import Component, FaultKind
from openem.health.running import Beat, StopFlag, is_transient, keep_going

from .adapter import Trails, as_row, code_version, trails_for
from .evidence import StoredFixes, capture
from .matching import PackedTrails, match_batch
from .models import (
    WAITING,
    ClaimLost,
    Crime,
    CrimeBatch,
    CrimeState,
    Finding,
    FindingEvidence,
    MatchRun,
    ReviewState,
    Verdict,
)
from .records import MatchParams
from .services import tell_sender
from .settings import from_settings

log = logging.getLogger(__name__)
CLAIM = timedelta(minutes=10)  # a batch a worker died holding is taken again after this
CLUSTER_SPAN = timedelta(hours=36)  # crimes matched together read one stretch of trail


@dataclass
class CrimeCycle:
    batches: int = 0
    crimes: int = 0
    findings: int = 0
    matches: int = 0
    failed: int = 0

    def busy(self) -> bool:
        return bool(self.batches)


def widened(crime: Crime, params: MatchParams) -> tuple[datetime, datetime]:
    buffer = timedelta(minutes=params.buffer_min)
    return crime.window_start - buffer, crime.window_end + buffer


def packed_trails(trails: Trails, params: MatchParams) -> PackedTrails:
    """A cluster's trails packed once for all its crimes, with everyone fitted but without a fix in it (monitored
    all the same: not covered), as ``match_batch`` does with trails given as a mapping."""
    empty = {"t": np.empty(0), "lat": np.empty(0), "lon": np.empty(0), "acc": np.empty(0)}
    columns = {**trails.columns, **{p: empty for p in trails.monitored if p not in trails.columns}}
    return PackedTrails.of(columns, params)


def clusters(crimes: list[Crime]) -> list[list[Crime]]:
    """Crimes in start order, cut so that each group's trail read spans at most a day and a half."""
    out: list[list[Crime]] = []
    for c in sorted(crimes, key=lambda c: c.window_start):
        if out and c.window_end - out[-1][0].window_start <= CLUSTER_SPAN:
            out[-1].append(c)
        else:
            out.append([c])
    return out


class CrimeWorker:
    def __init__(self, name: str | None = None) -> None:
        self.name = name or f"{socket.gethostname()}:{os.getpid()}"
        self.stop = StopFlag(install=False)
        self.beat = Beat("crime", Component.CRIME)

    def run_once(self, now: datetime | None = None, limit: int = 20) -> CrimeCycle:
        result = CrimeCycle()
        waiting = CrimeBatch.objects.filter(status__in=[s.value for s in WAITING]).order_by("uploaded_at", "pk")
        for batch in list(waiting[:limit]):
            if self.stop:
                break
            # A name for this claim only: the same worker taking the batch again later is another claim.
            holder = f"{self.name} {uuid.uuid4().hex[:8]}"
            # The time of this claim, not of the cycle's start: a batch taken after others took ten minutes
            # would otherwise be claimed already lapsed, free for another worker while this one reads its trails.
            at = now or timezone.now()
            if not batch.claim(holder, at + CLAIM, at):
                continue  # another worker has it
            try:
                if self.match(batch, holder, result) is not None:
                    result.batches += 1
            except ClaimLost as exc:
                log.warning("crime worker: %s", exc)  # another worker took the batch over: it goes on with it
            except Exception as exc:
                if is_transient(exc):
                    batch.release(holder)
                    raise
                # Not one crime but the batch (its run records the error): tried again when the claim lapses.
                log.error("crime worker: batch %s failed", batch.pk, exc_info=exc)
                raise_fault(
                    FaultKind.CRIME_BATCH_FAILED,
                    f"crime batch {batch.pk}",
                    f"The crime worker could not match batch {batch.batch_ref or batch.pk} of {batch.force}: "
                    "it tries again in ten minutes",
                    component=Component.CRIME,
                    exc=exc,
                )
                result.failed += 1
        return result

    def params_for(self, crime: Crime, base: MatchParams) -> MatchParams:
        """An ad-hoc search uses the analyst's distance; a batch's crimes the setting's."""
        return replace(base, distance_m=crime.radius_m) if crime.radius_m else base

    def match(self, batch: CrimeBatch, holder: str, result: CrimeCycle) -> MatchRun | None:
        """Match the batch's crimes not yet matched, committing each; the run, or None when the worker was
        told to stop part way (the claim is released and the crimes left wait for the next worker)."""
        base = from_settings()
        crimes = list(batch.crimes.select_related("batch"))
        params = self.params_for(crimes[0], base) if crimes else base
        margin = timedelta(minutes=params.buffer_min + params.max_gap_min)
        # A run a worker left unfinished (it died, or its claim lapsed) says so: this one goes on from it.
        MatchRun.objects.filter(batch=batch, finished__isnull=True, error="").update(
            finished=timezone.now(), error="The worker stopped part way; a later run matched the crimes left."
        )
        run = MatchRun.objects.create(
            batch=batch,
            params=params.to_json(),
            params_version=params.version,
            code_version=code_version(),
            worker=self.name,
            started=timezone.now(),
        )
        people: set[str] = set()
        error = ""
        try:
            for group in clusters([c for c in crimes if c.state == CrimeState.WAITING]):
                if self.stop:
                    break
                try:
                    # Only the trails of those who may be named (kept by ``findings``) are read whole: anyone
                    # else's findings would be neither a match nor kept (adapter.trails_for).
                    trails = trails_for(
                        min(c.window_start for c in group) - margin,
                        max(c.window_end for c in group) + margin,
                        near=[as_row(c) for c in group],
                        params=params,
                        reach_m=settings.OPENEM_CRIME_RULED_OUT_WITHIN_M,
                    )
                except Exception as exc:
                    if is_transient(exc):
                        raise
                    for c in group:
                        self.failed(batch, holder, c, exc, result)
                    continue
                batch.renew(holder, timezone.now() + CLAIM)  # the read may have taken a while
                people |= set(trails.monitored)
                packed = packed_trails(trails, params)
                for crime in group:
                    if self.stop:
                        break
                    self.match_crime(batch, holder, run, crime, trails, packed, params, result)
        except ClaimLost:
            error = "Another worker took the batch over (this one's claim had lapsed) and matched the crimes left."
            raise
        except Exception as exc:
            error = f"Stopped part way: {type(exc).__name__}: {exc}"[:2000]
            raise
        finally:
            left = 0
            try:
                left = batch.crimes.filter(state=CrimeState.WAITING).count()
                run.people_considered = len(people)
                run.finished = timezone.now()
                run.error = error or (f"Stopped part way: {left} crimes left for the next run." if left else "")
                run.save(update_fields=["people_considered", "finished", "error"])
            except DatabaseError:  # the database went away: the next run records that this one stopped
                log.warning("crime worker: could not record the end of run %s", run.pk, exc_info=True)
        if left:  # told to stop: the next worker takes the batch up at once
            batch.release(holder)
            return None
        if not batch.mark_matched(holder, timezone.now()):
            raise ClaimLost(f"crime batch {batch.pk} is no longer held by {holder}")
        batch.refresh_from_db()
        try:
            self.after(batch, run)
        except Exception as exc:  # matched and stored all the same: only the telling failed
            if is_transient(exc):
                raise
            log.error("crime worker: batch %s matched, its sender not told", batch.pk, exc_info=exc)
            raise_fault(
                FaultKind.CRIME_BATCH_FAILED,
                f"crime batch {batch.pk} told",
                f"Batch {batch.batch_ref or batch.pk} of {batch.force} is matched, but its sender could not be told",
                component=Component.CRIME,
                exc=exc,
            )
        return run

    def match_crime(
        self,
        batch: CrimeBatch,
        holder: str,
        run: MatchRun,
        crime: Crime,
        trails: Trails,
        packed: PackedTrails,
        params: MatchParams,
        result: CrimeCycle,
    ) -> None:
        """One crime: its findings and evidence stored, the crime marked matched and the batch's progress
        counted in one transaction, only while this worker holds the batch; or the crime marked failed."""
        try:
            found = match_batch([as_row(crime)], packed, trails.homes, params, monitored=trails.monitored)
            rows, kept = self.findings(run, crime, found, trails, params)
            with transaction.atomic():
                # The claim first: a worker whose claim lapsed finds out here, stores nothing and stops.
                batch.renew(holder, timezone.now() + CLAIM, crimes_done=F("crimes_done") + 1)
                if Crime.objects.filter(pk=crime.pk, state=CrimeState.WAITING).update(state=CrimeState.MATCHED) != 1:
                    transaction.set_rollback(True)  # matched already, by a worker that held the batch before
                    return
                Finding.objects.bulk_create(rows)
                FindingEvidence.objects.bulk_create([FindingEvidence.of(f, k) for f, k in kept])
        except ClaimLost:
            raise
        except Exception as exc:
            if is_transient(exc):
                raise
            self.failed(batch, holder, crime, exc, result)
            return
        result.crimes += 1
        result.findings += len(rows)
        result.matches += len(kept)

    def findings(
        self, run: MatchRun, crime: Crime, found: list[Any], trails: Trails, params: MatchParams
    ) -> tuple[list[Finding], list[tuple[Finding, StoredFixes]]]:
        """The findings worth keeping for a crime, and for each match the positions it was made on."""
        rows: list[Finding] = []
        kept: list[tuple[Finding, StoredFixes]] = []
        within = settings.OPENEM_CRIME_RULED_OUT_WITHIN_M
        w0, w1 = (w.timestamp() for w in widened(crime, params))
        for f in found:
            match = f.verdict.value == Verdict.MATCH
            if not match and not self.relevant(f, crime, trails, within):
                continue  # ruled out hundreds of miles away: counted in the run, not kept one by one
            row = Finding(
                run=run,
                crime=crime,
                person_id=int(f.person),
                verdict=f.verdict.value,
                closest_m=f.closest_m,
                minutes_near=f.minutes_near,
                at_home=f.at_home,
                gaps=[[a.timestamp(), b.timestamp()] for a, b in f.gaps],
                review=ReviewState.PENDING.value if match else "",
            )
            rows.append(row)
            cols = trails.columns.get(f.person)
            if match and cols is not None:
                # The positions in and around the window, copied now: the evidence whatever the trail becomes.
                evidence = capture(
                    cols["t"], cols["lat"], cols["lon"], cols["acc"], trails.devices.get(f.person, []),
                    f.near_fixes, w0, w1, params.max_gap_min * 60.0, params.max_accuracy_m,
                )  # fmt: skip
                kept.append((row, evidence))
        return rows, kept

    def failed(self, batch: CrimeBatch, holder: str, crime: Crime, exc: BaseException, result: CrimeCycle) -> None:
        """The crime could not be matched: marked so with the reason, counted on the batch, the operators told;
        the batch goes on. Not tried again by itself: sending the crime again makes a version that is."""
        reason = f"{type(exc).__name__}: {exc}"[:2000]
        log.error("crime worker: crime %s of batch %s failed", crime.pk, batch.pk, exc_info=exc)
        with transaction.atomic():
            batch.renew(holder, timezone.now() + CLAIM, crimes_failed=F("crimes_failed") + 1)
            if Crime.objects.filter(pk=crime.pk, state=CrimeState.WAITING).update(
                state=CrimeState.FAILED, failure=reason
            ) != 1:  # fmt: skip
                transaction.set_rollback(True)
                return
        crime.state, crime.failure = CrimeState.FAILED.value, reason
        result.failed += 1
        raise_fault(
            FaultKind.CRIME_BATCH_FAILED,
            f"crime {crime.pk}",
            f"The crime worker could not match crime {crime.reference} of batch {batch.batch_ref or batch.pk} of "
            f"{batch.force}; the rest of the batch went on",
            component=Component.CRIME,
            exc=exc,
        )

    @staticmethod
    def relevant(f: Any, crime: Crime, trails: Any, within_m: float) -> bool:
        """Whether a person ruled out (or not covered) is worth naming for this crime: their trail came within
        ``within_m`` of it, or, with no position in the window at all, they live within it. A force asks about
        its own area; everyone monitored elsewhere in the country would be noise, and millions of rows."""
        if f.closest_m is not None:
            return bool(f.closest_m <= within_m)
        home = trails.homes.get(f.person)
        if home is None:
            return False
        from openem.engine.geometry import LocalProjection

        x, y = LocalProjection(crime.lat, crime.lon).fast_xy(np.array([home[0]]), np.array([home[1]]))
        return bool(math.hypot(float(x[0]), float(y[0])) <= within_m)

    def after(self, batch: CrimeBatch, run: MatchRun) -> None:
        """Tell the sender, without the number of possible matches (police learn of a match only once the
        hub has released it); an ad-hoc search keeps its counts, for the hub."""
        findings = Finding.objects.filter(crime__batch=batch)  # a batch taken up again has several runs
        counts = {v.value: findings.filter(verdict=v).count() for v in Verdict}
        search = getattr(batch, "search", None)  # the reverse one-to-one raises AttributeError when absent
        if search is not None:
            search.results = {**counts, "run": run.pk, "people_considered": run.people_considered}
            search.save(update_fields=["results"])
        name = batch.batch_ref or f"#{batch.pk}"
        from django.conf import settings
        from django.urls import reverse

        # Not how many people were monitored in all: beside those ruled out, it would say how many matches wait.
        body = (
            f"Batch {name} has been matched against the trails of everyone monitored by GPS in its crimes' "
            f"windows (parameters {run.params_version}). Any possible matches are with the monitoring hub for "
            f"review; you will see those it releases. {counts['not_there']} monitored person(s) were shown "
            f"not to be there."
        )
        if batch.crimes_failed:
            body += (
                f" {batch.crimes_failed} of its {batch.rows_accepted} crimes could not be matched: the monitoring "
                "hub has been told; send them again to have them matched."
            )
        body += f"\nOpen it: {settings.OPENEM_BASE_URL}{reverse('crime:batch', args=[batch.pk])}"
        tell_sender(batch, (f"OpenEM crime batch {name}: matched", body))

    def run(self, interval_s: float = 2.0, stop_after: float | None = None, **_: Any) -> None:
        def step() -> bool:
            r = self.run_once()
            self.beat.count(batches=r.batches, crimes=r.crimes, findings=r.findings, failed=r.failed)
            if self.beat.due():
                waiting = CrimeBatch.objects.filter(status__in=[s.value for s in WAITING])
                oldest = waiting.order_by("uploaded_at").values_list("uploaded_at", flat=True).first()
                lag = (timezone.now() - oldest).total_seconds() if oldest else 0.0
                self.beat(lag_s=max(0.0, lag), backlog=waiting.count())
            return r.busy()

        try:
            keep_going(step, self.stop, interval_s, "crime worker", stop_after)
        finally:
            self.beat.stopped()
