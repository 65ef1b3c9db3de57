from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from openem.simulate import basemap


class Command(BaseCommand):
    help = "Rebuild the simulator's packaged Rutland map from the Geofabrik shapefile archive (needs pyshp)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("archive", nargs="?", default="../shared/data/osm-rutland/rutland-latest-free.shp.zip")
        parser.add_argument("--out", default=str(Path(basemap.__file__).parent / "data" / "rutland.json.gz"))

    def handle(self, *args: Any, **options: Any) -> None:
        data = basemap.build(Path(options["archive"]))
        basemap.write(data, Path(options["out"]))
        size = Path(options["out"]).stat().st_size
        self.stdout.write(
            f"Wrote {options['out']} ({size / 1e6:.1f} MB): {len(data['roads']['class'])} road lines, "
            f"{len(data['buildings']['type'])} buildings, {len(data['pois']['class'])} points of interest."
        )
