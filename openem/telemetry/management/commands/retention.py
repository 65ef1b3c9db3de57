from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from openem.crime.retention import enforce_crime
from openem.telemetry.retention import enforce


class Command(BaseCommand):
    help = (
        "Delete device data past its retention period (see OPENEM_RETENTION_MONTHS) and crime data past "
        "OPENEM_CRIME_RETENTION_DAYS; run daily."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="say what would be deleted, delete nothing")

    def handle(self, *args: Any, **options: Any) -> None:
        r = enforce(dry_run=options["dry_run"])
        verb = "would delete" if options["dry_run"] else "deleted"
        self.stdout.write(
            f"Retention: {verb} {r.readings} readings and {r.violations} violations of {r.people} "
            f"people, and {r.rejected} old rejected readings; {r.held} people held for proceedings."
        )
        c = enforce_crime(dry_run=options["dry_run"])
        self.stdout.write(
            f"Crime data: {verb} {c.batches} batches, {c.crimes} crimes and {c.findings} match findings older "
            "than OPENEM_CRIME_RETENTION_DAYS."
        )
