from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from openem.telemetry.ingest import ingest_jsonl
from openem.telemetry.models import Source


class Command(BaseCommand):
    help = "Store a telemetry JSON Lines file as if it had arrived (valid lines kept, bad lines reported)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file")
        parser.add_argument("--chunk", type=int, default=20_000, help="lines per transaction")

    def handle(self, *args: Any, **options: Any) -> None:
        total = dups = bad = 0
        lines: list[str] = []
        offset = 0

        def flush() -> None:
            nonlocal total, dups, bad, offset
            r = ingest_jsonl("\n".join(lines), Source.FILE)
            total, dups, bad = total + r.accepted, dups + r.duplicates, bad + len(r.rejected)
            for item in r.rejected[:20]:
                self.stderr.write(f"line {item['line'] + offset}: {item['error']}")
            offset += len(lines)
            lines.clear()

        with Path(options["file"]).open(encoding="utf-8") as fh:
            for line in fh:
                lines.append(line.rstrip("\n"))
                if len(lines) >= options["chunk"]:
                    flush()
        if lines:
            flush()
        self.stdout.write(f"{total} readings stored, {dups} duplicates, {bad} rejected")
