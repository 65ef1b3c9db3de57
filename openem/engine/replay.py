"""`openem replay CASES EVENTS`: the violations for a case file and a telemetry file, no database."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from . import casefile
from .engine import Engine, EngineResult
from .telemetry import Reading, ReadingError, parse_line


class TelemetryFileError(ValueError):
    pass


def read_telemetry(path: Path) -> Iterator[Reading]:
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                yield parse_line(line.rstrip("\n"))
            except ReadingError as exc:
                raise TelemetryFileError(f"{path}: line {n}: {exc}") from exc


def replay(cases: Path, events: Path) -> EngineResult:
    engine = Engine(casefile.load(cases))
    engine.add(read_telemetry(events))
    return engine.evaluate()


def main(argv: list[str] | None = None, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    parser = argparse.ArgumentParser(prog="openem replay", description=__doc__)
    parser.add_argument("cases", type=Path, help="case file (openem-cases/1)")
    parser.add_argument("events", type=Path, help="telemetry JSON Lines")
    parser.add_argument("--info", action="store_true", help="also print information records (to stderr)")
    args = parser.parse_args(argv)
    try:
        result = replay(args.cases, args.events)
    except casefile.CaseFileError as exc:
        for line in exc.errors:
            err.write(f"{args.cases}: {line}\n")
        return 2
    except (TelemetryFileError, FileNotFoundError) as exc:
        err.write(f"{exc}\n")
        return 2
    for v in result.violations:
        out.write(json.dumps(v.to_json()) + "\n")
    if args.info:
        for item in result.info:
            err.write(json.dumps(item, default=str) + "\n")
    return 0
