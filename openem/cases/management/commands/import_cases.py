from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from openem.cases.casefile_io import import_data
from openem.engine import casefile


class Command(BaseCommand):
    help = "Import a case file (openem-cases/1). A bad file is rejected whole, with every error and its path."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="path to the case file, or - for standard input")
        parser.add_argument("--reason", default="Imported from case file", help="recorded on every order version")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            if options["file"] == "-":
                import json

                try:
                    data = json.load(sys.stdin)
                except json.JSONDecodeError as exc:
                    raise casefile.CaseFileError(
                        [f"(file): not valid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"]
                    ) from exc
            else:
                data = casefile.load_json(options["file"])
            # Every error of the file in one run: structure, then the rules; all or nothing.
            result = import_data(data, None, options["reason"])
        except FileNotFoundError as exc:
            raise CommandError(f"{options['file']}: no such file") from exc
        except casefile.CaseFileError as exc:
            for line in exc.errors:
                self.stderr.write(line)
            raise CommandError(
                f"{options['file']}: rejected, {len(exc.errors)} error(s); nothing was imported", returncode=2
            ) from exc
        for w in result.warnings:
            self.stdout.write(f"warning: {w}")
        self.stdout.write(
            f"Imported {result.people_created + result.people_updated} people ({result.people_created} new), "
            f"{result.orders_created} orders made, {result.orders_varied} varied, {result.devices} device fittings."
        )
