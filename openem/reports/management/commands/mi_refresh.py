from __future__ import annotations

import logging
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from openem.reports.measures import Period
from openem.reports.refresh import default_periods, refresh

log = logging.getLogger("openem.reports")


class Command(BaseCommand):
    help = (
        "Refresh the management information tables (docs/mi.md): the current quarter and the one before, or "
        "--period, or the last --quarters. With --every MINUTES it keeps doing so (as `openem run` starts it)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--period", action="append", default=[], help="a quarter, e.g. 2026Q4 (repeatable)")
        parser.add_argument("--quarters", type=int, default=0, help="the last N quarters (8 for the trends)")
        parser.add_argument("--every", type=float, default=0.0, help="minutes between refreshes: run until stopped")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            periods = [Period.parse(p) for p in options["period"]]
        except ValueError as e:
            raise CommandError(str(e)) from e
        if not options["every"]:
            for p in periods or default_periods(options["quarters"] or 2):
                run = refresh(p)
                self.stdout.write(f"{p}: {run.cells:,} cells in {run.seconds:.1f} s")
            return
        self._loop(periods, options["quarters"] or 2, options["every"] * 60)

    def _loop(self, periods: list[Period], quarters: int, every_s: float) -> None:
        from openem.health.models import Component
        from openem.health.running import Beat, StopFlag, keep_going

        stop = StopFlag()
        # The refresh feeds the portal's Statistics pages: a failure there affects portal users, nobody's
        # monitoring, so it reports as part of the portal.
        beat = Beat("mi refresh", Component.PORTAL, every_s=60.0)
        state = {"next": 0.0}

        def step() -> bool:
            beat(detail="management information refresh")
            if time.monotonic() < state["next"]:
                return False
            for p in periods or default_periods(quarters):
                run = refresh(p)
                log.info("management information %s: %d cells in %.1f s", p, run.cells, run.seconds)
            beat.count(refreshes=1)
            state["next"] = time.monotonic() + every_s
            return False

        try:
            keep_going(step, stop, interval_s=min(60.0, every_s), name="mi refresh")
        finally:
            beat.stopped()
