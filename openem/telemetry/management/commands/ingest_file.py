from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import IO, Any

from django.core.management.base import BaseCommand, CommandParser

from openem.telemetry.ingest import decode_lines, ingest_objects
from openem.telemetry.models import Source


class Command(BaseCommand):
    help = (
        "Store a telemetry JSON Lines file as if it had arrived: valid lines kept, every rejected line reported "
        "(to standard error, or with --rejected to a JSON Lines file); exits 1 when any line was rejected."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file")
        parser.add_argument("--chunk", type=int, default=5_000, help="lines per transaction")
        parser.add_argument(
            "--rejected", metavar="FILE", help='write each rejected line as {"line", "field", "error"} to FILE'
        )

    def handle(self, *args: Any, **options: Any) -> None:
        with contextlib.ExitStack() as stack:
            report = (
                stack.enter_context(Path(options["rejected"]).open("w", encoding="utf-8"))
                if options["rejected"]
                else None
            )
            self._ingest(options, report)

    def _ingest(self, options: dict[str, Any], report: IO[str] | None) -> None:
        total = dups = bad = 0
        chunk: list[bytes] = []
        first = 1  # the number of the chunk's first line in the file

        def flush() -> None:
            nonlocal total, dups, bad, first
            # Bytes, not text: a line that is not UTF-8 is that line's problem, not the file's.
            r = ingest_objects(decode_lines(b"\n".join(chunk), first=first), Source.FILE)
            total, dups, bad = total + r.accepted, dups + r.duplicates, bad + len(r.rejected)
            for item in r.rejected:
                if report is not None:
                    report.write(json.dumps({"line": item["line"], "field": item["field"], "error": item["error"]}))
                    report.write("\n")
                else:
                    self.stderr.write(f"line {item['line']}: {item['error']}")
            first += len(chunk)
            chunk.clear()

        with Path(options["file"]).open("rb") as fh:
            for line in fh:
                chunk.append(line.rstrip(b"\n"))
                if len(chunk) >= options["chunk"]:
                    flush()
        if chunk:
            flush()
        where = f" (listed in {options['rejected']})" if report is not None and bad else ""
        self.stdout.write(f"{total} readings stored, {dups} duplicates, {bad} rejected{where}")
        if bad:
            raise SystemExit(1)
