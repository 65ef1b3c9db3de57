from __future__ import annotations

import signal
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from openem.telemetry.worker import EngineWorker


class Command(BaseCommand):
    help = "Evaluate new stored readings and store violations; safe to run as several processes."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="one cycle, then exit")
        parser.add_argument("--interval", type=float, default=1.0, help="seconds to wait when there is nothing new")

    def handle(self, *args: Any, **options: Any) -> None:
        worker = EngineWorker()
        if options["once"]:
            r = worker.cycle()
            worker.release()
            self.stdout.write(
                f"{r.readings} readings from {r.devices} devices: {r.opened} violations opened, "
                f"{r.changed} changed, {r.retracted} retracted"
            )
            return

        def stop(*_: Any) -> None:
            raise KeyboardInterrupt

        signal.signal(signal.SIGTERM, stop)  # clean shutdown: the cursor is released
        try:
            worker.run(options["interval"])
        except KeyboardInterrupt:
            self.stdout.write("engine worker stopped")
