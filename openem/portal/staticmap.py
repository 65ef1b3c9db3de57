"""A map as SVG, drawn on the server: for PDFs (evidence packs, trail maps for supervision) where
there is no browser to run Leaflet. Roads from the offline basemap, the person's conditions, the trail."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from html import escape
from typing import Any

import numpy as np

from openem.engine.geometry import LocalProjection

from .basemap import roads_geojson

COLOURS = {
    "exclusion_zone": "#d4351c",
    "inclusion_zone": "#1d70b8",
    "curfew": "#00703c",
    "attendance": "#4c2c92",
}


@dataclass
class Point:
    lat: float
    lon: float
    t: datetime | None = None


@lru_cache(maxsize=1)
def _roads() -> list[tuple[int, np.ndarray, np.ndarray, tuple[float, float, float, float]]]:
    out = []
    for f in json.loads(roads_geojson())["features"]:
        if f["geometry"]["type"] != "LineString":
            continue
        c = np.array(f["geometry"]["coordinates"])
        bbox = (c[:, 1].min(), c[:, 1].max(), c[:, 0].min(), c[:, 0].max())
        out.append((f["properties"]["r"], c[:, 1], c[:, 0], bbox))
    return out


def _shape_points(feature: dict[str, Any]) -> list[tuple[float, float]]:
    g = feature["geometry"]
    if g["type"] == "Point":
        lon, lat = g["coordinates"]
        r = feature["properties"].get("radius_m", 0) / 111_320
        k = max(math.cos(math.radians(lat)), 0.1)
        return [(lat - r, lon - r / k), (lat + r, lon + r / k)]
    rings = g["coordinates"] if g["type"] == "Polygon" else [r for p in g["coordinates"] for r in p]
    return [(lat, lon) for ring in rings for lon, lat in ring]


class _Labels:
    """Labels beside points that never overprint each other: each is tried below, above, right and left of
    its point, then further out, and goes where it overlaps no label already placed and stays inside the
    map; a label moved away from its point gets a thin leader line back to it."""

    CHAR_W, LINE_H = 6.2, 14.0

    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = width, height
        self.boxes: list[tuple[float, float, float, float]] = []

    def place(self, x: float, y: float, text: str, style: str) -> str:
        w = len(text) * self.CHAR_W + 4
        h = self.LINE_H
        for step in range(8):
            far = 1 + step // 4 * 1.6
            dx, dy = ((-w / 2, 18 * far), (-w / 2, -8 * far - h), (10 * far, -h / 2), (-10 * far - w, -h / 2))[step % 4]
            box = (x + dx, y + dy, x + dx + w, y + dy + h)
            inside = box[0] >= 2 and box[1] >= 2 and box[2] <= self.width - 2 and box[3] <= self.height - 22
            if inside and not any(_overlap(box, b) for b in self.boxes):
                break
        else:  # nowhere free: stack it below the lowest label near the point
            below = max((b[3] for b in self.boxes if abs(b[0] - x) < 150), default=y + 4)
            box = (min(max(2, x - w / 2), self.width - w - 2), below + 2, 0, 0)
            box = (box[0], box[1], box[0] + w, box[1] + h)
        self.boxes.append(box)
        tx, ty = box[0] + 2, box[3] - 3
        leader = ""
        if abs((box[0] + box[2]) / 2 - x) > w / 2 + 12 or min(abs(box[1] - y), abs(box[3] - y)) > 24:
            leader = (
                f'<line x1="{x:.1f}" y1="{y:.1f}" x2="{(box[0] + box[2]) / 2:.1f}" '
                f'y2="{box[1] if box[1] > y else box[3]:.1f}" stroke="#505a5f" stroke-width="0.8"/>'
            )
        return (
            leader + f'<rect x="{box[0]:.1f}" y="{box[1]:.1f}" width="{w:.1f}" height="{h:.1f}" '
            'fill="#fff" fill-opacity="0.8"/>'
            + f'<text x="{tx:.1f}" y="{ty:.1f}" font-size="12" {style}>{escape(text)}</text>'
        )


def _overlap(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def svg_map(
    features: list[dict[str, Any]],
    trail: list[Point],
    marks: list[tuple[Point, str]] | None = None,
    width: int = 720,
    height: int = 460,
    min_span_m: float = 600.0,
) -> str:
    """Everything fitted into one view, north up, with a scale bar and the map data's attribution."""
    pts = [(p.lat, p.lon) for p in trail] + [q for f in features for q in _shape_points(f)]
    pts += [(p.lat, p.lon) for p, _ in marks or []]
    if not pts:
        pts = [(52.6705, -0.7276)]  # Oakham: the demo area
    lats, lons = np.array([p[0] for p in pts]), np.array([p[1] for p in pts])
    proj = LocalProjection(float((lats.min() + lats.max()) / 2), float((lons.min() + lons.max()) / 2))
    x, y = proj.fast_xy(lats, lons)
    span_x = max(float(x.max() - x.min()), min_span_m) * 1.15
    span_y = max(float(y.max() - y.min()), min_span_m) * 1.15
    scale = min(width / span_x, height / span_y)
    cx, cy = float(x.max() + x.min()) / 2, float(y.max() + y.min()) / 2

    def xy(lat: Any, lon: Any) -> tuple[np.ndarray, np.ndarray]:
        px, py = proj.fast_xy(np.asarray(lat, dtype=float), np.asarray(lon, dtype=float))
        return (px - cx) * scale + width / 2, height / 2 - (py - cy) * scale

    half_lat = height / scale / 2 / 111_320 * 1.2
    half_lon = width / scale / 2 / (111_320 * math.cos(math.radians(proj.lat0))) * 1.2
    box = (proj.lat0 - half_lat, proj.lat0 + half_lat, proj.lon0 - half_lon, proj.lon0 + half_lon)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        'font-family="Helvetica, Arial, sans-serif" role="img">',
        f'<rect width="{width}" height="{height}" fill="#f8f8f5"/>',
    ]
    for rank, rlat, rlon, (a, b, c, d) in _roads():
        if b < box[0] or a > box[1] or d < box[2] or c > box[3]:
            continue
        px, py = xy(rlat, rlon)
        path = " ".join(f"{u:.1f},{v:.1f}" for u, v in zip(px, py, strict=True))
        parts.append(
            f'<polyline points="{path}" fill="none" stroke="{"#e0c070" if rank == 3 else "#c8c8c8"}" '
            f'stroke-width="{rank * 1.3:.1f}" stroke-linecap="round"/>'
        )
    for f in features:
        props, g = f["properties"], f["geometry"]
        colour = COLOURS.get(props.get("kind", ""), "#505a5f")
        label = escape(props.get("label", ""))
        style = f'fill="{colour}" fill-opacity="0.15" stroke="{colour}" stroke-width="2"'
        if g["type"] == "Point":
            (px,), (py,) = xy([g["coordinates"][1]], [g["coordinates"][0]])
            r = max(props.get("radius_m", 20) * scale, 4)
            parts.append(f'<circle cx="{px:.1f}" cy="{py:.1f}" r="{r:.1f}" {style}><title>{label}</title></circle>')
        else:
            rings = g["coordinates"] if g["type"] == "Polygon" else [r for p in g["coordinates"] for r in p]
            for ring in rings:
                px, py = xy([p[1] for p in ring], [p[0] for p in ring])
                path = " ".join(f"{u:.1f},{v:.1f}" for u, v in zip(px, py, strict=True))
                parts.append(f'<polygon points="{path}" {style}><title>{label}</title></polygon>')
    labels, label_parts = _Labels(width, height), []
    if trail:
        px, py = xy([p.lat for p in trail], [p.lon for p in trail])
        path = " ".join(f"{u:.1f},{v:.1f}" for u, v in zip(px, py, strict=True))
        parts.append(f'<polyline points="{path}" fill="none" stroke="#0b0c0c" stroke-width="2" stroke-opacity="0.8"/>')
        parts += [f'<circle cx="{u:.1f}" cy="{v:.1f}" r="2.2" fill="#0b0c0c"/>' for u, v in zip(px, py, strict=True)]
        for i, name in ((0, "start"), (len(trail) - 1, "end")):
            t = trail[i].t
            text = f"{name} {t:%H:%M}" if t else name
            parts.append(f'<circle cx="{px[i]:.1f}" cy="{py[i]:.1f}" r="5" fill="#ffdd00" stroke="#0b0c0c"/>')
            label_parts.append(labels.place(float(px[i]), float(py[i]), text, 'font-weight="bold"'))
    for p, text in marks or []:
        (u,), (v,) = xy([p.lat], [p.lon])
        parts.append(f'<circle cx="{u:.1f}" cy="{v:.1f}" r="6" fill="#d4351c" stroke="#fff" stroke-width="2"/>')
        label_parts.append(labels.place(float(u), float(v), text, 'fill="#d4351c"'))
    parts += label_parts  # on top of every point and line
    # Scale bar: a round length about a fifth of the width.
    metres = width / scale / 5
    nice = 10 ** math.floor(math.log10(metres))
    nice = max(n for n in (nice, 2 * nice, 5 * nice) if n <= metres)
    bar = nice * scale
    label = f"{nice / 1000:g} km" if nice >= 1000 else f"{nice:g} m"
    parts.append(
        f'<g transform="translate(12,{height - 16})"><rect x="0" y="-4" width="{bar:.1f}" height="4" fill="#0b0c0c"/>'
        f'<text x="{bar + 6:.1f}" y="0" font-size="11">{label}</text></g>'
        f'<text x="{width - 8}" y="{height - 6}" font-size="10" text-anchor="end" fill="#505a5f">'
        "© OpenStreetMap contributors (ODbL)</text>"
        f'<text x="{width - 14}" y="22" font-size="14" font-weight="bold" text-anchor="middle">N</text>'
        f'<path d="M{width - 14},26 l-5,12 l5,-4 l5,4 z" fill="#0b0c0c"/>'
        "</svg>"
    )
    return "".join(parts)
