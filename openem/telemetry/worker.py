"""The engine worker: new stored readings in, stored violations amended.

Each cycle claims the cursor with a conditional UPDATE (so several workers never process the same
readings), re-evaluates every device that has new readings over the recent readings it holds for it
(48 hours, or back to the start of any violation that could still change), and makes the stored
violations of those devices equal to what the engine says: new ones added, changed ones updated,
ones later readings disproved marked retracted. On the scale-out path (NATS) a partition worker does
the same for the devices announced to it. Because the engine is a function of the stored readings, a
worker killed at any point and restarted loses nothing and duplicates nothing.
"""

from __future__ import annotations

import gc
import logging
import os
import re
import socket
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import pairwise
from typing import Any

from django.db import connection
from django.db.models import Max, Q
from django.utils import timezone

from openem.alerts.models import DeviceSummary, Violation
from openem.cases.casefile_io import export_people
from openem.cases.models import Person
from openem.devices.models import Fitting
from openem.engine import casefile
from openem.engine.casefile import PersonSpec
from openem.engine.engine import Engine, Failure
from openem.engine.model import Model, Params, compile_cases
from openem.engine.violations import Violation as EngineViolation
from openem.engine.violations import ViolationType
from openem.health.faults import raise_fault, resolve_fault, resolve_others
from openem.health.models import Component, Fault, FaultKind
from openem.health.running import Beat, StopFlag, is_transient, keep_going

from . import changes, deadlines
from .bus import partition as shard_of
from .cache import (
    DeviceCache,
    Row,
    fetch_rows,
    fetch_upto,
    placeholders,
)
from .cursor import LEASE, CursorLease, LeaseLost
from .models import EngineCursor, Reading
from .reconcile import reconcile

log = logging.getLogger(__name__)

CURSOR = "engine"
DEADLINE_CHECK_EVERY_S = 15.0
NOT_FITTED_CHECK_EVERY_S = 300.0  # a tag not fitted has hours of grace (Params.not_fitted_grace_s)
CASE_CHECK_S = 0.1  # case changes are looked for at most this often (a change is applied within a cycle or so)


BUSY_READINGS = 5_000  # a cycle with this many new readings means the worker is under heavy load
BUSY_CYCLE_S = 0.5  # under heavy load, a cycle at most this often
GAP_WAIT_S = 30.0  # how long skipped ids are watched for a late commit (transactions are far shorter)
MAX_GAPS = 2_000
SETTLE_AFTER_LOADING = 1000  # devices loaded from storage in one cycle after which what is held is frozen
SETTLE_AFTER_RECOMPILING = 10_000  # people recompiled after which the frozen caseload is collected again


@dataclass
class CycleResult:
    readings: int = 0
    devices: int = 0
    opened: int = 0
    changed: int = 0
    retracted: int = 0
    failed: int = 0  # devices (or people) whose evaluation failed and was left out


class EngineWorker:
    """``shard``/``shards``: on the default path (no bus) N workers split the devices between them, each
    with a cursor of its own, so evaluation uses N cores; shard 0 also checks tags never fitted."""

    def __init__(
        self,
        name: str | None = None,
        batch: int = 50_000,
        params: Params | None = None,
        shard: int = 0,
        shards: int = 1,
    ) -> None:
        if not 0 <= shard < shards:
            raise ValueError(f"shard {shard} is not one of 0 to {shards - 1}")
        self.name = name or f"{socket.gethostname()}:{os.getpid()}"
        self.batch = batch
        self.shard, self.shards = shard, shards
        self.cursor_name = CURSOR if shards == 1 else f"{CURSOR}-{shard}/{shards}"
        self.lease = CursorLease(self.cursor_name, self.name)
        self._holding, self._renewed = False, 0.0
        self.params = params or Params()
        self._model: Model | None = None
        self._change_id = 0  # the last case change applied to the model
        self._recheck: set[str] = set()  # devices whose wearer's case changed: evaluated again
        self._checked = 0.0
        self._checked_deadlines = float("-inf")
        self._checked_not_fitted = float("-inf")
        self._cache = DeviceCache(self._kind, self._renew)
        self._mine: dict[str, bool] = {}  # device -> in this worker's shard (asked of every reading)
        self._left_out: dict[str, str] = {}  # device -> person whose case could not be compiled
        self._gaps: list[list[float]] = []  # [first id, last id, first seen]: ids skipped, maybe committing
        self._failing: set[str] | None = None  # devices with an open "evaluation failed" alert
        self._seen_silent: dict[str, datetime] = {}
        self._summarised: dict[
            str, tuple[str, dict[str, object]]
        ] = {}  # device -> the summary last written  # silent devices being evaluated -> their last reading
        self.stop = StopFlag(install=False)
        # A worker process (not a test or a bench probe) freezes what it holds for good: see _settle.
        self.settle_memory = False
        self._recompiled = 0  # people recompiled since the caseload was last collected and frozen
        if shards == 1:
            self.beat = Beat("engine", Component.ENGINE)
        else:
            self.beat = Beat(f"engine shard {shard + 1} of {shards}", Component.ENGINE)

    def model(self) -> Model:
        """The caseload as the engine needs it: compiled whole once, then only the people whose records
        changed (``changes``: an order made or varied, a condition, a fitting, the person), whose devices
        are then evaluated again with it. Checked every cycle, at most every CASE_CHECK_S (one indexed query)."""
        if self._model is not None and time.monotonic() - self._checked < CASE_CHECK_S:
            return self._model  # checked moments ago (several calls in one cycle)
        self._checked = time.monotonic()
        if self._model is None:
            self._change_id = changes.latest()  # before compiling: a change made meanwhile is applied next
            self._model = self._compile()
            self._settle()
            return self._model
        people, deleted, last = changes.since(self._change_id)
        if people:
            self._recompile(people, deleted)
            self._change_id = last
        return self._model

    def _settle(self) -> None:
        """The compiled caseload (about 900,000 objects at 50,000 people) and the devices' held readings live
        as long as the process; left to the garbage collector, each full collection walked all of them, a
        pause of about a second in the middle of a cycle, whenever it fell due (the worst reading-to-violation
        times). Collected once here, then frozen: later full collections walk only what came after."""
        if self.settle_memory:
            gc.collect()
            gc.freeze()

    def _resettle(self) -> None:
        """The people recompiled replace frozen objects, which refer to one another (an order and its
        conditions): frozen, the cycles they leave are never collected. After many, the frozen objects are
        collected again (one full collection, a second's pause at 50,000 people, every few thousand case
        changes) and frozen afresh."""
        if self.settle_memory and self._recompiled >= SETTLE_AFTER_RECOMPILING:
            self._recompiled = 0
            gc.unfreeze()
            self._settle()

    def cases_changed(self) -> None:
        """Look at the case records again on the next call."""
        self._checked = float("-inf")

    def _compile(self, only: set[int] | None = None) -> Model:
        """Cases as the engine needs them: everyone's, or ``only`` these people's (the caller merges them in).
        One person's records that cannot be compiled leave that person out (an operational alert says who,
        and their stored violations are left as they are), never everyone; fitting records that put a device
        on two people at once are read as the device handed on when the later fitting began."""
        left_out: dict[str, str] = {}  # person ref -> why
        unexported: dict[str, list[str]] = {}  # person ref -> their devices

        def not_exported(person: Person, exc: Exception) -> None:
            left_out[person.ref] = f"{type(exc).__name__}: {exc}"
            unexported[person.ref] = list(person.fittings.values_list("device__ref", flat=True))
            log.error("the case of %s could not be exported", person.ref, exc_info=exc)

        people = Person.objects.all() if only is None else Person.objects.filter(pk__in=only)
        data = export_people(people, on_error=not_exported)
        overlaps = _hand_on(data["people"])
        for device, text in overlaps.items():
            raise_fault(FaultKind.FITTINGS_OVERLAP, device, text, component=Component.ENGINE, device=device)
        if only is None:
            resolve_others(FaultKind.FITTINGS_OVERLAP, Component.ENGINE, set(overlaps))
        else:
            worn = {d["id"] for p in data["people"] for d in p.get("devices", [])}
            for device in worn - set(overlaps):
                resolve_fault(FaultKind.FITTINGS_OVERLAP, device)
        cf, errors = casefile.read(data, trusted=True)
        failed: dict[int, list[str]] = {}
        for text in errors:
            m = re.match(r"people\[(\d+)\]", text)
            failed.setdefault(int(m.group(1)) if m else -1, []).append(text)
        if -1 in failed:  # not one person's problem: keep evaluating with the cases as they were
            raise_fault(
                FaultKind.CASE_NOT_COMPILED, "all", "The case records could not be read: changes to cases since "
                "are not being evaluated", component=Component.ENGINE, detail="\n".join(failed[-1]),
            )  # fmt: skip
            if self._model is not None:
                return self._model if only is None else Model({}, {})
            failed.pop(-1)
        if failed:
            keep = [p for i, p in enumerate(data["people"]) if i not in failed]
            cf = casefile.parse({**data, "people": keep}, trusted=True)
        left_out.update({data["people"][i]["id"]: "; ".join(texts) for i, texts in failed.items()})

        def uncompiled(person: PersonSpec, exc: Exception) -> None:
            left_out[person.id] = f"{type(exc).__name__}: {exc}"
            log.error("the case of %s could not be compiled", person.id, exc_info=exc)

        model = compile_cases(cf, on_error=uncompiled)
        refs = {p["id"] for p in data["people"]} | set(unexported)
        if only is None:
            self._left_out = {}
        else:
            self._left_out = {d: ref for d, ref in self._left_out.items() if ref not in refs}
        named = {p.ref: p for p in Person.objects.filter(ref__in=left_out)}
        devices_of = {p["id"]: [d["id"] for d in p.get("devices", [])] for p in data["people"]} | unexported
        for ref, why in left_out.items():
            person = named.get(ref)
            devices = devices_of.get(ref, [])
            for d in devices:
                self._left_out[d] = ref
            raise_fault(
                FaultKind.CASE_NOT_COMPILED, ref,
                f"{person.name if person else ref}'s case could not be compiled: "
                f"{', '.join(devices) or 'no device'} not evaluated until it is corrected",
                component=Component.ENGINE, detail=why, person=person,
            )  # fmt: skip
        if only is None:
            resolve_others(FaultKind.CASE_NOT_COMPILED, Component.ENGINE, set(left_out))
        else:
            for ref in refs - set(left_out):
                resolve_fault(FaultKind.CASE_NOT_COMPILED, ref)
        return model

    def _recompile(self, changed: set[int], deleted: set[str] | None = None) -> None:
        """Recompile the people changed, with everyone who has worn one of their devices (a device handed on
        is read from both wearers' records), and merge them into the model; their devices are evaluated
        again on the next cycle (a device fitted to someone new has its deadline reopened by the fitting's own
        change signal, ``changes``)."""
        assert self._model is not None
        devices = set(Fitting.objects.filter(person_id__in=changed).values_list("device__ref", flat=True))
        people = changed | set(Fitting.objects.filter(device__ref__in=devices).values_list("person_id", flat=True))
        refs = set(Person.objects.filter(pk__in=people).values_list("ref", flat=True)) | (deleted or set())
        before = {d for d, fs in self._model.fittings.items() if any(f.subject.id in refs for f in fs)}
        fresh = self._compile(people)
        gone = set(self._model.subjects) & refs
        # Removed people (deleted records) leave with their fittings; the rest are replaced whole.
        for ref in gone | set(fresh.subjects):
            self._model.subjects.pop(ref, None)
        gone_refs = gone | set(fresh.subjects)
        for device in list(self._model.fittings):
            kept = [f for f in self._model.fittings[device] if f.subject.id not in gone_refs]
            if kept:
                self._model.fittings[device] = kept
            else:
                del self._model.fittings[device]
        self._model.subjects.update(fresh.subjects)
        for device, fs in fresh.fittings.items():
            self._model.fittings[device] = sorted([*self._model.fittings.get(device, []), *fs], key=lambda f: f.fitted)
        self._model.__dict__.pop("_by_subject", None)  # the index by person is rebuilt when next asked
        touched = before | devices | set(fresh.fittings)
        self._recheck |= {d for d in touched if self.mine(d)}
        self._recompiled += len(people)
        self._resettle()

    def mine(self, device: str) -> bool:
        if self.shards == 1:
            return True
        held = self._mine.get(device)
        if held is None:
            held = self._mine[device] = shard_of(device, self.shards) == self.shard
        return held

    def claim(self) -> EngineCursor | None:
        return self.lease.claim()

    def release(self) -> None:
        self.lease.release()

    def _renew(self) -> None:
        """During a cycle, between chunks of devices: keep the lease (raises LeaseLost if it was taken)."""
        if self._holding and time.monotonic() - self._renewed > LEASE.total_seconds() / 4:
            self.lease.renew()
            self._renewed = time.monotonic()

    def checks(self, now: datetime | None = None) -> CycleResult:
        """Only the deadline and not-fitted checks: for the scale-out path, where partition workers
        evaluate new readings."""
        result = CycleResult()
        data_end = (now or timezone.now()).timestamp()
        self._not_fitted(data_end, result)
        silent = self.silent_devices(data_end, exclude=set())
        if silent:
            # This worker sees no new readings (partition workers do): load the silent devices afresh
            # and forget them after, rather than keep a cache nothing would update.
            for d in silent:
                self._cache.pop(d, None)
            upto = Reading.objects.aggregate(m=Max("id"))["m"] or 0
            self._evaluate_new([], upto, data_end, result, also=silent)
            for d in silent:
                self._cache.pop(d, None)
        elif self._seen_silent:
            self._silences_looked_at(set())
        result.devices = len(silent)
        return result

    def cycle(self, now: datetime | None = None) -> CycleResult:
        result = CycleResult()
        cursor = self.claim()
        if cursor is None:
            return result  # another worker holds the cursor
        self._holding, self._renewed = True, time.monotonic()
        try:
            return self._cycle(cursor, result, now)
        except LeaseLost:
            log.warning("%s lost the cursor %s during a cycle: stopped there", self.name, self.cursor_name)
            return result
        finally:
            self._holding = False

    def _cycle(self, cursor: EngineCursor, result: CycleResult, now: datetime | None) -> CycleResult:
        keep = None if self.shards == 1 else self.mine
        new, last, read, ids = fetch_upto("id > %s", [cursor.last_reading_id], self.batch, keep)
        if connection.vendor == "postgresql":
            # Ids are handed out before commit: a reading may commit after a later id was read. The ids
            # skipped are watched for a while and what commits in them is evaluated as new.
            late = self._in_gaps(keep)
            self._note_gaps(cursor.last_reading_id, ids)
            if late:
                new = sorted(late + new, key=lambda r: r[0])
        devices = sorted({row[1] for row in new})
        result.readings = len(new)
        data_end = (now or timezone.now()).timestamp()
        self.model()  # case changes applied first: the devices of the people changed are evaluated with them
        recheck = sorted(self._recheck - set(devices))
        self._recheck = set()
        if devices or recheck:
            # Late readings alone (nothing new above the cursor): stored up to the cursor.
            upto = last if last is not None else cursor.last_reading_id
            # A full batch means more readings are waiting (a backlog after an outage or a restart):
            # what is silent as of now may be in the next batch, so silences are left to the cycle that
            # catches up (and to the deadline checks) instead of opened and withdrawn batch by batch.
            catching_up = read >= self.batch
            self._evaluate_new(new, upto, data_end, result, also=recheck, catching_up=catching_up)
            devices = sorted({*devices, *recheck})
        if last is not None and not self.lease.advance(last):
            raise LeaseLost(f"the cursor {self.cursor_name} was taken before it could be advanced")
        silent: list[str] = []
        if data_end - self._checked_deadlines >= DEADLINE_CHECK_EVERY_S:
            # Deadlines are minutes long: looked at every DEADLINE_CHECK_EVERY_S, not every cycle.
            self._checked_deadlines = data_end
            if self.shard == 0 and data_end - self._checked_not_fitted >= NOT_FITTED_CHECK_EVERY_S:
                # Everyone's own check, a pass over the whole caseload (about a second at 50,000 people): its
                # grace is hours, so every few minutes is soon enough, and the cycles between stay short.
                self._checked_not_fitted = data_end
                self._not_fitted(data_end, result)
            silent = self.silent_devices(data_end, exclude=set(devices))
            if silent:
                # The deadline check: a device that has gone quiet sends nothing to trigger evaluation.
                upto = last if last is not None else cursor.last_reading_id
                self._evaluate_new([], upto, data_end, result, also=silent)
            elif self._seen_silent:
                self._silences_looked_at(set())
        result.devices = len(devices) + len(silent)
        return result

    def _note_gaps(self, after: int, ids: list[int]) -> None:
        """Remember the ids between ``after`` and the last id read that were not there (not yet committed,
        or used up by a duplicate that was not stored: which, only time tells)."""
        now, expected = time.monotonic(), after + 1
        for pk in ids:
            if pk > expected:
                self._gaps.append([expected, pk - 1, now])
            expected = pk + 1
        if len(self._gaps) > MAX_GAPS:  # neighbours merged: what they cover is looked at again, harmlessly
            g = sorted(self._gaps)
            self._gaps = [[a[0], b[1], min(a[2], b[2])] for a, b in zip(g[::2], g[1::2], strict=False)]
            if len(g) % 2:
                self._gaps.append(g[-1])

    def _in_gaps(self, keep: Callable[[str], bool] | None) -> list[Row]:
        """Readings committed since in the ids skipped earlier; gaps older than GAP_WAIT_S are forgotten."""
        now = time.monotonic()
        self._gaps = [g for g in self._gaps if now - g[2] <= GAP_WAIT_S]
        if not self._gaps:
            return []
        found: list[Row] = []
        seen: set[int] = set()
        for k in range(0, len(self._gaps), 100):
            ranges = self._gaps[k : k + 100]
            where = " OR ".join(["(id BETWEEN %s AND %s)"] * len(ranges))
            fetched = fetch_upto(where, [int(v) for g in ranges for v in g[:2]], None, keep)
            found += fetched.rows
            seen.update(fetched.ids)
        if seen:
            kept: list[list[float]] = []
            for lo, hi, first in self._gaps:
                start = int(lo)
                for pk in sorted(i for i in seen if lo <= i <= hi):
                    if pk > start:
                        kept.append([start, pk - 1, first])
                    start = pk + 1
                if start <= hi:
                    kept.append([start, hi, first])
            self._gaps = kept
        return found

    def silent_devices(self, now: float, exclude: set[str]) -> list[str]:
        """Fitted devices (of this worker's shard) quieter than their no-signal limit and not yet looked at:
        one indexed query on the deadline table (``deadlines``), not a scan of the stored readings."""
        # The partial index finds the few devices past their deadline; only those are looked up as fitted.
        due = {
            d: v
            for d, v in deadlines.due(datetime.fromtimestamp(now, UTC)).items()
            if self.mine(d) and d not in exclude
        }
        if not due:
            return []
        wearer = dict(
            Fitting.objects.filter(removed_at__isnull=True, device__ref__in=list(due)).values_list(
                "device__ref", "person_id"
            )
        )
        # A device not fitted now is nobody's silence: set aside until it reports or is fitted again (a new
        # fitting reopens its deadline), so removed devices are not asked about on every check.
        deadlines.mark_reported({d: t for d, (_k, t) in due.items() if d not in wearer})
        due = {d: v for d, v in due.items() if d in wearer}
        # A silence already open for the device's present wearer (one left open for an earlier wearer of a
        # re-issued device must not hide the new wearer's).
        flagged = {
            device
            for device, person in Violation.objects.filter(
                device__in=list(due), end__isnull=True, retracted=False, type__in=("no_signal", "battery_depleted")
            ).values_list("device", "person_id")
            if wearer.get(device) == person
        }
        # A device is silent only if OpenEM was listening: after the receivers (re)start, the gateways'
        # buffered readings are still on their way, and taking every device in an area for silent then
        # raised false area outages from a backlog being caught up.
        listening = listening_since()
        out = []
        for device, (kind, seen) in due.items():
            limit = self.params.no_signal_limit_s(kind or self._kind(device))
            if device in flagged:
                self._seen_silent[device] = seen  # nothing more to do until it reports again
            elif now - max(seen.timestamp(), listening) > limit:
                out.append(device)
                self._seen_silent[device] = seen
        return sorted(out)

    def _silences_looked_at(self, failed: set[str]) -> None:
        """The silences evaluated (or already open) need no look again until their devices report."""
        seen = {d: t for d, t in self._seen_silent.items() if d not in failed}
        self._seen_silent = {}
        deadlines.mark_reported(seen)

    def _evaluate_new(
        self,
        new: list[Row],
        upto: int,
        data_end: float,
        result: CycleResult,
        also: Iterable[str] = (),
        catching_up: bool = False,
    ) -> None:
        """New readings (in id order) join each device's cached
        recent readings, and only the devices touched (and ``also``) are evaluated, over the window held.
        A device not cached (first touch, a restart, a reading older than the window) is loaded from
        storage, up to reading ``upto``, from far enough back to hold every violation that could still
        change."""
        by_device: dict[str, list[Row]] = {d: [] for d in also}
        for row in new:
            by_device.setdefault(row[1], []).append(row)
        failures: list[Failure] = []
        reload = self._cache.add(by_device, failures)
        self._cache.load(reload, upto, failures)
        if len(reload) >= SETTLE_AFTER_LOADING:
            self._settle()  # a catch-up or a restart: the devices loaded stay held
        engine = Engine(self.model(), self.params)
        touched = sorted(d for d in by_device if d in self._cache)
        for device in touched:
            engine.add_frame(self._cache[device].frame)
        starts = {d: self._cache[d].since for d in touched if self._cache[d].since > float("-inf")}
        evaluated = engine.evaluate(
            data_end=_latest(engine) if catching_up else max(data_end, _latest(engine)),
            starts=starts,
            on_error=failures.append,
            people_checks=False,  # a tag not fitted is _not_fitted's, every DEADLINE_CHECK_EVERY_S
        )
        # A device whose evaluation failed (or whose wearer's case could not be compiled) keeps its stored
        # violations as they were: nothing is retracted because a rule crashed.
        failed = {f.device for f in failures if f.device} | {d for d in touched if d in self._left_out}
        self._failed(failures, [d for d in touched if d not in failed], result)
        touched = [d for d in touched if d not in failed]
        self._summaries(evaluated.info)
        found: dict[str, list[EngineViolation]] = {d: [] for d in touched}
        for v in evaluated.violations:
            if v.evidence.get("device") in found:
                found[str(v.evidence["device"])].append(v)
        for k in range(0, len(touched), 500):
            chunk = touched[k : k + 500]
            # Stored violations that ended before a device's window are settled: not reconciled.
            since = {d: self._cache[d].since for d in chunk}
            qs = Violation.objects.filter(device__in=chunk, retracted=False)
            if all(t > float("-inf") for t in since.values()):
                lo = datetime.fromtimestamp(min(since.values()), UTC)
                qs = qs.filter(Q(end__isnull=True) | Q(end__gte=lo))
            existing = [v for v in qs if v.end is None or v.end.timestamp() >= since[v.device]]
            self._renew()
            self._store_isolated(chunk, found, existing, result)
        for device in touched:
            self._cache.trim(device, found[device])
        if self._seen_silent:
            self._silences_looked_at(failed)

    def _store_isolated(
        self, chunk: list[str], found: dict[str, list[EngineViolation]], existing: list[Violation], result: CycleResult
    ) -> None:
        """Store a chunk of devices' violations in one transaction; if that fails for a reason that is not
        passing (a value the database refuses), store device by device so only the one at fault is left."""
        try:
            self._store([v for d in chunk for v in found[d]], existing, result)
            return
        except Exception as exc:
            if is_transient(exc) or len(chunk) == 1:
                raise
        for device in chunk:
            try:
                self._store(found[device], [v for v in existing if v.device == device], result)
            except Exception as exc:
                if is_transient(exc):
                    raise
                self._failed([Failure(device, "", "while storing its violations", exc)], [], result)

    def _failed(self, failures: list[Failure], succeeded: list[str], result: CycleResult) -> None:
        """Raise an operational alert for each device that failed; close those of devices now evaluated."""
        if self._failing is None:
            self._failing = set(
                Fault.objects.open().filter(kind=FaultKind.EVALUATION_FAILED.value).values_list("device", flat=True)
            )
        for f in failures:
            result.failed += 1
            device = f.device or f"person {f.person}"
            fitting = self.model().fittings.get(f.device, [])
            person = Person.objects.filter(ref=f.person or (fitting[-1].subject.id if fitting else "")).first()
            who = person.name if person else (f.person or "nobody")
            where = f.rule if f.rule.startswith("while ") else f"in the {f.rule} rule"
            log.error("evaluation of %s (%s) failed %s", device, who, where, exc_info=f.error)
            raise_fault(
                FaultKind.EVALUATION_FAILED, device,
                f"Evaluating {device} ({who}) failed {where}: its readings are stored but not evaluated",
                component=Component.ENGINE, device=f.device, person=person, rule=f.rule, exc=f.error,
            )  # fmt: skip
            self._failing.add(f.device or device)
        for device in set(succeeded) & self._failing:
            resolve_fault(FaultKind.EVALUATION_FAILED, device)
            self._failing.discard(device)

    def _kind(self, device: str) -> str:
        fittings = self.model().fittings.get(device, [])
        return fittings[0].kind.value if fittings else ""

    def _summaries(self, info: list[dict[str, object]]) -> None:
        """A device's summary (sober days) is its latest wearer's: a re-issued alcohol tag's earlier
        wearer must not overwrite, or be shown on, the new wearer's page. Written only when it changed
        (an alcohol tag is evaluated at every reading; its sober days change once a day)."""
        model = self.model()
        wanted: dict[str, tuple[str, dict[str, object]]] = {}
        for item in info:
            if item.get("info") != "sober_days":
                continue
            device = str(item["device"])
            fittings = model.fittings.get(device, [])
            if fittings and max(fittings, key=lambda f: f.fitted).subject.id != item["person"]:
                continue
            data = {k: v for k, v in item.items() if k not in ("info", "person", "device")}
            if self._summarised.get(device) != (str(item["person"]), data):
                wanted[device] = (str(item["person"]), data)
        if not wanted:
            return
        people = {p.ref: p for p in Person.objects.filter(ref__in={ref for ref, _d in wanted.values()})}
        for device, (ref, data) in wanted.items():
            person = people.get(ref)
            if person is None:
                continue
            DeviceSummary.objects.update_or_create(device=device, defaults={"person": person, "data": data})
            self._summarised[device] = (ref, data)

    def _not_fitted(self, data_end: float, result: CycleResult) -> None:
        engine = Engine(self.model(), self.params)
        failures: list[Failure] = []
        data_start = data_end - 86400
        evaluated = engine.evaluate(data_start=data_start, data_end=data_end, on_error=failures.append)
        vs = [v for v in evaluated.violations if v.type == ViolationType.NOT_FITTED]
        # People not evaluated this time (their case did not compile, their checks failed) keep theirs.
        skip = {f.person for f in failures} | set(self._left_out.values())
        # The check looks back a day: a gap put right before that is settled, not withdrawn for being unseen.
        existing = (
            Violation.objects.filter(type=ViolationType.NOT_FITTED.value, retracted=False)
            .filter(Q(end__isnull=True) | Q(end__gt=datetime.fromtimestamp(data_start, UTC)))
            .exclude(person__ref__in=skip)
        )
        self._failed(failures, [], result)
        self._store(vs, existing, result)

    def _store(self, found: list[EngineViolation], existing_qs: Iterable[Violation], result: CycleResult) -> None:
        done = reconcile(found, existing_qs)
        result.opened += done.opened
        result.changed += done.changed
        result.retracted += done.retracted

    def bus_cycle(self, consumer: Any, now: datetime | None = None) -> CycleResult:
        """One round on the scale-out path: the devices announced on this worker's partition."""
        result = CycleResult()
        devices, msgs = consumer.fetch()
        self.model()  # case changes applied first: the devices of the people changed are evaluated with them
        devices = sorted({*devices, *self._recheck})
        self._recheck = set()
        if devices:
            # Everything stored so far: the readings these messages announce are all in.
            upto = Reading.objects.aggregate(m=Max("id"))["m"] or 0
            new: list[Row] = []
            held = [d for d in devices if d in self._cache]
            for k in range(0, len(held), 500):
                chunk = held[k : k + 500]
                after = min(self._cache[d].last_id for d in chunk)
                rows = fetch_rows(f"device IN ({placeholders(chunk)}) AND id > %s AND id <= %s", [*chunk, after, upto])
                new += [r for r in rows if r[0] > self._cache[r[1]].last_id]
            # A device announced with nothing above what is held: its announced reading committed after a
            # later one the worker already holds (PostgreSQL commits out of id order). Load it afresh from
            # storage rather than miss that reading.
            fresh = {r[1] for r in new}
            for d in held:
                if d not in fresh:
                    self._cache.pop(d, None)
            new.sort(key=lambda r: r[0])
            self._evaluate_new(new, upto, (now or timezone.now()).timestamp(), result, also=devices)
        if msgs:
            consumer.ack(msgs)  # only now: a worker killed before this gets them again
        result.devices = len(devices)
        return result

    def run(self, interval_s: float = 0.2, stop_after: float | None = None) -> None:
        """Cycle until ``self.stop`` is set (SIGTERM), finishing the cycle in hand. A locked or lost
        database waits and tries again; nothing but the stop flag ends the loop."""

        def step() -> bool:
            started = time.monotonic()
            r = self.cycle()
            log.debug("cycle: %d readings, %d devices, %.3f s", r.readings, r.devices, time.monotonic() - started)
            self.beat.count(readings=r.readings, devices=r.devices, violations_opened=r.opened, failed=r.failed)
            self._report()
            if r.readings >= BUSY_READINGS:
                # Under heavy load, cycles at most this often: a tag touched costs about the same
                # whether it brings one new reading or fifty, so gathering more per cycle keeps up
                # with far more readings, for a little latency. At ordinary rates there is no wait.
                self.stop.wait(max(0.0, BUSY_CYCLE_S - (time.monotonic() - started)))
            return r.readings > 0

        try:
            keep_going(step, self.stop, interval_s, self.beat.name, stop_after)
        finally:
            self.release()
            self.beat.stopped()

    def _report(self) -> None:
        """The heartbeat: how far behind the readings this worker's cursor is (cheap: two indexed reads)."""
        if not self.beat.due():
            return
        cursor = EngineCursor.objects.filter(name=self.cursor_name).values_list("last_reading_id", flat=True).first()
        newest = Reading.objects.aggregate(m=Max("id"))["m"] or 0
        waiting = Reading.objects.filter(id__gt=cursor or 0).order_by("id").values_list("received", flat=True)[:1]
        lag = (timezone.now() - waiting[0]).total_seconds() if waiting else 0.0
        self.beat(lag_s=max(0.0, lag), backlog=max(0, newest - (cursor or 0)))


def listening_since() -> float:
    """Since when device data could have arrived without a break: the latest start of a receiver that is
    running now (the ingest receiver, the MQTT subscriber), from their heartbeats; without any (tests,
    the portal's own endpoint) there is nothing to wait for."""
    from openem.health.models import Heartbeat

    now = timezone.now()
    live = [
        b.started_at.timestamp()
        for b in Heartbeat.objects.filter(component__in=(Component.INGEST.value, Component.MQTT.value), stopped=False)
        if not b.is_down(now)
    ]
    return max(live, default=float("-inf"))


def _latest(engine: Engine) -> float:
    frames = engine.frames().values()
    return max((float(f.t[-1]) for f in frames if len(f.t)), default=0.0)


def _hand_on(people: list[dict[str, Any]]) -> dict[str, str]:
    """Fitting records (in an export's people) that put a device on two people at once - a removal
    recorded late, or not at all, before the device was fitted to someone else - are read as the device
    handed on when the later fitting began, so each wearer is evaluated in their own period. Returns,
    per device, what was read differently from the records (for an operational alert)."""

    def when(text: str | None) -> datetime | None:
        return datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None

    by_device: dict[str, list[tuple[datetime, str, dict[str, Any]]]] = {}
    for p in people:
        for d in p.get("devices", []):
            fitted = when(d.get("fitted"))
            if fitted is not None:
                by_device.setdefault(d["id"], []).append((fitted, p.get("name") or p["id"], d))
    out: dict[str, str] = {}
    for device, fittings in by_device.items():
        fittings.sort(key=lambda f: f[0])
        for (_fitted, who, before), (next_fitted, next_who, _after) in pairwise(fittings):
            removed = when(before.get("removed"))
            if removed is None or removed > next_fitted:
                until = f"until {removed:%d %b %H:%M}" if removed else "with no removal"
                out[device] = (
                    f"{device} is recorded as fitted to {who} ({until}) and to {next_who} from "
                    f"{next_fitted:%d %b %H:%M}: evaluated as handed on then; correct the fitting records"
                )
                before["removed"] = next_fitted.isoformat().replace("+00:00", "Z")
    return out
