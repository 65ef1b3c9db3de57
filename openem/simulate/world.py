"""Rutland as the simulator sees it: places people go, and routes along real roads between them.

Coordinates are metres on the British National Grid (EPSG:27700), which is what the county's roads
were surveyed on and keeps distances true. Routes come from scipy's Dijkstra over the road graph with its
chains of bends folded (``chains.ChainGraph``); a route tree is computed once per destination and shared
by everyone going there.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from pyproj import Transformer
from scipy.sparse import coo_matrix, csr_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from . import basemap as bm
from .chains import ChainGraph

TO_BNG = Transformer.from_crs("EPSG:4326", "EPSG:27700", always_xy=True)
FROM_BNG = Transformer.from_crs("EPSG:27700", "EPSG:4326", always_xy=True)
WALK_MPS = 1.4


class PlaceKind:
    HOME = "home"
    WORK = "work"
    LEISURE = "leisure"
    SHOP = "shop"
    OFFICE = "office"


@dataclass(frozen=True)
class Place:
    id: int
    kind: str
    x: float
    y: float
    node: int  # nearest road-graph node
    name: str = ""
    area_m2: float = 100.0

    @property
    def lonlat(self) -> tuple[float, float]:
        lon, lat = FROM_BNG.transform(self.x, self.y)
        return float(lon), float(lat)


@dataclass
class Route:
    """A path through the road graph: vertices in metres and the time to reach each, by a mode."""

    x: np.ndarray
    y: np.ndarray
    t: np.ndarray  # seconds from departure to each vertex

    @property
    def duration_s(self) -> float:
        return float(self.t[-1])

    @property
    def length_m(self) -> float:
        return float(np.hypot(np.diff(self.x), np.diff(self.y)).sum())

    def position(self, seconds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        s = np.clip(seconds, 0, self.t[-1])
        return np.interp(s, self.t, self.x), np.interp(s, self.t, self.y)

    def reversed(self) -> Route:
        return Route(self.x[::-1].copy(), self.y[::-1].copy(), self.t[-1] - self.t[::-1])


def travel_mode(a: Place, b: Place, seed: int) -> str:
    """How someone gets from a to b: walked if short, then by bicycle, bus or car. Deterministic per
    pair of places, so the same trip is made the same way there and back."""
    d = float(np.hypot(a.x - b.x, a.y - b.y))
    pair = sorted([(round(a.x), round(a.y)), (round(b.x), round(b.y))])
    # A number in [0, 1) from the pair and the seed (hashes of ints are not salted per process).
    r = ((hash((*pair, seed)) * 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFF) / 2**48
    if d < 1_200:
        return "walk"
    if d < 4_000:
        return "bicycle" if r < 0.35 else "bus" if r < 0.5 else "car"
    return "bus" if r < 0.2 else "car"


class World:
    def __init__(self, base: bm.Basemap | None = None) -> None:
        self.base = base or bm.load()
        self._build_graph()
        self._build_places()
        # Every place's road node stays a node of its own: routes start and end there.
        places = [q.node for q in (*self.homes, *self.workplaces, *self.leisure, *self.shops, self.office)]
        ends = np.zeros(len(self.node_x), dtype=bool)
        ends[places] = True
        self.chains = ChainGraph(len(self.node_x), *self._edges, ends)
        self._trees: dict[tuple[int, str], np.ndarray] = {}
        self._tree_limit: dict[tuple[int, str], float] = {}
        self._routes: dict[tuple[str, int, str, int, str], Route] = {}

    def _build_graph(self) -> None:
        b = self.base
        x, y = TO_BNG.transform(b.road_lon, b.road_lat)
        x, y = np.round(np.asarray(x), 1), np.round(np.asarray(y), 1)
        keys = (x * 10).astype(np.int64) * 10_000_000 + (y * 10).astype(np.int64)
        uniq, node_of = np.unique(keys, return_inverse=True)
        nx = np.zeros(len(uniq))
        ny = np.zeros(len(uniq))
        nx[node_of], ny[node_of] = x, y
        src, dst, speed = [], [], []
        offsets = b.road_offsets
        car_speed = np.array([bm.ROAD_CLASSES.get(c) or 0.0 for c in b.road_class])
        for i in range(len(b.road_class)):
            idx = node_of[offsets[i] : offsets[i + 1]]
            src.append(idx[:-1])
            dst.append(idx[1:])
            speed.append(np.full(len(idx) - 1, car_speed[i]))
        s, d, v = np.concatenate(src), np.concatenate(dst), np.concatenate(speed)
        keep = s != d
        s, d, v = s[keep], d[keep], v[keep]
        # One edge per node pair (roads overlap where ways share vertices), stored both ways.
        lo, hi = np.minimum(s, d), np.maximum(s, d)
        _, first = np.unique(lo * len(uniq) + hi, return_index=True)
        s, d, v = np.concatenate([lo[first], hi[first]]), np.concatenate([hi[first], lo[first]]), np.tile(v[first], 2)
        length = np.hypot(nx[s] - nx[d], ny[s] - ny[d])
        n = len(uniq)
        walk = coo_matrix((length, (s, d)), shape=(n, n)).tocsr()
        _, labels = connected_components(walk, directed=False)
        main = np.bincount(labels).argmax()
        self.node_x, self.node_y = nx, ny
        self.in_main = labels == main
        # Cars keep to roads; on footpaths and tracks a car trip is walked (parking and the last few metres).
        drive_cost = np.where(v > 0, length / np.maximum(v, 1e-6), length / WALK_MPS * 3)
        drive = coo_matrix((drive_cost, (s, d)), shape=(n, n)).tocsr()
        self.graphs: dict[str, csr_matrix] = {"walk": walk, "drive": drive}
        self._edges = (s, d, {"walk": length, "drive": drive_cost})
        # Speed of each road edge, looked up by the key u * n + v (sorted): a path's speeds in one searchsorted.
        key = s.astype(np.int64) * n + d
        order = np.argsort(key)
        self._edge_key, self._edge_speed = key[order], np.where(v > 0, v, WALK_MPS)[order]
        self.node_tree = cKDTree(np.column_stack([nx[self.in_main], ny[self.in_main]]))
        self.main_nodes = np.flatnonzero(self.in_main)

    def nearest_node(self, x: float, y: float) -> int:
        _, i = self.node_tree.query([x, y])
        return int(self.main_nodes[i])

    def _build_places(self) -> None:
        b = self.base
        bx, by = TO_BNG.transform(b.building_lon, b.building_lat)
        _, idx = self.node_tree.query(np.column_stack([bx, by]))
        nodes = self.main_nodes[idx]
        self.homes: list[Place] = []
        self.workplaces: list[Place] = []
        for i, t in enumerate(b.building_type):
            area = float(b.building_area_m2[i])
            if t in bm.HOME_TYPES and 40 <= area <= 250:
                self.homes.append(
                    Place(len(self.homes), PlaceKind.HOME, float(bx[i]), float(by[i]), int(nodes[i]), area_m2=area)
                )
            elif t in bm.WORK_TYPES and area >= 150:
                self.workplaces.append(
                    Place(i, PlaceKind.WORK, float(bx[i]), float(by[i]), int(nodes[i]), area_m2=area)
                )
        px, py = TO_BNG.transform(b.poi_lon, b.poi_lat)
        _, pidx = self.node_tree.query(np.column_stack([px, py]))
        pnodes = self.main_nodes[pidx]
        self.leisure: list[Place] = []
        self.shops: list[Place] = []
        for i, cls in enumerate(b.poi_class):
            if cls in bm.LEISURE_POIS:
                self.leisure.append(
                    Place(i, PlaceKind.LEISURE, float(px[i]), float(py[i]), int(pnodes[i]), b.poi_name[i])
                )
            elif cls in bm.SHOP_POIS:
                self.shops.append(Place(i, PlaceKind.SHOP, float(px[i]), float(py[i]), int(pnodes[i]), b.poi_name[i]))
        # The probation office: a real building near Oakham's centre.
        ox, oy = TO_BNG.transform(-0.7302, 52.6712)
        node = self.nearest_node(ox, oy)
        self.office = Place(-1, PlaceKind.OFFICE, float(ox), float(oy), node, "Oakham probation office", 400.0)

    @cached_property
    def home_xy(self) -> np.ndarray:
        return np.array([[p.x, p.y] for p in self.homes])

    def _tree(self, dest: int, mode: str, origin: int, straight_m: float) -> np.ndarray:
        """The shortest-path tree rooted at ``dest``, reaching at least ``origin``. Most trips are local, so
        a tree is first grown only as far as the trip could plausibly go (scipy's ``limit``) and grown
        further when a later trip to the same place starts farther out."""
        key = (dest, mode)
        held = self._trees.get(key)
        reached = self.chains.reaches
        if held is not None and (reached(held, origin) or origin == dest or self._tree_limit[key] == np.inf):
            return held
        reach = 2.5 * straight_m + 1000.0  # metres: roads wind, and the nearest road node may be behind
        limit = reach if mode == "walk" else reach / 8.0  # drive costs are seconds: 8 m/s is a slow town average
        limit = max(limit, 2 * self._tree_limit.get(key, 0.0))
        while True:
            tree = self.chains.tree(dest, mode, limit)
            if reached(tree, origin) or origin == dest or limit == np.inf:
                break
            limit = limit * 4 if limit < 1e5 else np.inf
        self._trees[key] = tree
        self._tree_limit[key] = limit
        return tree

    def route(self, a: Place, b: Place, mode: str) -> Route:
        """From building a to building b: walk to the road, along the graph, and to the door."""
        key = (a.kind, a.id, b.kind, b.id, mode)
        cached = self._routes.get(key)
        if cached is None:
            cached = self._routes[key] = self._route(a, b, mode)
        return cached

    def _route(self, a: Place, b: Place, mode: str) -> Route:
        if b.kind == PlaceKind.HOME and a.kind != PlaceKind.HOME:
            # Route trees are rooted at destinations; everyone shares the tree of a pub, few share a home's.
            return self.route(b, a, mode).reversed()
        graph = "drive" if mode in ("car", "bus") else "walk"
        tree = self._tree(b.node, graph, a.node, math.hypot(a.x - b.x, a.y - b.y))
        nodes = np.asarray(self.chains.path(tree, a.node, b.node, graph))
        x = np.concatenate([[a.x], self.node_x[nodes], [b.x]])
        y = np.concatenate([[a.y], self.node_y[nodes], [b.y]])
        seg = np.hypot(np.diff(x), np.diff(y))
        if mode in ("car", "bus"):
            speeds = np.full(len(seg), WALK_MPS)
            if len(nodes) > 1:
                wanted = nodes[:-1].astype(np.int64) * len(self.node_x) + nodes[1:]
                es = self._edge_speed[np.searchsorted(self._edge_key, wanted)]
                # Town traffic: cars rarely hold the road's typical speed; buses stop.
                speeds[1:-1] = es * (0.8 if mode == "car" else 0.55)
        else:
            speeds = np.full(len(seg), {"walk": WALK_MPS, "bicycle": 4.5}.get(mode, WALK_MPS))
        t = np.concatenate([[0.0], np.cumsum(seg / speeds)])
        return Route(x, y, t)

    def to_lonlat(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        lon, lat = FROM_BNG.transform(x, y)
        return np.asarray(lon), np.asarray(lat)

    def to_bng(self, lon: float, lat: float) -> tuple[float, float]:
        x, y = TO_BNG.transform(lon, lat)
        return float(x), float(y)
