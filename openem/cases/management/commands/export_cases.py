from __future__ import annotations

import json
import os
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from openem.audit.models import AuditAction, AuditEvent, os_user
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
        data = export_people(people)
        text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
        n = len(data["people"])
        asked = f": {', '.join(options['person'])}" if options["person"] else ""
        where = "standard output" if options["out"] == "-" else os.path.abspath(options["out"])
        if options["out"] == "-":
            self.stdout.write(text, ending="")
        else:
            with open(options["out"], "w", encoding="utf-8") as fh:
                fh.write(text)
            self.stderr.write(f"Wrote {n} people to {options['out']}")
        # After the write, so a failed write is not recorded as an export; one event for the file, naming
        # the person when it holds one.
        AuditEvent.record(
            None,
            AuditAction.EXPORT,
            person=people.first() if n == 1 else None,
            summary=f"export-cases: {n} people to {where}{asked}",
            reason=f"command line, run by {os_user()}",
        )
