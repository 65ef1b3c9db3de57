"""`openem crime-match CASES TELEMETRY CRIMES.csv`: who was near each crime, from files, no database.

One JSON line per crime and person monitored in its window (a GPS tag fitted at some time in the window
widened by the buffer): ``crime``, ``person``, ``verdict``, ``closest_m``, ``minutes_near``,
``params_version``, then the rest of the finding and the code's version. Rows of the batch that cannot
be used go to stderr with their row, column and reason. Exit status 0; 1 when some rows were refused and
the rest matched; 2 when the file (or the case or telemetry file) cannot be used at all.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path
from typing import TextIO

import numpy as np

from openem.engine import casefile
from openem.engine.enums import ConditionType, DeviceKind
from openem.engine.replay import TelemetryFileError, read_telemetry
from openem.engine.telemetry import ReadingType

from .batches import parse_batch
from .matching import code_version, match_batch
from .records import MatchParams


def people_of(
    cases: casefile.CaseFile,
) -> tuple[dict[str, list[tuple[str, float, float | None]]], dict[str, tuple[float, float]]]:
    """Each person's GPS fittings (device, fitted, removed) and curfew address (the last order's that has one)."""
    fittings: dict[str, list[tuple[str, float, float | None]]] = {}
    homes: dict[str, tuple[float, float]] = {}
    for p in cases.people:
        gps = [
            (d.id, d.fitted.timestamp(), d.removed.timestamp() if d.removed else None)
            for d in p.devices
            if d.kind == DeviceKind.GPS and d.fitted is not None
        ]
        if gps:
            fittings[p.id] = gps
        for order in sorted(p.orders, key=lambda o: o.start):
            for c in order.conditions:
                if c.type == ConditionType.CURFEW and c.address is not None:
                    homes[p.id] = (c.address.lat, c.address.lon)
    return fittings, homes


def trails_of(
    fittings: dict[str, list[tuple[str, float, float | None]]], telemetry: Path
) -> dict[str, dict[str, np.ndarray]]:
    """Each person's fixes from their GPS tags while fitted to them, in time order."""
    by_device: dict[str, list[tuple[float, float, float, float]]] = {}
    wanted = {d for fs in fittings.values() for d, _, _ in fs}
    for r in read_telemetry(telemetry):
        if r.type == ReadingType.FIX and r.device in wanted and not (math.isnan(r.lat) or math.isnan(r.lon)):
            by_device.setdefault(r.device, []).append((r.t, r.lat, r.lon, r.accuracy_m))
    out = {}
    for person, fs in fittings.items():
        rows = [
            row for device, a, b in fs for row in by_device.get(device, []) if row[0] >= a and (b is None or row[0] < b)
        ]
        arr = np.array(sorted(rows), dtype=np.float64).reshape(-1, 4)
        out[person] = {"t": arr[:, 0], "lat": arr[:, 1], "lon": arr[:, 2], "acc": arr[:, 3]}
    return out


def main(argv: list[str] | None = None, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    parser = argparse.ArgumentParser(prog="openem crime-match", description=__doc__)
    parser.add_argument("cases", type=Path, help="case file (openem-cases/1)")
    parser.add_argument("telemetry", type=Path, help="telemetry JSON Lines")
    parser.add_argument("crimes", type=Path, help="the police batch (CSV, docs/crime.md)")
    args = parser.parse_args(argv)
    params = MatchParams.default()
    try:
        cases = casefile.load(args.cases)
    except casefile.CaseFileError as exc:
        for line in exc.errors:
            err.write(f"{args.cases}: {line}\n")
        return 2
    except FileNotFoundError as exc:
        err.write(f"{exc}\n")
        return 2
    try:
        data = args.crimes.read_bytes()
    except OSError as exc:
        err.write(f"{args.crimes}: {exc.strerror or exc}\n")
        return 2
    batch = parse_batch(data, filename=args.crimes.name)
    if batch.fatal:
        err.write(f"{args.crimes}: {batch.fatal}\n")
        return 2
    for p in batch.problems:
        err.write(f"{args.crimes}: row {p.row}, {p.column}: {p.message}\n")
    if not batch.crimes:
        err.write(f"{args.crimes}: no row can be used: nothing was matched.\n")
        return 2
    fittings, homes = people_of(cases)
    try:
        trails = trails_of(fittings, args.telemetry)
    except (TelemetryFileError, FileNotFoundError) as exc:
        err.write(f"{exc}\n")
        return 2
    monitored = {p: [(a, b) for _, a, b in fs] for p, fs in fittings.items()}
    code = code_version()
    try:
        for finding in match_batch(batch.crimes, trails, homes, params, monitored=monitored):
            out.write(json.dumps({**finding.to_json(), "code_version": code}) + "\n")
        out.flush()
    except BrokenPipeError:
        # The reader has had enough (``| head``): stop quietly, and keep Python's flush of stdout at exit
        # from complaining about the closed pipe.
        if out is sys.stdout:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 1 if batch.problems else 0
