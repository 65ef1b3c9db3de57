from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from openem.health.running import StopFlag, keep_going
from openem.telemetry.outbox import Announcer


class Command(BaseCommand):
    help = (
        "With OPENEM_BUS: announce newly stored readings on the bus for the partition workers, until stopped "
        "(SIGTERM). Ingest never waits for the bus: while it is down, readings are stored and announced later."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--interval",
            type=float,
            default=0.15,
            help="seconds to wait when there is nothing new (a reading waits at most about this long)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.OPENEM_BUS:
            raise CommandError("OPENEM_BUS is not set (nats://host:4222): there is no bus to announce readings on")
        stop = StopFlag()
        announcer = Announcer()
        try:
            keep_going(announcer.step, stop, options["interval"], "bus announcer")
        finally:
            announcer.close()
        self.stdout.write("bus announcer stopped")
