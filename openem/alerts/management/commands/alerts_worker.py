from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from openem.alerts.worker import AlertsWorker
from openem.health.running import StopFlag


class Command(BaseCommand):
    help = (
        "Triage new and changed violations into incidents, escalate unacknowledged ones, send the daily "
        "digests and the notification outbox; safe to run as several processes."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="one cycle, then exit")
        parser.add_argument("--interval", type=float, default=1.0, help="seconds to wait when there is nothing to do")

    def handle(self, *args: Any, **options: Any) -> None:
        worker = AlertsWorker()
        if options["once"]:
            r = worker.cycle()
            self.stdout.write(
                f"triaged {r.triaged} violation(s): {r.opened} incident(s) opened, {r.queued} message(s) queued, "
                f"{r.escalated} escalated, {r.digests} digest(s), {r.sent} sent, {r.failed_sends} failed"
                + (f"; {r.failed} item(s) skipped after an error (see the monitoring centre)" if r.failed else "")
            )
            return
        # SIGTERM or Ctrl-C: the message in hand is sent and recorded, then the worker stops (an exception
        # thrown into the middle of a send could leave it sent but recorded as pending, and sent twice).
        worker.stop = StopFlag()
        worker.run(options["interval"])
