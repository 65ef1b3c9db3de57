from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from openem.reports import publish
from openem.reports.measures import Period


class Command(BaseCommand):
    help = (
        "Print or write a quarter's published figures, as the Statistics pages show them (refreshed by "
        "`openem mi-refresh`): --format csv, ods or json; --region for one region only."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--period", required=True, help="the quarter, e.g. 2026Q4")
        parser.add_argument("--format", choices=["csv", "ods", "json"], default="csv")
        parser.add_argument("--region", default=None, help="one region's figures (default: every region)")
        parser.add_argument("--output", "-o", default="-", help="file to write (default: standard output)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            period = Period.parse(options["period"])
        except ValueError as e:
            raise CommandError(str(e)) from e
        from openem.reports.models import MiCell

        if not MiCell.objects.filter(period=str(period)).exists():
            raise CommandError(f"No figures for {period}: run `openem mi-refresh --period {period}` first")
        region = options["region"]
        figures = publish.all_figures(period, region)
        fmt = options["format"]
        if fmt == "ods":
            data = publish.to_ods(figures, period, region)
            if options["output"] == "-":
                sys.stdout.buffer.write(data)
            else:
                with open(options["output"], "wb") as f:
                    f.write(data)
            return
        text = publish.to_csv(figures) if fmt == "csv" else publish.to_json(figures, period, region)
        if options["output"] == "-":
            self.stdout.write(text, ending="")
        else:
            with open(options["output"], "w", encoding="utf-8") as f:
                f.write(text)
