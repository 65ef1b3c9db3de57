"""Geometry helpers: zones as shapely 2 geometries, distances in metres via pyproj.

Coordinates in the exchange formats are WGS84 (lon, lat). Metric work happens in a local azimuthal
equidistant projection centred on the data, which keeps distances true to well under a metre across
a county and works anywhere (the GPX samples are not in the UK).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Any

import numpy as np
import shapely
from pyproj import Geod, Transformer
from shapely.geometry import Point, Polygon, shape
from shapely.geometry.base import BaseGeometry


@dataclass(frozen=True)
class Circle:
    lat: float
    lon: float
    radius_m: float
    label: str = ""

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"lat": self.lat, "lon": self.lon, "radius_m": self.radius_m}
        if self.label:
            out["label"] = self.label
        return out


class LocalProjection:
    """Forward and inverse transforms between WGS84 and metres around (lat0, lon0).

    ``forward``/``inverse`` are pyproj azimuthal equidistant transforms. ``fast_xy`` is the engine's hot
    path: the same plane to within 0.3 m up to 20 km from the centre (tested against pyproj), from the
    ellipsoid's radii of curvature, at a fraction of pyproj's cost per point. The engine puts fixes and
    zones through the same function, so containment is exact in its plane.
    """

    def __init__(self, lat0: float, lon0: float) -> None:
        self.lat0, self.lon0 = lat0, lon0
        # Radii of curvature of the WGS84 ellipsoid at lat0 (meridian M, prime vertical N).
        a, f = 6378137.0, 1 / 298.257223563
        e2 = f * (2 - f)
        s = np.sin(np.radians(lat0))
        w = 1 - e2 * s * s
        self._m = a * (1 - e2) / w**1.5
        self._n = a / np.sqrt(w)
        self._sin0, self._cos0 = float(s), float(np.cos(np.radians(lat0)))

    # Made when first needed: a pyproj transformer takes ~10 ms to build, and compiling a national
    # caseload makes one projection per person; the engine's hot path needs only fast_xy.
    @cached_property
    def _crs(self) -> str:
        return f"+proj=aeqd +lat_0={self.lat0:.6f} +lon_0={self.lon0:.6f} +datum=WGS84 +units=m +no_defs"

    @cached_property
    def forward(self) -> Transformer:
        return Transformer.from_crs("EPSG:4326", self._crs, always_xy=True)

    @cached_property
    def inverse(self) -> Transformer:
        return Transformer.from_crs(self._crs, "EPSG:4326", always_xy=True)

    def fast_xy(self, lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        dphi = np.radians(np.asarray(lat) - self.lat0)
        dlam = np.radians(np.asarray(lon) - self.lon0)
        # Second order in the offsets: the meridians converge (cos of each point's own latitude, here
        # by its Taylor series about lat0, which is exact to 1e-8 over a county) and the parallels
        # curve (the dlam^2 term).
        cos_phi = self._cos0 - self._sin0 * dphi - 0.5 * self._cos0 * dphi * dphi
        x = self._n * cos_phi * dlam
        y = self._m * dphi + 0.5 * self._n * self._cos0 * self._sin0 * dlam * dlam
        return x, y

    def to_metric(self, geom: BaseGeometry) -> BaseGeometry:
        return shapely.transform(geom, lambda xy: _stack(self.forward.transform(xy[:, 0], xy[:, 1])))

    def to_lonlat(self, geom: BaseGeometry) -> BaseGeometry:
        return shapely.transform(geom, lambda xy: _stack(self.inverse.transform(xy[:, 0], xy[:, 1])))


def _stack(xy: tuple[Any, Any]) -> Any:
    return np.column_stack(xy)


@lru_cache(maxsize=512)
def projection_near(lat: float, lon: float) -> LocalProjection:
    # Rounded centre: nearby zones share one cached projection.
    return LocalProjection(round(lat, 2), round(lon, 2))


_GEOD = Geod(ellps="WGS84")


def circle_polygon(circle: Circle, segments: int = 32) -> BaseGeometry:
    """The circle as a lon/lat polygon: points at its radius on the ellipsoid, anticlockwise from north.
    (Geodesic offsets need no projection: a national caseload has a zone in every square kilometre.)"""
    n = max(16, segments)
    azimuths = -np.linspace(0.0, 360.0, n, endpoint=False)
    lon, lat, _ = _GEOD.fwd(np.full(n, circle.lon), np.full(n, circle.lat), azimuths, np.full(n, circle.radius_m))
    return Polygon(np.column_stack([lon, lat]))


def area_shape(area: dict[str, Any]) -> BaseGeometry:
    """A zone's area (GeoJSON Polygon/MultiPolygon or circle dict) as a lon/lat shapely geometry."""
    if "radius_m" in area:
        return circle_polygon(Circle(float(area["lat"]), float(area["lon"]), float(area["radius_m"])))
    return shape(area)


def area_problem(area: dict[str, Any]) -> str | None:
    """A plain description of what is wrong with an area, or None if it is usable."""
    if "radius_m" in area:
        return None
    for ring_set in _rings(area):
        for ring in ring_set:
            if list(ring[0][:2]) != list(ring[-1][:2]):
                return "polygon ring is not closed (the last point must repeat the first)"
    try:
        geom = shape(area)
    except (ValueError, TypeError, AttributeError) as exc:
        return f"is not a usable polygon ({exc})"
    if geom.is_empty:
        return "polygon is empty"
    if not geom.is_valid:
        reason = shapely.is_valid_reason(geom)
        return f"polygon is not valid: {reason.lower()}"
    if geom.area == 0:
        return "polygon has no area"
    return None


def _rings(area: dict[str, Any]) -> list[list[list[list[float]]]]:
    if area.get("type") == "Polygon":
        return [area["coordinates"]]
    if area.get("type") == "MultiPolygon":
        return list(area["coordinates"])
    return []


def area_centre(area: dict[str, Any]) -> tuple[float, float]:
    """(lat, lon) of a point inside the area."""
    if "radius_m" in area:
        return float(area["lat"]), float(area["lon"])
    p = area_shape(area).representative_point()
    return p.y, p.x


def circle_intersects_area(circle: Circle, area: dict[str, Any]) -> bool:
    """Whether any part of a property (circle) lies inside an area, measured in metres."""
    proj = projection_near(circle.lat, circle.lon)
    zone = proj.to_metric(area_shape(area))
    centre = proj.to_metric(Point(circle.lon, circle.lat))
    return bool(zone.intersects(centre.buffer(circle.radius_m)))


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    proj = projection_near(lat1, lon1)
    a = proj.to_metric(Point(lon1, lat1))
    b = proj.to_metric(Point(lon2, lat2))
    return float(a.distance(b))


def fast_metric(proj: LocalProjection, geom: BaseGeometry) -> BaseGeometry:
    """A lon/lat geometry in the engine's metric plane (``LocalProjection.fast_xy``)."""
    return shapely.transform(geom, lambda xy: np.column_stack(proj.fast_xy(xy[:, 1], xy[:, 0])))
