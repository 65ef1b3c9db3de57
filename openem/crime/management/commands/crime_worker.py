from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from openem.crime.worker import CrimeWorker
from openem.health.running import StopFlag


class Command(BaseCommand):
    help = (
        "Match waiting police crime batches and ad-hoc searches against the trails; safe to run as several "
        "processes (each batch is claimed with a conditional UPDATE)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="one cycle, then exit")
        parser.add_argument("--interval", type=float, default=2.0, help="seconds to wait when there is nothing to do")

    def handle(self, *args: Any, **options: Any) -> None:
        worker = CrimeWorker()
        if options["once"]:
            r = worker.run_once()
            self.stdout.write(
                f"matched {r.batches} batch(es): {r.crimes} crime(s), {r.findings} finding(s), {r.matches} "
                f"possible match(es) for review"
                + (f"; {r.failed} batch(es) failed (see the monitoring centre)" if r.failed else "")
            )
            return
        # SIGTERM or Ctrl-C: the batch in hand is finished (one transaction), then the worker stops.
        worker.stop = StopFlag()
        worker.run(options["interval"])
