from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from openem.cases.casefile_io import export_people
from openem.cases.models import Person


class Command(BaseCommand):
    help = "Export people, orders, conditions and devices as a case file (openem-cases/1)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--out", "-o", default="-", help="file to write (default: standard output)")
        parser.add_argument("--person", action="append", default=[], help="case file id(s) to export")

    def handle(self, *args: Any, **options: Any) -> None:
        people = Person.objects.all()
        if options["person"]:
            people = people.filter(ref__in=options["person"])
        text = json.dumps(export_people(people), indent=2, ensure_ascii=False) + "\n"
        if options["out"] == "-":
            self.stdout.write(text, ending="")
        else:
            with open(options["out"], "w", encoding="utf-8") as fh:
                fh.write(text)
            self.stderr.write(f"Wrote {people.count()} people to {options['out']}")
