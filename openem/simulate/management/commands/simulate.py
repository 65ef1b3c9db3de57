from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from openem.simulate.profiles import FaultRates, SimConfig
from openem.simulate.runner import simulate


class Command(BaseCommand):
    help = "Simulate a caseload in Rutland: writes cases.json, telemetry.jsonl and truth.jsonl to --out."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--people", type=int, default=100)
        parser.add_argument("--days", type=int, default=7)
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--out", default="var/sim")
        parser.add_argument("--start", default="", help="first local date, YYYY-MM-DD (default: DAYS ago)")
        parser.add_argument("--mix", default="", help="behaviour mix, e.g. compliant=0.8,home_late=0.2")
        parser.add_argument("--faults", default="", help="fault rates, e.g. battery_not_charged=0.1,rf_flapping=0")
        parser.add_argument("--bad-day-rate", type=float, default=0.3)
        parser.add_argument(
            "--change-only-home-units",
            type=float,
            default=SimConfig.change_only_home_units,
            help="share of RF home units that report only changes of range, with heartbeats between",
        )
        parser.add_argument("--practitioner", action="append", default=[], help="usernames to allocate cases to")
        parser.add_argument("--team", default="")
        parser.add_argument(
            "--processes", type=int, default=None, help="simulator processes (default: one per core, at most 4)"
        )
        parser.add_argument("--live", action="store_true", help="feed a running OpenEM instead of writing files")
        parser.add_argument("--speed", type=float, default=60.0, help="live: simulated seconds per real second")
        parser.add_argument(
            "--live-from",
            type=float,
            default=6.0,
            help="live: hours before now from which readings are paced (older ones go at once)",
        )
        parser.add_argument("--url", default="http://127.0.0.1:8000/ingest/v1/telemetry")
        parser.add_argument("--token", default="", help="live: the gateway token")
        parser.add_argument(
            "--device-keys",
            default="",
            help="live: a JSON file of {device: key}; those devices send their fixes themselves (OsmAnd, the key in "
            "the URL), the rest of their readings through the gateway",
        )
        parser.add_argument("--osmand-url", default="http://127.0.0.1:5055", help="live: where OsmAnd senders send")
        parser.add_argument(
            "--skip-before",
            type=float,
            default=None,
            help="live: Unix time up to which readings were loaded already (not sent again)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        config = SimConfig(
            people=options["people"],
            days=options["days"],
            seed=options["seed"],
            start=options["start"],
            bad_day_rate=options["bad_day_rate"],
            change_only_home_units=options["change_only_home_units"],
        )
        try:
            if options["mix"]:
                config.mix = SimConfig.parse_mix(options["mix"])
            if options["faults"]:
                config.faults = FaultRates.parse(options["faults"])
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        if options["live"]:
            from openem.simulate.live import run_live

            if not options["token"]:
                raise CommandError("--live needs --token (a gateway token; openem demo-setup makes one for the demo)")
            keys = json.loads(Path(options["device_keys"]).read_text()) if options["device_keys"] else None
            sent = run_live(
                config,
                options["url"],
                options["token"],
                options["speed"],
                options["live_from"],
                log=self.stdout.write,
                skip_before=options["skip_before"],
                device_keys=keys,
                osmand_url=options["osmand_url"].rstrip("/"),
            )
            self.stdout.write(f"live: finished, {sent} readings accepted")
            return
        result = simulate(
            config, Path(options["out"]), tuple(options["practitioner"]), options["team"], options["processes"]
        )
        self.stdout.write(
            f"{result.people} people, {result.device_days} device-days, {result.readings} readings, "
            f"{result.violations} true violations in {result.seconds:.1f} s "
            f"({result.device_days / result.seconds:.0f} device-days/s) -> {result.out}"
        )
