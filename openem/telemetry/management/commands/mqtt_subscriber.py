from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from openem.health.running import StopFlag
from openem.telemetry.mqtt import TOPIC, Subscriber


class Command(BaseCommand):
    help = "Receive device readings over MQTT (a topic per device, JSON payloads) and store them."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=1883)
        parser.add_argument("--topic", default=TOPIC)

    def handle(self, *args: Any, **options: Any) -> None:
        def report(topic: str, result: Any) -> None:
            for r in result.rejected:
                self.stderr.write(f"{topic}: line {r['line']}: {r['error']}")

        # SIGTERM or SIGINT stops it after the message in hand; nothing else does.
        Subscriber(options["host"], options["port"], options["topic"], on_result=report).forever(StopFlag())
