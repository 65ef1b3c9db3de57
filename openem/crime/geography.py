"""Is a place in Great Britain? Grid references and latitude/longitude, both ways.

The test is a real outline of Great Britain, not a box (a box around GB holds Dublin, the Isle of Man and
a great deal of sea): England, Wales and Scotland from the ONS's Local Planning Authority boundaries
2023 (ultra-generalised, clipped to the coastline; Open Government Licence v3.0, "Contains OS data
(c) Crown copyright and database right 2023"), widened by 1 km so that piers, harbours and the
generalised coastline's short cuts stay inside, then simplified to 500 m: every place on land is inside,
and a place inside is at most 1.5 km out to sea. In British National Grid metres,
``data/great-britain.json`` (57 KB); ``build_outline`` makes it again from the shapefile.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from pyproj import Transformer

OUTLINE = Path(__file__).with_name("data") / "great-britain.json"
WIDEN_M = 1000.0
SIMPLIFY_M = 500.0


@cache
def _to_grid() -> Transformer:
    return Transformer.from_crs("EPSG:4326", "EPSG:27700", always_xy=True)


@cache
def _from_grid() -> Transformer:
    return Transformer.from_crs("EPSG:27700", "EPSG:4326", always_xy=True)


def grid_to_wgs84(easting: np.ndarray, northing: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(lat, lon) of British National Grid references (OSGB36 with the OSTN15 grid when pyproj has it,
    else the 7-parameter Helmert transformation, a few metres)."""
    lon, lat = _from_grid().transform(np.asarray(easting, float), np.asarray(northing, float))
    return np.asarray(lat), np.asarray(lon)


def wgs84_to_grid(lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    e, n = _to_grid().transform(np.asarray(lon, float), np.asarray(lat, float))
    return np.asarray(e), np.asarray(n)


@cache
def _outline() -> Any:
    data = json.loads(OUTLINE.read_text())
    shape = shapely.from_geojson(json.dumps(data["geometry"]))
    shapely.prepare(shape)
    return shape


def in_great_britain(easting: np.ndarray, northing: np.ndarray) -> np.ndarray:
    """Whether each grid reference is on Great Britain (or within the outline's 1.5 km of its coast)."""
    e, n = np.asarray(easting, float), np.asarray(northing, float)
    ok = np.isfinite(e) & np.isfinite(n)
    out = np.zeros(len(e), dtype=bool)
    if ok.any():
        out[ok] = shapely.contains_xy(_outline(), e[ok], n[ok])
    return out


def build_outline(shapefile_path: str | Path, out: Path = OUTLINE) -> None:
    """Make ``data/great-britain.json`` from LPA_2023_UK_BUC.shp (pyshp)."""
    import shapefile  # pyshp
    from shapely.geometry import shape

    reader = shapefile.Reader(str(shapefile_path))
    parts = [shape(r.shape.__geo_interface__) for r in reader.iterShapeRecords() if r.record["LPA23CD"][0] in "EWS"]
    gb = shapely.simplify(shapely.union_all(parts).buffer(WIDEN_M), SIMPLIFY_M)
    gb = shapely.set_precision(gb, 1.0)  # whole metres
    doc = {
        "type": "Feature",
        "properties": {
            "name": "Great Britain (England, Wales, Scotland), widened 1 km, simplified 500 m",
            "crs": "EPSG:27700",
            "source": "ONS Local Planning Authorities (2023) Boundaries UK BUC; OGL v3.0; contains OS data "
            "(c) Crown copyright and database right 2023",
        },
        "geometry": json.loads(shapely.to_geojson(gb)),
    }
    out.write_text(json.dumps(doc, separators=(",", ":")))
