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
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

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


def plan(config: SimConfig, start: date, processes: int | None = None) -> tuple[list[SimPerson], list[Timeline]]:
    """Everyone's timeline. Each person has a random stream of their own, so several processes plan the
    same timelines as one; the people come back from them as planned (planning fills in some of their
    details)."""
    w = world()
    people = PopulationBuilder(w, config, start).build()
    days = [start + timedelta(days=i) for i in range(config.days)]
    n = processes if processes is not None else default_processes(len(people))
    if n <= 1:
        return people, [_plan_person(config, p, days) for p in people]
    global _PLANNING
    _PLANNING = (config, people, days)
    try:
        with multiprocessing.get_context("fork").Pool(n) as pool:
            timelines = pool.map(_plan_index, range(len(people)), chunksize=max(1, len(people) // (n * 8)))
    finally:
        _PLANNING = None
    return [tl.person for tl in timelines], timelines


_PLANNING: tuple[SimConfig, list[SimPerson], list[date]] | None = None


def _plan_index(index: int) -> Timeline:
    assert _PLANNING is not None
    config, people, days = _PLANNING
    return _plan_person(config, people[index], days)


def _plan_person(config: SimConfig, p: SimPerson, days: list[date]) -> Timeline:
    rng = random.Random(config.seed * 1_000_003 + p.index)
    bad = choose_bad_days(p, days, config, rng)
    tl = DayPlanner(world(), p, config, rng).run(days, bad)
    tl.bad_days = sorted(bad.items())
    return tl


def simulated_days(
    config: SimConfig,
    start: date,
    people: list[SimPerson],
    timelines: list[Timeline],
    faults: list[dict[str, Any]] | None = None,
    processes: int | None = None,
) -> Iterator[tuple[date, DayOutput]]:
    """Every device's readings, a day at a time, sorted by arrival; network outages noted in faults.

    With several processes each simulates a fixed share of the people (every device has its own random
    stream per day and its state stays in one process), and their days are put back together in the
    people's order: the output is the same whatever the number of processes."""
    width = max([len(d) for p in people for d in p.devices.values()] + [8])
    n = processes if processes is not None else default_processes(len(timelines))
    rng = np.random.default_rng([config.seed, 7])
    pool = _DayPool(config, timelines, width, n) if n > 1 else None
    sim = DeviceSimulator(world(), config.faults, config.seed, width) if pool is None else None
    try:
        for i in range(config.days):
            day = start + timedelta(days=i)
            d0, d1 = local_epoch(day, "00:00"), local_epoch(day, "24:00")
            outages: dict[str, tuple[float, float]] = {}
            for area in TOWNS:
                if rng.random() < config.faults.network_outage_per_area_day:
                    s = d0 + rng.uniform(8, 20) * 3600
                    outages[area] = (s, s + rng.uniform(1, 3) * 3600)
                    if faults is not None:
                        faults.append(
                            {"fault": "network_outage", "area": area, "start": iso(s), "end": iso(outages[area][1])}
                        )
            if pool is not None:
                output = pool.day(day, i, d0, d1, outages)
            else:
                assert sim is not None
                output = DayOutput()
                for tl in timelines:
                    _person_day(sim, tl, day, i, d0, d1, outages, output)
            output.batches.sort(key=lambda b: (b[0], b[1]))
            yield day, output
    finally:
        if pool is not None:
            pool.close()


def default_processes(people: int) -> int:
    """One process per core (at most four) for a caseload big enough to be worth starting them."""
    return min(os.cpu_count() or 1, 4) if people >= 50 else 1


def _person_day(
    sim: DeviceSimulator,
    tl: Timeline,
    day: date,
    i: int,
    d0: float,
    d1: float,
    outages: dict[str, tuple[float, float]],
    output: DayOutput,
) -> None:
    bad_today = any(d == day for d, _ in tl.bad_days)
    sim.day(tl, i, d0, d1, outages.get(tl.person.area), output, bad_today)


class _DayPool:
    """Worker processes (forked: they start with the world and the timelines already in memory), each
    simulating the same people every day."""

    def __init__(self, config: SimConfig, timelines: list[Timeline], width: int, n: int) -> None:
        ctx = multiprocessing.get_context("fork")
        self.n = n
        self.count = len(timelines)
        self.conns = []
        self.procs = []
        for k in range(n):
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=_day_worker, args=(child, config, timelines, width, k, n), daemon=True)
            proc.start()
            child.close()
            self.conns.append(parent)
            self.procs.append(proc)

    def day(self, day: date, i: int, d0: float, d1: float, outages: dict[str, tuple[float, float]]) -> DayOutput:
        for conn in self.conns:
            conn.send((day, i, d0, d1, outages))
        parts: list[DayOutput | None] = [None] * self.count
        for conn in self.conns:
            reply = conn.recv()
            if isinstance(reply, BaseException):
                raise RuntimeError("a simulator process failed") from reply
            for index, out in reply:
                parts[index] = out
        output = DayOutput()
        for out in parts:
            assert out is not None
            output.batches += out.batches
            output.truth += out.truth
            output.faults += out.faults
            output.readings += out.readings
            output.blind += out.blind
        return output

    def close(self) -> None:
        for conn in self.conns:
            with contextlib.suppress(OSError):
                conn.send(None)
        for proc in self.procs:
            proc.join(timeout=5)
            if proc.is_alive():
                proc.terminate()


def _day_worker(conn: Any, config: SimConfig, timelines: list[Timeline], width: int, k: int, n: int) -> None:
    sim = DeviceSimulator(world(), config.faults, config.seed, width)
    mine = range(k, len(timelines), n)
    while True:
        job = conn.recv()
        if job is None:
            return
        day, i, d0, d1, outages = job
        try:
            reply = []
            for index in mine:
                out = DayOutput()
                _person_day(sim, timelines[index], day, i, d0, d1, outages, out)
                reply.append((index, out))
            conn.send(reply)
        except BaseException as exc:  # the parent raises it
            conn.send(exc)
            return


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
    people, timelines = plan(config, start, processes)
    (out / CASES).write_text(json.dumps(case_file(people, practitioners, team), indent=1) + "\n")
    first, last = start, start + timedelta(days=config.days - 1)
    t0, t1 = local_epoch(first, "00:00"), local_epoch(last, "24:00")
    truth: list[dict[str, Any]] = []
    faults: list[dict[str, Any]] = []
    for tl in timelines:
        truth.extend(behaviour_truth(tl, t0, t1, first, last))
        for kind in sorted(tl.person.never_fitted):
            truth.append(
                violation(tl.person, "not_fitted", "equipment", t0, None, None, device=tl.person.devices[kind])
            )
    readings = 0
    device_days = config.days * sum(1 for p in people for k in p.devices if k not in p.never_fitted)
    blind: dict[str, list[tuple[float, float]]] = {}
    with open(out / TELEMETRY, "wb") as fh:
        for _day, output in simulated_days(config, start, people, timelines, faults, processes):
            fh.write(b"".join(b[2] for b in output.batches))
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
