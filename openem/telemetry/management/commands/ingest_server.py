from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = (
        "Receive device data on its own port (5055 by default): gateways' JSON Lines batches at "
        "/ingest/v1/telemetry and the OsmAnd protocol (Traccar Client) on any other path."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=5055)
        parser.add_argument("--processes", type=int, default=1, help="receiver processes sharing the port")

    def handle(self, *args: Any, **options: Any) -> None:
        import uvicorn

        self.stdout.write(f"Ingest receiver on http://{options['host']}:{options['port']}/", ending="\n")
        self.stdout.flush()
        uvicorn.run(
            "openem.telemetry.asgi:application",
            factory=True,
            host=options["host"],
            port=options["port"],
            workers=options["processes"],
            loop="uvloop",
            http="httptools",
            lifespan="on",
            access_log=False,
            log_level="warning",
        )
