"""Each police force's area, for limiting an analyst's ad-hoc searches to their own force.

The areas are a GeoJSON file (``OPENEM_CRIME_FORCE_AREAS``), one feature per force with its name in
``properties.force``. The shipped file covers Leicestershire Police (Leicester, Leicestershire and
Rutland) as the union of its nine local planning authorities' boundaries (ONS, 2023, simplified to
200 m; docs/crime-hub.md says how to add a force)."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import shapely
from django.conf import settings
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry


@lru_cache(maxsize=4)
def _areas(path: str) -> dict[str, BaseGeometry]:
    data = json.loads(Path(path).read_text())
    out = {}
    for f in data.get("features", []):
        geom = shape(f["geometry"])
        shapely.prepare(geom)
        out[f["properties"]["force"]] = geom
    return out


def areas() -> dict[str, BaseGeometry]:
    return _areas(str(settings.OPENEM_CRIME_FORCE_AREAS))


def area_of(force: str) -> BaseGeometry | None:
    return areas().get(force)


def covers(force: str, lat: float, lon: float) -> bool:
    """Whether the place is inside the force's area (a force with no area on file covers nothing)."""
    geom = area_of(force)
    return geom is not None and bool(shapely.intersects_xy(geom, lon, lat))


def described(force: str) -> str:
    data = json.loads(Path(settings.OPENEM_CRIME_FORCE_AREAS).read_text())
    for f in data.get("features", []):
        if f["properties"]["force"] == force:
            return str(f["properties"].get("covers", force))
    return force
