"""`openem simulate`: a case file, the telemetry its devices would send, and the truth, streamed to disk.

Timelines for everyone are planned first (small: a few segments a day); device readings are then
generated and written one day at a time, so memory does not grow with the number of days.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import random
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from .devices import DayOutput, DeviceSimulator
from .population import TOWNS, PopulationBuilder, SimPerson, case_file, iso, local_epoch
from .profiles import SimConfig
from .timeline import DayPlanner, Timeline, choose_bad_days
from .truth import behaviour_truth, violation
from .world import World

CASES, TELEMETRY, TRUTH = "cases.json", "telemetry.jsonl", "truth.jsonl"


@dataclass
class SimResult:
    people: int
    device_days: int
    readings: int
    violations: int
    seconds: float
    out: Path


_WORLD: World | None = None


def world() -> World:
    global _WORLD
    if _WORLD is None:
        _WORLD = World()
    return _WORLD


def default_start(days: int) -> date:
    return date.today() - timedelta(days=days)


def default_processes(people: int) -> int:
    """One process per core (at most four) for a caseload big enough to be worth starting them."""
    return min(os.cpu_count() or 1, 4) if people >= 50 else 1


def device_width(people: int) -> int:
    """Room for the longest device id ("GPS-0001"; more digits past 9,999 people)."""
    return 4 + max(4, len(str(people)))


@dataclass
class Day:
    """One simulated day of the whole caseload: the upload batches of every device, in files written by
    the processes that simulated them (each file's batches in arrival order), and what happened (in
    people's order)."""

    files: list[str]
    part: np.ndarray  # which file each batch is in
    start: np.ndarray  # where in its file, and how long
    length: np.ndarray
    arrival: np.ndarray  # float seconds, one per batch
    device: np.ndarray  # bytes, one per batch
    truth: list[dict[str, Any]]
    faults: list[dict[str, Any]]
    readings: int
    blind: list[tuple[str, float, float]]

    def order(self) -> np.ndarray:
        # (arrival, device) is unique within a day: the order does not depend on who simulated what.
        return np.lexsort((self.device, self.arrival))

    def runs(self) -> list[tuple[int, int, int]]:
        """The day's telemetry in arrival order as (file, start, end) ranges. Each process writes its
        batches in order and owns a block of consecutive people, and every tag of a kind uploads at the
        same instants, so a day is a few hundred runs, not one range per batch."""
        if not len(self.arrival):
            return []
        order = self.order()
        f, s = self.part[order], self.start[order]
        e = s + self.length[order]
        breaks = np.flatnonzero((s[1:] != e[:-1]) | (f[1:] != f[:-1])) + 1
        first, last = np.r_[0, breaks], np.r_[breaks - 1, len(e) - 1]
        return list(zip(f[first].tolist(), s[first].tolist(), e[last].tolist(), strict=True))

    def write(self, fh: BinaryIO) -> None:
        """Append the day's readings as JSON Lines, in the order they arrive: copied file to file by
        the kernel where it can (the bytes never pass through this process)."""
        fh.flush()
        fds = [os.open(f, os.O_RDONLY) for f in self.files]
        try:
            for k, a, b in self.runs():
                while a < b:
                    try:
                        done = os.copy_file_range(fds[k], fh.fileno(), b - a, a)
                    except OSError:
                        done = 0
                    if done <= 0:  # not supported here: through memory
                        fh.write(os.pread(fds[k], b - a, a))
                        fh.flush()
                        done = b - a
                    a += done
        finally:
            for fd in fds:
                os.close(fd)

    def batches(self) -> Iterator[tuple[float, str, bytes]]:
        """(arrival, device, lines) in the order they arrive."""
        data = [Path(f).read_bytes() for f in self.files]
        for k in self.order().tolist():
            a = int(self.start[k])
            chunk = data[int(self.part[k])][a : a + int(self.length[k])]
            yield float(self.arrival[k]), self.device[k].decode(), chunk

    def discard(self) -> None:
        for f in self.files:
            with contextlib.suppress(OSError):
                os.unlink(f)

    @classmethod
    def merge(cls, parts: list[_Part]) -> Day:
        per_person = sorted((x for part in parts for x in part.per_person), key=lambda x: x[0])
        return cls(
            files=[part.path for part in parts],
            part=np.concatenate([np.full(len(part.lengths), k) for k, part in enumerate(parts)]),
            start=np.concatenate([np.cumsum(part.lengths) - part.lengths for part in parts]),
            length=np.concatenate([part.lengths for part in parts]),
            arrival=np.concatenate([part.arrival for part in parts]),
            device=np.concatenate([part.device for part in parts]),
            truth=[v for _, truth, _ in per_person for v in truth],
            faults=[f for _, _, faults in per_person for f in faults],
            readings=sum(part.readings for part in parts),
            blind=[b for part in parts for b in part.blind],
        )


@dataclass
class _Part:
    """One process's share of a day: its batches in a file, in order, and the rest small enough to
    cross a pipe cheaply."""

    path: str
    arrival: np.ndarray
    device: np.ndarray
    lengths: np.ndarray
    per_person: list[tuple[int, list[dict[str, Any]], list[dict[str, Any]]]]  # (index, truth, faults)
    readings: int
    blind: list[tuple[str, float, float]]


class _Share:
    """The people one process owns. It finishes their orders, plans their timelines, works out what
    they really did, and then simulates their devices day by day. Each person has random streams of
    their own, so the result does not depend on how the caseload is shared between processes."""

    def __init__(self, config: SimConfig, start: date, people: list[SimPerson], indices: range, spool: str) -> None:
        self.config, self.start = config, start
        self.spool = spool
        self.people = people
        self.indices = indices
        self.timelines: dict[int, Timeline] = {}
        self.sim = DeviceSimulator(world(), config.faults, config.seed, device_width(len(people)))

    def plan(self) -> list[tuple[int, SimPerson, list[dict[str, Any]]]]:
        config = self.config
        builder = PopulationBuilder(world(), config, self.start)
        days = [self.start + timedelta(days=i) for i in range(config.days)]
        first, last = days[0], days[-1]
        t0, t1 = local_epoch(first, "00:00"), local_epoch(last, "24:00")
        out = []
        for index in self.indices:
            p = self.people[index]
            builder.finish(p)
            tl = self.timelines[index] = _plan_person(config, p, days)
            truth = behaviour_truth(tl, t0, t1, first, last)
            for kind in sorted(p.never_fitted):
                truth.append(violation(p, "not_fitted", "equipment", t0, None, None, device=p.devices[kind]))
            out.append((index, p, truth))
        return out

    def day(self, day: date, i: int, d0: float, d1: float, outages: dict[str, tuple[float, float]]) -> _Part:
        batches: list[tuple[float, str, bytes]] = []
        per_person = []
        readings = 0
        blind: list[tuple[str, float, float]] = []
        for index in self.indices:
            tl = self.timelines[index]
            out = DayOutput(batches=batches, blind=blind)
            bad_today = any(d == day for d, _ in tl.bad_days)
            self.sim.day(tl, i, d0, d1, outages.get(tl.person.area), out, bad_today)
            readings += out.readings
            if out.truth or out.faults:
                per_person.append((index, out.truth, out.faults))
        batches.sort(key=lambda b: (b[0], b[1]))
        width = device_width(len(self.people))
        path = os.path.join(self.spool, f"day{i}-from{self.indices.start}.jsonl")
        with open(path, "wb") as fh:
            fh.write(b"".join([b[2] for b in batches]))
        return _Part(
            path=path,
            arrival=np.array([b[0] for b in batches], dtype=np.float64),
            device=np.array([b[1] for b in batches], dtype=f"S{width}"),
            lengths=np.array([len(b[2]) for b in batches], dtype=np.int64),
            per_person=per_person,
            readings=readings,
            blind=blind,
        )


def _plan_person(config: SimConfig, p: SimPerson, days: list[date]) -> Timeline:
    rng = random.Random(config.seed * 1_000_003 + p.index)
    bad = choose_bad_days(p, days, config, rng)
    tl = DayPlanner(world(), p, config, rng).run(days, bad)
    tl.bad_days = sorted(bad.items())
    return tl


class Simulation:
    """A caseload planned and simulated by one process per core. The processes are forked once the map
    is loaded (they start with it in memory) and keep their people from planning to the last day. With
    ``days=True`` they are given every day as soon as planning is done, so they simulate while this
    process writes the case file, and the next day while it writes the last."""

    def __init__(self, config: SimConfig, start: date, processes: int | None = None, days: bool = True) -> None:
        self.config, self.start = config, start
        sketched = PopulationBuilder(world(), config, start).sketch()
        n = processes if processes is not None else default_processes(len(sketched))
        self.n = max(1, min(n, len(sketched)))
        self._local: _Share | None = None
        self._conns: list[Any] = []
        self._procs: list[Any] = []
        self._spool = tempfile.mkdtemp(prefix="openem-sim-")
        if self.n == 1:
            self._local = _Share(config, start, sketched, range(len(sketched)), self._spool)
            planned = self._local.plan()
        else:
            ctx = multiprocessing.get_context("fork")
            for k in range(self.n):
                parent, child = ctx.Pipe()
                # Blocks of consecutive people: their batches, each block in order, interleave in long runs.
                share = range(k * len(sketched) // self.n, (k + 1) * len(sketched) // self.n)
                args = (child, config, start, sketched, share, self._spool)
                proc = ctx.Process(target=_worker, args=args, daemon=True)
                proc.start()
                child.close()
                self._conns.append(parent)
                self._procs.append(proc)
            planned = [x for conn in self._conns for x in _receive(conn)]
        planned.sort(key=lambda x: x[0])
        self.people: list[SimPerson] = [p for _, p, _ in planned]
        # What the people really did (behaviour, and devices never fitted), in the people's order.
        self.truth: list[dict[str, Any]] = [v for _, _, truth in planned for v in truth]
        self.outages: list[dict[str, Any]] = []  # network outages, as faults
        self._jobs = self._plan_days()
        self._sent = False
        if days:
            self._send()

    def _plan_days(self) -> list[tuple[date, int, float, float, dict[str, tuple[float, float]]]]:
        rng = np.random.default_rng([self.config.seed, 7])
        jobs = []
        for i in range(self.config.days):
            day = self.start + timedelta(days=i)
            d0, d1 = local_epoch(day, "00:00"), local_epoch(day, "24:00")
            outages: dict[str, tuple[float, float]] = {}
            for area in TOWNS:
                if rng.random() < self.config.faults.network_outage_per_area_day:
                    s = d0 + rng.uniform(8, 20) * 3600
                    outages[area] = (s, s + rng.uniform(1, 3) * 3600)
                    self.outages.append(
                        {"fault": "network_outage", "area": area, "start": iso(s), "end": iso(outages[area][1])}
                    )
            jobs.append((day, i, d0, d1, outages))
        return jobs

    def _send(self) -> None:
        if not self._sent:
            for conn in self._conns:
                conn.send(self._jobs)
            self._sent = True

    def days(self) -> Iterator[tuple[date, Day]]:
        """Every device's readings, a day at a time (each day's files are removed once it is consumed)."""
        self._send()
        try:
            for job in self._jobs:
                if self._local is not None:
                    output = Day.merge([self._local.day(*job)])
                else:
                    output = Day.merge([_receive(conn) for conn in self._conns])
                yield job[0], output
                output.discard()
        finally:
            self.close()

    def close(self) -> None:
        for conn in self._conns:
            with contextlib.suppress(OSError):
                conn.close()
        for proc in self._procs:
            proc.join(timeout=0.5)
            if proc.is_alive():
                proc.terminate()
                proc.join(timeout=5)
        self._conns, self._procs = [], []
        shutil.rmtree(self._spool, ignore_errors=True)


def _receive(conn: Any) -> Any:
    reply = conn.recv()
    if isinstance(reply, BaseException):
        raise RuntimeError("a simulator process failed") from reply
    return reply


def _worker(conn: Any, config: SimConfig, start: date, people: list[SimPerson], share: range, spool: str) -> None:
    try:
        worker = _Share(config, start, people, share, spool)
        conn.send(worker.plan())
        for job in conn.recv():
            conn.send(worker.day(*job))
    except (EOFError, BrokenPipeError):
        return  # the parent stopped early (a live feed told to stop)
    except BaseException as exc:  # the parent raises it
        with contextlib.suppress(OSError):
            conn.send(exc)


def plan(config: SimConfig, start: date, processes: int | None = 1) -> list[SimPerson]:
    """Everyone, with their orders and devices, as the simulation would plan them."""
    sim = Simulation(config, start, processes, days=False)
    sim.close()
    return sim.people


def simulate(
    config: SimConfig,
    out: Path,
    practitioners: tuple[str, ...] = (),
    team: str = "",
    processes: int | None = None,
) -> SimResult:
    began = time.perf_counter()
    start = date.fromisoformat(config.start) if config.start else default_start(config.days)
    out.mkdir(parents=True, exist_ok=True)
    sim = Simulation(config, start, processes)
    people = sim.people
    (out / CASES).write_text(json.dumps(case_file(people, practitioners, team), indent=1) + "\n")
    truth = list(sim.truth)
    faults: list[dict[str, Any]] = list(sim.outages)
    readings = 0
    device_days = config.days * sum(1 for p in people for k in p.devices if k not in p.never_fitted)
    blind: dict[str, list[tuple[float, float]]] = {}
    with open(out / TELEMETRY, "wb") as fh:
        for _day, output in sim.days():
            output.write(fh)
            readings += output.readings
            truth.extend(output.truth)
            faults.extend(output.faults)
            for device, s, e in output.blind:
                blind.setdefault(device, []).append((s, e))
    _mark_unobservable(truth, people, blind)
    truth.sort(key=lambda v: (v["person"], v["start"], v["type"]))
    with open(out / TRUTH, "w") as fh:
        for v in truth:
            fh.write(json.dumps(v) + "\n")
        for f in faults:
            fh.write(json.dumps(f) + "\n")
    return SimResult(len(people), device_days, readings, len(truth), time.perf_counter() - began, out)


# Which device shows which kind of behaviour.
WATCHED_BY = {
    "curfew_absence": ("rf", "gps"),
    "exclusion_zone_entry": ("gps",),
    "inclusion_zone_exit": ("gps",),
    "attendance_missed": ("gps",),
    "alcohol_confirmed": ("alcohol",),
    "alcohol_level_exceeded": ("alcohol",),
}


def _mark_unobservable(
    truth: list[dict[str, Any]], people: list[SimPerson], blind: dict[str, list[tuple[float, float]]]
) -> None:
    """A violation that happened while its device was flat, silent or not fitted really happened, but
    no system could have seen it: say so, so that detection is measured on what could be detected."""
    by_id = {p.id: p for p in people}
    for v in truth:
        kinds = WATCHED_BY.get(v["type"])
        if not kinds or v["end"] is None:
            continue
        p = by_id[v["person"]]
        kind = next((k for k in kinds if k in p.devices), None)
        if kind is None:
            continue
        device = p.devices[kind]
        s = datetime.fromisoformat(v["start"].replace("Z", "+00:00")).timestamp()
        e = datetime.fromisoformat(v["end"].replace("Z", "+00:00")).timestamp()
        covered = kind in p.never_fitted or any(
            bs <= s + 120 and be >= e - 120 for bs, be in _merged(blind.get(device, []))
        )
        if covered:
            v["evidence"]["observable"] = False


def _merged(intervals: list[tuple[float, float]]) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []
    for s, e in sorted(intervals):
        if out and s <= out[-1][1] + 120:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out
