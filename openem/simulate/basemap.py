"""The simulator's map: roads, buildings and points of interest of Rutland from OpenStreetMap.

`openem build-basemap` crops the Geofabrik shapefiles (shared/data/osm-rutland) to what the simulator
and the portal's offline map need and writes ``openem/simulate/data/rutland.json.gz``, which is
shipped with OpenEM under the ODbL (see ``openem/simulate/data/LICENCE.md``).
"""

from __future__ import annotations

import gzip
import io
import json
import zipfile
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

ATTRIBUTION = "© OpenStreetMap contributors (ODbL 1.0); extract by Geofabrik GmbH"

# Road classes people move along, with a typical car speed in m/s; None means no cars.
ROAD_CLASSES: dict[str, float | None] = {
    "trunk": 22.0, "trunk_link": 15.0, "primary": 18.0, "primary_link": 12.0, "secondary": 16.0,
    "tertiary": 14.0, "unclassified": 12.0, "residential": 9.0, "living_street": 5.0, "service": 6.0,
    "track": None, "track_grade1": None, "track_grade2": None, "footway": None, "path": None,
    "cycleway": None, "pedestrian": None, "bridleway": None,
}  # fmt: skip
HOME_TYPES = {"house", "residential", "terrace", "semidetached_house", "detached", "apartments", ""}
WORK_TYPES = {"industrial", "warehouse", "retail", "commercial", "school", "office", "farm", "hospital"}
LEISURE_POIS = {"pub", "bar", "cafe", "restaurant", "fast_food", "sports_centre", "community_centre"}
SHOP_POIS = {"convenience", "supermarket", "clothes", "hairdresser", "pharmacy", "post_office", "newsagent",
             "butcher", "bookshop", "optician", "jeweller", "shoe_shop", "bakery", "greengrocer"}  # fmt: skip


@dataclass
class Basemap:
    """Arrays in WGS84 degrees; ``road_*`` are polylines stored end to end with offsets."""

    road_lon: np.ndarray
    road_lat: np.ndarray
    road_offsets: np.ndarray  # start index of each polyline, plus the total at the end
    road_class: list[str]
    road_name: list[str]
    building_lon: np.ndarray
    building_lat: np.ndarray
    building_area_m2: np.ndarray
    building_type: list[str]
    poi_lon: np.ndarray
    poi_lat: np.ndarray
    poi_class: list[str]
    poi_name: list[str]
    bbox: tuple[float, float, float, float]

    def roads(self) -> list[tuple[str, np.ndarray, np.ndarray]]:
        out = []
        for i, cls in enumerate(self.road_class):
            a, b = self.road_offsets[i], self.road_offsets[i + 1]
            out.append((cls, self.road_lon[a:b], self.road_lat[a:b]))
        return out


def _reader(archive: zipfile.ZipFile, layer: str) -> Any:
    import shapefile  # pyshp; needed only to rebuild the packaged map

    return shapefile.Reader(
        shp=io.BytesIO(archive.read(f"{layer}.shp")),
        dbf=io.BytesIO(archive.read(f"{layer}.dbf")),
        shx=io.BytesIO(archive.read(f"{layer}.shx")),
        encoding="utf-8",
    )


def _polygon_centroid_area(points: list[tuple[float, float]]) -> tuple[float, float, float]:
    pts = np.asarray(points, dtype=float)
    lon0, lat0 = pts[:, 0].mean(), pts[:, 1].mean()
    x = (pts[:, 0] - lon0) * 111_320 * np.cos(np.radians(lat0))
    y = (pts[:, 1] - lat0) * 110_540
    cross = x[:-1] * y[1:] - x[1:] * y[:-1]
    area = cross.sum() / 2
    if abs(area) < 1e-9:
        return lon0, lat0, 0.0
    cx = ((x[:-1] + x[1:]) * cross).sum() / (6 * area)
    cy = ((y[:-1] + y[1:]) * cross).sum() / (6 * area)
    return lon0 + cx / (111_320 * np.cos(np.radians(lat0))), lat0 + cy / 110_540, abs(area)


def build(shapefile_zip: Path) -> dict[str, Any]:
    archive = zipfile.ZipFile(shapefile_zip)
    lon: list[int] = []
    lat: list[int] = []
    offsets = [0]
    classes: list[str] = []
    names: list[str] = []
    roads = _reader(archive, "gis_osm_roads_free_1")
    for shape, rec in zip(roads.iterShapes(), roads.iterRecords(), strict=True):
        if rec["fclass"] not in ROAD_CLASSES:
            continue
        for part_start, part_end in _parts(shape):
            pts = shape.points[part_start:part_end]
            if len(pts) < 2:
                continue
            lon.extend(round(p[0] * 1e6) for p in pts)
            lat.extend(round(p[1] * 1e6) for p in pts)
            offsets.append(len(lon))
            classes.append(rec["fclass"])
            names.append(rec["name"] or "")
    buildings: dict[str, list[Any]] = {"lon": [], "lat": [], "area": [], "type": []}
    reader = _reader(archive, "gis_osm_buildings_a_free_1")
    for shape, rec in zip(reader.iterShapes(), reader.iterRecords(), strict=True):
        cx, cy, area = _polygon_centroid_area(shape.points)
        buildings["lon"].append(round(cx * 1e6))
        buildings["lat"].append(round(cy * 1e6))
        buildings["area"].append(round(area))
        buildings["type"].append(rec["type"] or "")
    pois: dict[str, list[Any]] = {"lon": [], "lat": [], "class": [], "name": []}
    for layer in ("gis_osm_pois_free_1", "gis_osm_pois_a_free_1"):
        reader = _reader(archive, layer)
        for shape, rec in zip(reader.iterShapes(), reader.iterRecords(), strict=True):
            if len(shape.points) == 1:
                cx, cy = shape.points[0]
            else:
                cx, cy, _ = _polygon_centroid_area(shape.points)
            pois["lon"].append(round(cx * 1e6))
            pois["lat"].append(round(cy * 1e6))
            pois["class"].append(rec["fclass"])
            pois["name"].append(rec["name"] or "")
    return {
        "attribution": ATTRIBUTION,
        "source": "Geofabrik rutland-latest-free.shp.zip (OpenStreetMap data as of 2022-08-18)",
        "units": "coordinates in microdegrees (WGS84), building areas in square metres",
        "roads": {"lon": _delta(lon), "lat": _delta(lat), "offsets": offsets, "class": classes, "name": names},
        "buildings": buildings,
        "pois": pois,
    }


def _parts(shape: Any) -> list[tuple[int, int]]:
    starts = [*list(shape.parts), len(shape.points)]
    return [(starts[i], starts[i + 1]) for i in range(len(starts) - 1)]


def _delta(values: list[int]) -> list[int]:
    # Delta coding keeps the packaged file small: neighbouring vertices differ by a few hundred units.
    return [values[0], *np.diff(np.asarray(values, dtype=np.int64)).tolist()] if values else []


def write(data: dict[str, Any], out: Path) -> None:
    with gzip.open(out, "wt", encoding="utf-8", compresslevel=9) as fh:
        json.dump(data, fh, separators=(",", ":"), ensure_ascii=False)


@lru_cache(maxsize=1)
def load() -> Basemap:
    raw = resources.files("openem.simulate").joinpath("data/rutland.json.gz").read_bytes()
    data = json.loads(gzip.decompress(raw))
    roads, b, p = data["roads"], data["buildings"], data["pois"]
    road_lon = np.cumsum(np.asarray(roads["lon"], dtype=np.int64)) / 1e6
    road_lat = np.cumsum(np.asarray(roads["lat"], dtype=np.int64)) / 1e6
    return Basemap(
        road_lon=road_lon,
        road_lat=road_lat,
        road_offsets=np.asarray(roads["offsets"], dtype=np.int64),
        road_class=roads["class"],
        road_name=roads["name"],
        building_lon=np.asarray(b["lon"]) / 1e6,
        building_lat=np.asarray(b["lat"]) / 1e6,
        building_area_m2=np.asarray(b["area"], dtype=float),
        building_type=b["type"],
        poi_lon=np.asarray(p["lon"]) / 1e6,
        poi_lat=np.asarray(p["lat"]) / 1e6,
        poi_class=p["class"],
        poi_name=p["name"],
        bbox=(float(road_lon.min()), float(road_lat.min()), float(road_lon.max()), float(road_lat.max())),
    )
