"""An offline background map: Rutland's roads from the simulator's OpenStreetMap extract, as GeoJSON.

Maps must work without a tile server (DESIGN.md); this gives practitioners roads and place names to
read a trail against. © OpenStreetMap contributors, ODbL.
"""

from __future__ import annotations

import json
from functools import lru_cache

import shapely
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import cache_control

from openem.simulate import basemap

DRAWN = {
    "trunk": 3,
    "trunk_link": 3,
    "primary": 3,
    "primary_link": 3,
    "secondary": 2,
    "tertiary": 2,
    "unclassified": 1,
    "residential": 1,
    "living_street": 1,
}
PLACES = {
    "Oakham": (52.6705, -0.7276),
    "Uppingham": (52.5887, -0.7237),
    "Cottesmore": (52.7115, -0.6640),
    "Ketton": (52.6275, -0.5530),
    "Empingham": (52.6680, -0.5960),
    "Ryhall": (52.6880, -0.4690),
    "Whissendine": (52.7190, -0.7720),
    "Greetham": (52.7230, -0.6280),
    "Edith Weston": (52.6400, -0.6330),
}


@lru_cache(maxsize=1)
def roads_geojson() -> bytes:
    b = basemap.load()
    features = []
    for cls, lon, lat in b.roads():
        rank = DRAWN.get(cls)
        if rank is None:
            continue
        line = shapely.simplify(shapely.linestrings(lon, lat), 0.00004)  # about 4 m
        coords = [[round(x, 5), round(y, 5)] for x, y in shapely.get_coordinates(line)]
        features.append(
            {"type": "Feature", "properties": {"r": rank}, "geometry": {"type": "LineString", "coordinates": coords}}
        )
    for name, (plat, plon) in PLACES.items():
        features.append(
            {
                "type": "Feature",
                "properties": {"place": name},
                "geometry": {"type": "Point", "coordinates": [plon, plat]},
            }
        )
    data = {"type": "FeatureCollection", "attribution": basemap.ATTRIBUTION, "features": features}
    return json.dumps(data, separators=(",", ":")).encode()


@login_required
@cache_control(private=True, max_age=86400)
def roads(request: HttpRequest) -> HttpResponse:
    return HttpResponse(roads_geojson(), content_type="application/geo+json")
