"""`openem bench NAME [--json] [--quick]`: measured targets, each beside a baseline run in the same process.

Each prints a readable table and, with --json, one JSON object as its last line. --quick runs the same
measurement small enough to finish in under a minute.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import pickle
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def _table(rows: list[tuple[str, Any]], title: str) -> str:
    width = max(len(k) for k, _ in rows)
    lines = [title, "-" * len(title)]
    for k, v in rows:
        if isinstance(v, bool):
            v = "yes" if v else "no"
        elif isinstance(v, float):
            v = f"{v:,.3f}" if abs(v) < 100 else f"{v:,.0f}"
        elif isinstance(v, int):
            v = f"{v:,}"
        lines.append(f"{k:<{width}}  {v}")
    return "\n".join(lines)


def _simulate(people: int, days: int, seed: int, out: Path) -> Any:
    from openem.simulate.profiles import SimConfig
    from openem.simulate.runner import simulate

    return simulate(SimConfig(people=people, days=days, seed=seed, start="2026-11-09"), out)


# ------------------------------------------------------------------ engine


def _frames_from_file(cases: Path, events: Path) -> tuple[Any, list[Any], int]:
    from openem.engine import casefile
    from openem.engine.engine import Engine
    from openem.engine.replay import read_telemetry

    engine = Engine(casefile.load(cases))
    engine.add(read_telemetry(events))
    frames = list(engine.frames().values())
    return engine, frames, sum(len(f.t) for f in frames)


def _baseline_readings_per_s(engine: Any, frames: list[Any], budget_s: float = 3.0) -> float:
    """A straightforward evaluation: for each fix, project it with pyproj, make a shapely Point, and test
    it against each of the person's zones (as plain, unprepared geometries) and curfew address."""
    import shapely
    from shapely.geometry import Point

    done = 0
    import random

    sample = [f for f in frames if len(f.fix_t)]
    random.Random(0).shuffle(sample)  # a fair sample of people, not the first few by device id
    began = time.process_time()
    for frame in sample:
        fittings = engine.model.fittings.get(frame.device, [])
        if not fittings:
            continue
        subject = fittings[0].subject
        zones = [shapely.from_wkb(c.shape.wkb) for c in subject.conditions if c.shape is not None]
        places = [c.place for c in subject.conditions if c.place is not None]
        n = min(len(frame.fix_t), 2000)  # part of each person's fixes, so the budget covers many people
        for lat, lon, acc in zip(frame.lat[:n].tolist(), frame.lon[:n].tolist(), frame.acc[:n].tolist(), strict=True):
            x, y = subject.proj.forward.transform(lon, lat)
            p = Point(x, y)
            hits = 0
            for z in zones:
                hits += z.contains(p) and z.boundary.distance(p) >= acc
            for c in places:
                hits += p.distance(Point(c.x, c.y)) > c.r + acc
            done += 1
        if time.process_time() - began > budget_s:
            break
    return done / max(time.process_time() - began, 1e-9)


def bench_engine(quick: bool) -> dict[str, Any]:
    from openem.engine.engine import Engine

    people, days = (150, 7) if quick else (600, 7)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        _simulate(people, days, 1, out)
        engine, frames, readings = _frames_from_file(out / "cases.json", out / "telemetry.jsonl")
    fast = Engine(engine.model)
    for f in frames:
        fast.add_frame(f)
    fast.evaluate()  # warm caches (prepared geometry, zoneinfo)
    gc.collect()
    runs = []
    for _ in range(3):
        began = time.process_time()
        result = fast.evaluate()
        runs.append(time.process_time() - began)
    best = min(runs)
    per_s = readings / best
    baseline = _baseline_readings_per_s(engine, frames, 1.0 if quick else 3.0)
    devices = len(frames)
    subjects = {f.subject.id: f.subject for fs in engine.model.fittings.values() for f in fs}
    model_bytes = sum(len(pickle.dumps(_plain(s))) for s in subjects.values())
    return {
        "benchmark": "engine",
        "people": people,
        "days": days,
        "devices": devices,
        "readings": readings,
        "violations": len(result.violations),
        "evaluate_s": round(best, 3),
        "readings_per_s_per_core": round(per_s),
        "baseline_readings_per_s": round(baseline),
        "ratio": round(per_s / baseline, 1),
        "state_bytes_per_device": round(model_bytes / max(devices, 1)),
    }


def _plain(subject: Any) -> Any:
    """What the engine keeps per person between evaluations, in a serialisable form."""
    return {
        "person": subject.id,
        "conditions": [
            (
                c.id,
                c.spec.type.value,
                c.span,
                (c.place.x, c.place.y, c.place.r) if c.place else None,
                c.shape.wkb if c.shape is not None else None,
            )
            for c in subject.conditions
        ],
    }


# ------------------------------------------------------------------ detection


def bench_detection(quick: bool) -> dict[str, Any]:
    from openem.engine.replay import replay
    from openem.engine.scoring import score

    people, days = (80, 4) if quick else (320, 7)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        sim = _simulate(people, days, 2, out)
        result = replay(out / "cases.json", out / "telemetry.jsonl")
        truth = [json.loads(x) for x in (out / "truth.jsonl").read_text().splitlines()]
    found = [v.to_json() for v in result.violations]
    data_end = max((v.end or v.start for v in result.violations), default=0.0)
    s = score(truth, found, data_end + 86400)
    rows = []
    for vtype, ts in sorted(s.by_type.items()):
        rows.append(
            {
                "type": vtype,
                "truth": ts.truth,
                "unobservable": ts.unobservable,
                "found": ts.found,
                "recall": None if ts.recall is None else round(ts.recall, 3),
                "reported": ts.reported,
                "precision": None if ts.precision is None else round(ts.precision, 3),
            }
        )
    return {
        "benchmark": "detection",
        "people": people,
        "days": days,
        "device_days": sim.device_days,
        "by_type": rows,
        "behaviour_recall": round(s.behaviour_recall(), 4),
        "false_behaviour_per_1000_device_days": round(s.false_behaviour() * 1000 / max(sim.device_days, 1), 3),
        "equipment_reported_as_behaviour": s.equipment_as_behaviour,
        "missed_examples": s.missed[:5],
        "false_examples": [v for v in s.false if v["category"] == "behaviour"][:5],
    }


def _print_detection(r: dict[str, Any]) -> str:
    head = f"{'type':<24}{'truth':>7}{'unobs':>7}{'found':>7}{'recall':>8}{'reported':>10}{'precision':>11}"
    lines = [
        f"Detection against the simulator's truth: {r['people']} people x {r['days']} days = "
        f"{r['device_days']:,} device-days",
        head,
        "-" * len(head),
    ]
    for row in r["by_type"]:
        rec = "-" if row["recall"] is None else f"{row['recall']:.3f}"
        pre = "-" if row["precision"] is None else f"{row['precision']:.3f}"
        lines.append(
            f"{row['type']:<24}{row['truth']:>7}{row['unobservable']:>7}{row['found']:>7}{rec:>8}"
            f"{row['reported']:>10}{pre:>11}"
        )
    lines.append("")
    lines.append(f"behaviour_recall                      {r['behaviour_recall']}   (bar 1.0)")
    lines.append(f"false_behaviour_per_1000_device_days  {r['false_behaviour_per_1000_device_days']}   (bar < 1)")
    lines.append(f"equipment_reported_as_behaviour       {r['equipment_reported_as_behaviour']}   (bar 0)")
    return "\n".join(lines)


def bench_simulate(quick: bool) -> dict[str, Any]:
    """Device-days a second for 1,000 people for a week, one process per core, beside the same
    simulation in one process (the baseline); both write the same files."""
    from openem.simulate.profiles import SimConfig
    from openem.simulate.runner import simulate, world

    people, days = (300, 7) if quick else (1000, 7)
    config = SimConfig(people=people, days=days, seed=1, start="2026-11-09")
    world()  # the map is loaded once per process, before either run
    with tempfile.TemporaryDirectory() as tmp:
        fast = simulate(config, Path(tmp) / "a")
        one = simulate(config, Path(tmp) / "b", processes=1)
        same = all(
            (Path(tmp) / "a" / n).read_bytes() == (Path(tmp) / "b" / n).read_bytes()
            for n in ("cases.json", "telemetry.jsonl", "truth.jsonl")
        )
    rate, base = fast.device_days / fast.seconds, one.device_days / one.seconds
    return {
        "benchmark": "simulate",
        "people": people,
        "days": days,
        "device_days": fast.device_days,
        "readings": fast.readings,
        "seconds": round(fast.seconds, 2),
        "device_days_per_s": round(rate),
        "one_process_device_days_per_s": round(base),
        "ratio": round(rate / base, 2),
        "same_files": same,
    }


def bench_ingest(quick: bool) -> dict[str, Any]:
    from openem.telemetry.bench import bench_ingest as run

    return run(quick)


def bench_alerts(quick: bool) -> dict[str, Any]:
    from openem.alerts.bench import bench_alerts as run

    return run(quick)


def _show_alerts(r: dict[str, Any]) -> str:
    from openem.alerts.bench import show

    return show(r)


def bench_trail(quick: bool) -> dict[str, Any]:
    from openem.portal.bench import bench_trail as run

    return run(quick)


def bench_national(quick: bool) -> dict[str, Any]:
    from openem.telemetry.national import bench_national as run

    return run(quick)


def _show_national(r: dict[str, Any]) -> str:
    from openem.telemetry.national import show

    return show(r)


def bench_crime(quick: bool) -> dict[str, Any]:
    from openem.crime.bench import bench_crime as run

    return run(quick)


def _show_crime(r: dict[str, Any]) -> str:
    from openem.crime.bench import show

    return show(r)


def bench_caselist(quick: bool) -> dict[str, Any]:
    from openem.portal.bench_caselist import bench_caselist as run

    return run(quick)


def bench_mi(quick: bool) -> dict[str, Any]:
    from openem.reports.bench import bench_mi as run

    return run(quick)


def _show_caselist(r: dict[str, Any]) -> str:
    from openem.portal.bench_caselist import show

    return show(r)


BENCHES: dict[str, tuple[Callable[[bool], dict[str, Any]], Callable[[dict[str, Any]], str]]] = {
    "national": (bench_national, _show_national),
    "engine": (
        bench_engine,
        lambda r: _table(
            [(k, v) for k, v in r.items() if k != "benchmark"],
            "Engine replay (bars: 1,000,000 readings/s per core, ratio 100, state under 2 KB per device)",
        ),
    ),
    "detection": (bench_detection, _print_detection),
    "crime": (bench_crime, _show_crime),
    "alerts": (bench_alerts, _show_alerts),
    "trail": (
        bench_trail,
        lambda r: _table(
            [(k, v) for k, v in r.items() if k != "benchmark"],
            "A 30-day trail page with its data (bar: p95 under 300 ms with at least 50 million fixes stored)",
        ),
    ),
    "caselist": (bench_caselist, _show_caselist),
    "mi": (
        bench_mi,
        lambda r: _table(
            [(k, v) for k, v in r.items() if k != "benchmark"],
            "Management information on a national caseload (bars: the quarter refreshed in under 60 s, every "
            "Statistics page p95 under 1 s)",
        ),
    ),
    "simulate": (
        bench_simulate,
        lambda r: _table(
            [(k, v) for k, v in r.items() if k != "benchmark"],
            "Simulator (bars: 1,000 device-days/s; 1,000 people x 7 days in under 60 s; same files)",
        ),
    ),
    "ingest": (
        bench_ingest,
        lambda r: _table(
            [(k, v) for k, v in r.items() if k != "benchmark"],
            "Ingest (bars: 50,000 fixes/s durable end to end, and stored then evaluated; 2,000 OsmAnd "
            "requests/s; p99 reading to violation under 1 s)",
        ),
    ),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="openem bench", description=__doc__)
    parser.add_argument("name", choices=sorted(BENCHES))
    parser.add_argument("--json", action="store_true", help="end with one JSON object on its own line")
    parser.add_argument("--quick", action="store_true", help="small enough to finish in under a minute")
    args = parser.parse_args(argv)
    # Benchmarks build and serve throwaway databases only: they, and the processes they start, may run with
    # the shipped development settings (openem.safety).
    os.environ["OPENEM_BENCH"] = "1"
    run, show = BENCHES[args.name]
    result = run(args.quick)
    print(show(result))
    if args.json:
        print(json.dumps(result, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
