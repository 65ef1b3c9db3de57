"""Each police force's area, for limiting an analyst's ad-hoc searches to their own force, and the codes a
force may write in a batch's ``policeForce`` column instead of its name.

The areas are a GeoJSON file (``OPENEM_CRIME_FORCE_AREAS``), one feature per force with its name in
``properties.force`` and, optionally, its codes in ``properties.codes`` (the ONS police force area code,
``E23000021`` for Leicestershire). The shipped file covers Leicestershire Police (Leicester, Leicestershire and
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

from .batches import force_key


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


@lru_cache(maxsize=4)
def _codes(path: str) -> dict[str, tuple[str, ...]]:
    data = json.loads(Path(path).read_text())
    return {
        f["properties"]["force"]: tuple(str(c).strip() for c in f["properties"].get("codes", []) if str(c).strip())
        for f in data.get("features", [])
    }


def codes(force: str) -> tuple[str, ...]:
    """The codes on file for the force (matched exactly, case aside)."""
    return _codes(str(settings.OPENEM_CRIME_FORCE_AREAS)).get(force, ())


def key(written: str) -> str:
    """Which force a ``policeForce`` cell names, as ``batches.force_key`` compares names: a force's code on
    file stands for its name."""
    code = written.strip().casefold()
    for force, known in _codes(str(settings.OPENEM_CRIME_FORCE_AREAS)).items():
        if code in {c.casefold() for c in known}:
            return force_key(force)
    return force_key(written)


def same_force(written: str, force: str) -> bool:
    """Whether a batch's ``policeForce`` names ``force`` as forces write their own name: any case and
    spacing, with or without "Police", "Constabulary" or "Police Service", "&" or "and", or one of the
    force's codes."""
    return bool(written.strip() and force.strip()) and key(written) == key(force)


def ways_to_write(force: str) -> str:
    """How a batch may name the force, for the message that refuses another force's file."""
    place = " ".join(w.capitalize() if w != "and" else w for w in force_key(force).split())
    forms = [f'"{force}"', f'"{place}"'] + [f'"{c}"' for c in codes(force)]
    return ", ".join(dict.fromkeys(forms))
