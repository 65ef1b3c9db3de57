"""`openem simulate`: a case file, the telemetry its devices would send, and the truth, streamed to disk.

Timelines for everyone are planned first (small: a few segments a day); device readings are then
generated and written one day at a time, so memory does not grow with the number of days.
"""

from __future__ import annotations

import json
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


def plan(config: SimConfig, start: date) -> tuple[list[SimPerson], list[Timeline]]:
    w = world()
    people = PopulationBuilder(w, config, start).build()
    days = [start + timedelta(days=i) for i in range(config.days)]
    timelines = []
    for p in people:
        rng = random.Random(config.seed * 1_000_003 + p.index)
        bad = choose_bad_days(p, days, config, rng)
        tl = DayPlanner(w, p, config, rng).run(days, bad)
        tl.bad_days = sorted(bad.items())
        timelines.append(tl)
    return people, timelines


def simulated_days(
    config: SimConfig,
    start: date,
    people: list[SimPerson],
    timelines: list[Timeline],
    faults: list[dict[str, Any]] | None = None,
) -> Iterator[tuple[date, DayOutput]]:
    """Every device's readings, a day at a time, sorted by arrival; network outages noted in faults."""
    width = max([len(d) for p in people for d in p.devices.values()] + [8])
    sim = DeviceSimulator(world(), config.faults, config.seed, width)
    rng = np.random.default_rng([config.seed, 7])
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
        output = DayOutput()
        for tl in timelines:
            bad_today = any(d == day for d, _ in tl.bad_days)
            sim.day(tl, i, d0, d1, outages.get(tl.person.area), output, bad_today)
        output.batches.sort(key=lambda b: (b[0], b[1]))
        yield day, output


def simulate(config: SimConfig, out: Path, practitioners: tuple[str, ...] = (), team: str = "") -> SimResult:
    began = time.perf_counter()
    start = date.fromisoformat(config.start) if config.start else default_start(config.days)
    out.mkdir(parents=True, exist_ok=True)
    people, timelines = plan(config, start)
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
        for _day, output in simulated_days(config, start, people, timelines, faults):
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
