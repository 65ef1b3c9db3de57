"""The crime worker: claims each waiting crime batch with a conditional UPDATE (so several can run), reads
the trails of everyone with a GPS device fitted in its crimes' windows from the telemetry trail store,
runs the core matcher, and stores what it found with the parameters and code version it used.

A batch that fails is recorded (the run's error, an operational alert) and tried again once its claim
lapses; the other batches go on."""

from __future__ import annotations

import logging
import math
import os
import socket
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from openem.health.faults import raise_fault
from openem.health.models import Component, FaultKind
from openem.health.running import Beat, StopFlag, is_transient, keep_going

from .adapter import as_row, code_version, trails_for
from .matching import match_batch
from .models import (
    WAITING,
    Crime,
    CrimeBatch,
    Finding,
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
        now = now or timezone.now()
        result = CrimeCycle()
        waiting = CrimeBatch.objects.filter(status__in=[s.value for s in WAITING]).order_by("uploaded_at", "pk")
        for batch in list(waiting[:limit]):
            if self.stop:
                break
            if not batch.claim(self.name, now + CLAIM, now):
                continue  # another worker has it
            try:
                self.match(batch, now, result)
                result.batches += 1
            except Exception as exc:
                if is_transient(exc):
                    CrimeBatch.objects.filter(pk=batch.pk).update(claimed_until=None)
                    raise
                log.error("crime worker: batch %s failed", batch.pk, exc_info=exc)
                MatchRun.objects.create(
                    batch=batch,
                    params={},
                    params_version="",
                    code_version=code_version(),
                    worker=self.name,
                    started=now,
                    finished=timezone.now(),
                    error=f"{type(exc).__name__}: {exc}"[:2000],
                )
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

    def match(self, batch: CrimeBatch, now: datetime, result: CrimeCycle) -> MatchRun:
        base = from_settings()
        crimes = list(batch.crimes.select_related("batch"))
        params = self.params_for(crimes[0], base) if crimes else base
        margin = timedelta(minutes=params.buffer_min + params.max_gap_min)
        with transaction.atomic():
            run = MatchRun.objects.create(
                batch=batch,
                params=params.to_json(),
                params_version=params.version,
                code_version=code_version(),
                worker=self.name,
                started=timezone.now(),
            )
            people: set[str] = set()
            within = settings.OPENEM_CRIME_RULED_OUT_WITHIN_M
            for group in clusters(crimes):
                rows_in = [as_row(c) for c in group]
                # Only the trails of those who may be named (kept below) are read: anyone else's findings
                # would be neither a match nor kept (adapter.trails_for).
                trails = trails_for(
                    min(c.window_start for c in group) - margin,
                    max(c.window_end for c in group) + margin,
                    near=rows_in,
                    params=params,
                    reach_m=within,
                )
                people |= set(trails.columns)
                by_ref = {str(c.pk): c for c in group}
                found = match_batch(rows_in, trails.columns, trails.homes, params, monitored=trails.monitored)
                rows = []
                for f in found:
                    if f.verdict.value != Verdict.MATCH and not self.relevant(f, by_ref[f.crime_ref], trails, within):
                        continue  # ruled out hundreds of miles away: counted in the run, not kept one by one
                    cols, devices = trails.columns.get(f.person), trails.devices.get(f.person, [])
                    evidence = []
                    if cols is not None:
                        for i in f.near_fixes:
                            acc = float(cols["acc"][i])
                            evidence.append(
                                [
                                    round(float(cols["t"][i]), 3),
                                    float(cols["lat"][i]),
                                    float(cols["lon"][i]),
                                    None if acc != acc else acc,
                                    devices[i] if i < len(devices) else "",
                                ]
                            )
                    match = f.verdict.value == Verdict.MATCH
                    rows.append(
                        Finding(
                            run=run,
                            crime=by_ref[f.crime_ref],
                            person_id=int(f.person),
                            verdict=f.verdict.value,
                            closest_m=f.closest_m,
                            minutes_near=f.minutes_near,
                            at_home=f.at_home,
                            evidence=evidence,
                            gaps=[[a.timestamp(), b.timestamp()] for a, b in f.gaps],
                            review=ReviewState.PENDING.value if match else "",
                        )
                    )
                    result.matches += match
                Finding.objects.bulk_create(rows)
                result.findings += len(rows)
            result.crimes += len(crimes)
            run.people_considered = len(people)
            run.finished = timezone.now()
            run.save(update_fields=["people_considered", "finished"])
            batch.mark_matched(timezone.now())
            self.after(batch, run)
        return run

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
        findings = Finding.objects.filter(run=run)
        counts = {v.value: findings.filter(verdict=v).count() for v in Verdict}
        search = getattr(batch, "search", None)  # the reverse one-to-one raises AttributeError when absent
        if search is not None:
            search.results = {**counts, "run": run.pk, "people_considered": run.people_considered}
            search.save(update_fields=["results"])
        name = batch.batch_ref or f"#{batch.pk}"
        from django.conf import settings
        from django.urls import reverse

        body = (
            f"Batch {name} has been matched against the trails of {run.people_considered} monitored people "
            f"(parameters {run.params_version}). Any possible matches are with the monitoring hub for review; "
            f"you will see those it releases. {counts['not_there']} monitored person(s) were shown "
            f"not to be there.\nOpen it: {settings.OPENEM_BASE_URL}{reverse('crime:batch', args=[batch.pk])}"
        )
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
