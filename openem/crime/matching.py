"""Who was near a crime: docs/crime.md, "How matching works".

A person is *near* a crime when, at some moment of its window widened by ``buffer_min`` each side, the
distance from the crime's location to where their trail puts them, less the confidence radius there, is
within ``distance_m``. Between consecutive fixes closer in time than ``max_gap_min`` and not implying a
straight line faster than ``max_speed_kmh`` the track is the straight segment, travelled at an even
speed, with the confidence radius going evenly from one fix's to the next's; the moments it is near are
found exactly (a quadratic in the segment's parameter). Otherwise the fixes stand alone and the time
between them is a gap.

Distances are in a plane centred on the crime (the engine's ``LocalProjection.fast_xy``: within 0.3 m of
pyproj's azimuthal equidistant projection up to 20 km from the centre). Two paths share the arithmetic:
one (crime, person) at a time, for every verdict (the command line, the portal); and all crimes at once,
matches only, with the trails cut into chunks of ``CHUNK`` fixes whose boxes are searched with an STRtree
(the bench, and the portal's first pass on a large batch).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

import numpy as np
import shapely

from .records import CrimeRow, Finding, Fix, MatchParams, Verdict


def code_version() -> str:
    """Which code matched, to record with a run: OpenEM's version and the first 12 hex digits of the
    SHA-256 of the crime matcher's source (reading the batch, the outline of Great Britain, matching)."""
    import hashlib
    from importlib import metadata
    from pathlib import Path

    here = Path(__file__).parent
    digest = hashlib.sha256()
    for name in ("records.py", "batches.py", "geography.py", "matching.py", "data/great-britain.json"):
        digest.update((here / name).read_bytes())
    try:
        version = metadata.version("openem")
    except metadata.PackageNotFoundError:
        version = "unknown"
    return f"openem {version} crime {digest.hexdigest()[:12]}"


Trail = Sequence[Fix] | Any  # Fix objects, or an object or mapping with columns t, lat, lon, acc (numpy arrays)
CHUNK = 128  # fixes per box in the all-at-once search: two hours of a fix a minute (fastest, measured)
_A, _F = 6378137.0, 1 / 298.257223563
_E2 = _F * (2 - _F)
M_PER_DEG_LAT_MIN = 110_574.0  # at the equator: the fewest metres a degree of latitude spans
M_PER_DEG_LON_EQ = 111_320.0


@dataclass
class PackedTrails:
    """Everyone's fixes end to end: person k's are ``[offsets[k], offsets[k+1])``, in time order (the trail
    service reads them so, openem.telemetry.trail.window_packed). Fixes too uncertain to use are listed in
    ``unusable`` and skipped over: the all-at-once search steps past them, and ``compact()`` is the same
    trails without them, for the one-crime-at-a-time path, whose ``dropped`` and ``given_offsets`` name a
    fix by its position among the fixes as given (``position``)."""

    people: list[str]
    offsets: np.ndarray
    t: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    acc: np.ndarray  # confidence radius, NaN where not reported
    params: MatchParams
    unusable: np.ndarray | None = None  # positions of fixes too uncertain to use (None: none)
    given_offsets: np.ndarray | None = None  # compact(): offsets among the fixes as given
    dropped: np.ndarray | None = None  # compact(): the positions left out

    @classmethod
    def of(cls, trails: Mapping[str, Trail], params: MatchParams) -> PackedTrails:
        people = list(trails)
        cols = [_columns(trails[p]) for p in people]
        counts = np.array([len(c[0]) for c in cols], dtype=np.int64)
        offsets = np.r_[0, np.cumsum(counts)].astype(np.int64)
        t, lat, lon, acc = (_cat([c[n] for c in cols]) for n in range(4))
        return cls.from_columns(people, offsets, t, lat, lon, acc, params)

    @classmethod
    def from_columns(
        cls,
        people: list[str],
        offsets: np.ndarray,
        t: np.ndarray,
        lat: np.ndarray,
        lon: np.ndarray,
        acc: np.ndarray,
        params: MatchParams,
    ) -> PackedTrails:
        """From columns already end to end (acc NaN: not reported), without copying them."""
        unusable = np.flatnonzero(acc > params.max_accuracy_m)  # NaN is usable: the unreported radius applies
        return cls(people, offsets, t, lat, lon, acc, params, unusable if len(unusable) else None)

    @cached_property
    def _compact(self) -> PackedTrails:
        drop = self.unusable
        if drop is None:
            return self
        t, lat, lon, acc = (np.delete(a, drop) for a in (self.t, self.lat, self.lon, self.acc))
        kept = self.offsets - np.searchsorted(drop, self.offsets, side="left")
        return PackedTrails(self.people, kept, t, lat, lon, acc, self.params, None, self.offsets, drop)

    def compact(self) -> PackedTrails:
        """The same trails without the fixes too uncertain to use."""
        return self._compact

    @cached_property
    def _skip(self) -> np.ndarray:
        """For each unusable fix, the position after the run of unusable fixes it is in."""
        drop = self.unusable
        assert drop is not None
        first = np.r_[True, np.diff(drop) != 1]
        run = np.cumsum(first) - 1
        ends = np.r_[np.flatnonzero(first)[1:] - 1, len(drop) - 1]
        return drop[ends][run] + 1

    def next_usable(self, i: np.ndarray, end: np.ndarray | None = None) -> np.ndarray:
        """The next usable fix of the same person after each fix i (-1: none); ``end``: where each one's
        person's fixes end, if known."""
        j = i + 1
        drop = self.unusable
        if drop is not None:
            k = np.minimum(np.searchsorted(drop, j), len(drop) - 1)
            j = np.where(drop[k] == j, self._skip[k], j)
        if end is None:
            end = self.offsets[np.searchsorted(self.offsets, i, side="right")]
        return np.where(j < end, j, -1)

    def __len__(self) -> int:
        return len(self.t)

    def radius(self, i: np.ndarray) -> np.ndarray:
        """The confidence radius of fixes i (the unreported taken as ``unreported_accuracy_m``)."""
        a = np.asarray(self.acc[i], dtype=np.float64)
        return np.where(np.isnan(a), self.params.unreported_accuracy_m, a)

    def valid(self, i: np.ndarray, j: np.ndarray | None = None) -> np.ndarray:
        """Whether the segments from fixes i to j (default i + 1, of one person) may be interpolated: close enough in
        time, and no faster than the limit once the confidence circles take up what they can (two fixes
        60 m apart a second apart, each 30 m uncertain, need not have moved at all). The speed is measured
        flat (within 0.5% over a few km: it decides only whether a straight line is plausible). Worked out
        for the segments asked about only: most are never looked at."""
        p = self.params
        j = i + 1 if j is None else j
        dt = self.t[j] - self.t[i]
        mid = np.radians(0.5 * (self.lat[i] + self.lat[j]))
        dy = (self.lat[j] - self.lat[i]) * 111_132.0
        dx = (self.lon[j] - self.lon[i]) * 111_320.0 * np.cos(mid)
        moved = np.maximum(np.hypot(dx, dy) - self.radius(i) - self.radius(j), 0.0)
        return (dt >= 0) & (dt <= p.max_gap_min * 60.0) & (moved <= p.max_speed_kmh / 3.6 * dt)

    def position(self, i: int, k: int) -> int:
        """Fix i's index among person k's fixes as given."""
        if self.dropped is None or self.given_offsets is None:
            return i - int(self.offsets[k])
        # The i-th kept fix is the given fix g with g - (dropped before g) = i.
        shifted = self.dropped - np.arange(len(self.dropped))
        given = i + int(np.searchsorted(shifted, i, side="right"))
        return given - int(self.given_offsets[k])


def joined(trails: Sequence[Trail]) -> dict[str, np.ndarray]:
    """One person's fixes from several tags (one replaced during the window, say) as one trail in time
    order: columns t, lat, lon, acc. ``near_fixes`` then index this."""
    cols = [_columns(t) for t in trails]
    t, lat, lon, acc = (_cat([c[n] for c in cols]) for n in range(4))
    order = np.argsort(t, kind="stable")
    return {"t": t[order], "lat": lat[order], "lon": lon[order], "acc": np.asarray(acc, dtype=np.float64)[order]}


def _cat(arrays: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(arrays) if arrays else np.empty(0)


def _columns(trail: Trail) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    if isinstance(trail, Mapping):
        get = trail.__getitem__
    elif hasattr(trail, "t") and hasattr(trail, "lat"):
        get = lambda k: getattr(trail, k)  # noqa: E731
    else:  # a sequence of Fix
        fixes = list(trail)
        t = np.array([f.t for f in fixes], dtype=np.float64)
        lat = np.array([f.lat for f in fixes], dtype=np.float64)
        lon = np.array([f.lon for f in fixes], dtype=np.float64)
        acc = np.array([np.nan if f.accuracy_m is None else f.accuracy_m for f in fixes], dtype=np.float64)
        return t, lat, lon, acc
    return (
        np.asarray(get("t"), dtype=np.float64),
        np.asarray(get("lat"), dtype=np.float64),
        np.asarray(get("lon"), dtype=np.float64),
        np.asarray(get("acc"), dtype=np.float64),
    )


# ------------------------------------------------------------------ the arithmetic, over many elements at once


def _plane(lat: np.ndarray, lon: np.ndarray, lat0: np.ndarray, lon0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Metres east and north of (lat0, lon0), element by element: LocalProjection.fast_xy's formula."""
    s0, c0 = np.sin(np.radians(lat0)), np.cos(np.radians(lat0))
    w = 1 - _E2 * s0 * s0
    m = _A * (1 - _E2) / w**1.5
    n = _A / np.sqrt(w)
    dphi = np.radians(lat - lat0)
    dlam = np.radians(lon - lon0)
    cos_phi = c0 - s0 * dphi - 0.5 * c0 * dphi * dphi
    return n * cos_phi * dlam, m * dphi + 0.5 * n * c0 * s0 * dlam * dlam


def _near_interval(
    x0: np.ndarray, y0: np.ndarray, a0: np.ndarray, x1: np.ndarray, y1: np.ndarray, a1: np.ndarray, d: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each segment (point 0 to point 1, the origin the crime), the part [s_in, s_out] of [0, 1] where
    the distance to the origin is within d plus the confidence radius (going evenly from a0 to a1), and
    whether there is one. With r(s) > 0 on [0, 1], |P(s)| <= r(s) exactly where the quadratic
    g(s) = |P(s)|^2 - r(s)^2 <= 0; |P(s)| - r(s) is convex, so that part is one interval."""
    dx, dy, da = x1 - x0, y1 - y0, a1 - a0
    r0 = d + a0
    qa = dx * dx + dy * dy - da * da
    qb = 2 * (x0 * dx + y0 * dy - r0 * da)
    qc = x0 * x0 + y0 * y0 - r0 * r0
    g0, g1 = qc, qa + qb + qc
    with np.errstate(divide="ignore", invalid="ignore"):
        disc = qb * qb - 4 * qa * qc
        sq = np.sqrt(np.maximum(disc, 0.0))
        lin = np.abs(qa) < 1e-9
        ra = np.where(lin, -qc / qb, (-qb - sq) / (2 * qa))
        rb = np.where(lin, -qc / qb, (-qb + sq) / (2 * qa))
    lo_root, hi_root = np.fmin(ra, rb), np.fmax(ra, rb)
    lo_in = (lo_root >= 0) & (lo_root <= 1)
    hi_in = (hi_root >= 0) & (hi_root <= 1)
    first_in = np.where(lo_in, lo_root, hi_root)  # the smallest root inside [0, 1]
    last_in = np.where(hi_in, hi_root, lo_root)  # the largest
    n0, n1 = g0 <= 0, g1 <= 0
    any_in = lo_in | hi_in
    s_in = np.where(n0, 0.0, np.where(any_in, first_in, 1.0))
    s_out = np.where(n1, 1.0, np.where(any_in, last_in, 0.0))
    middle = ~n0 & ~n1 & (qa > 0) & (disc >= 0) & lo_in & hi_in  # enters and leaves within the segment
    has = n0 | n1 | middle  # continuity: near at an end, or in between
    s_in = np.clip(np.nan_to_num(s_in), 0.0, 1.0)
    s_out = np.clip(np.nan_to_num(s_out, nan=1.0), 0.0, 1.0)
    return s_in, s_out, has & (s_out >= s_in)


def _closest(
    x0: np.ndarray, y0: np.ndarray, a0: np.ndarray, x1: np.ndarray, y1: np.ndarray, a1: np.ndarray,
    s_lo: np.ndarray, s_hi: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Over s in [s_lo, s_hi]: the least distance to the origin, and the least distance less the radius.
    The second, f(s) = sqrt(z^2 + h^2) - k z + const (z along the segment, h across it, k the radius's change
    per metre along), is convex with its minimum where z / sqrt(z^2 + h^2) = k."""
    dx, dy, da = x1 - x0, y1 - y0, a1 - a0
    u2 = dx * dx + dy * dy
    with np.errstate(divide="ignore", invalid="ignore"):
        s_star = np.where(u2 > 0, -(x0 * dx + y0 * dy) / u2, 0.0)
        s = np.clip(s_star, s_lo, s_hi)
        dist = np.hypot(x0 + s * dx, y0 + s * dy)
        u = np.sqrt(u2)
        k = np.where(u > 0, da / u, 0.0)
        h = np.where(u > 0, np.abs(x0 * dy - y0 * dx) / u, np.hypot(x0, y0))
        e_par = np.where(u > 0, (x0 * dx + y0 * dy) / u, 0.0)
        z_star = np.where(np.abs(k) < 1, k * h / np.sqrt(np.maximum(1 - k * k, 1e-12)), np.sign(k) * np.inf)
        s_edge = np.where(u > 0, (z_star - e_par) / u, 0.0)
    s_edge = np.clip(np.nan_to_num(s_edge), s_lo, s_hi)
    edge = np.hypot(x0 + s_edge * dx, y0 + s_edge * dy) - (a0 + s_edge * da)
    for s_end in (s_lo, s_hi):  # convex: the clipped stationary point or an end (guards round-off)
        edge = np.minimum(edge, np.hypot(x0 + s_end * dx, y0 + s_end * dy) - (a0 + s_end * da))
    return dist, edge


# ------------------------------------------------------------------ one crime, many people


@dataclass
class _Result:
    closest: float
    edge: float
    seconds: float
    near: list[int]  # indices into the packed arrays
    first: float | None
    last: float | None
    at_home: bool
    gaps: list[tuple[float, float]]


BOX_MARGIN_M = 25.0  # read_boxes: the plane's straight lines against the degrees' (metres over a long line)


def read_boxes(crimes: Sequence[CrimeRow], params: MatchParams, reach_m: float | None = None) -> np.ndarray:
    """Where and when each crime's answers can come from, for the trail store's read with boxes (rows of
    t_lo, t_hi, lat_min, lat_max, lon_min, lon_max; with ``lead_s`` = the longest line's time): within
    ``reach_m`` of the crime (default: the distance and the largest radius a usable fix can have), from
    the start of its widened window to the longest line's time after its end. A fix near the crime lies in
    it, in its window; a line near it lies in the box of the slot of its later end, which is in the window
    or at most a line's time after it (openem.telemetry.trail, "Slots"). In degrees, widened as
    ``near_pairs`` widens its boxes, and by ``BOX_MARGIN_M``."""
    if reach_m is None:
        reach_m = params.distance_m + max(params.max_accuracy_m, params.unreported_accuracy_m)
    reach = reach_m + BOX_MARGIN_M
    lat = np.array([c.lat for c in crimes], dtype=np.float64)
    lon = np.array([c.lon for c in crimes], dtype=np.float64)
    windows = np.array([_window(c, params) for c in crimes], dtype=np.float64).reshape(-1, 2)
    dlat = reach / M_PER_DEG_LAT_MIN
    dlon = reach / (M_PER_DEG_LON_EQ * np.cos(np.radians(np.minimum(np.abs(lat) + dlat, 89.9))))
    line_s = params.max_gap_min * 60.0
    return np.column_stack([windows[:, 0], windows[:, 1] + line_s, lat - dlat, lat + dlat, lon - dlon, lon + dlon])


def _window(crime: CrimeRow, params: MatchParams) -> tuple[float, float]:
    pad = params.buffer_min * 60.0
    return crime.start.timestamp() - pad, crime.end.timestamp() + pad


def _evaluate(
    packed: PackedTrails,
    ks: Sequence[int],
    crime: CrimeRow,
    w0: float,
    w1: float,
    homes: Sequence[tuple[float, float] | None],
) -> list[_Result | None]:
    """What persons ``ks``' trails show in [w0, w1] of the crime (None: no fix at all), all at once: each
    one's fixes from the last at or before w0 to the first at or after w1, and the lines between them."""
    p = packed.params
    d, gap_s = p.distance_m, p.max_gap_min * 60.0
    off = packed.offsets
    lo = np.zeros(len(ks), dtype=np.int64)
    hi = np.full(len(ks), -1, dtype=np.int64)
    for m, k in enumerate(ks):
        o0, o1 = int(off[k]), int(off[k + 1])
        if o1 > o0:
            t = packed.t[o0:o1]
            lo[m] = o0 + max(int(np.searchsorted(t, w0, side="right")) - 1, 0)
            hi[m] = o0 + min(int(np.searchsorted(t, w1, side="left")), o1 - o0 - 1)
    cnt = np.maximum(hi - lo + 1, 0)
    g = np.repeat(np.arange(len(ks)), cnt)  # each gathered fix's person (position in ks)
    idx = np.repeat(lo, cnt) + (np.arange(int(cnt.sum())) - np.repeat(np.cumsum(cnt) - cnt, cnt))
    tt, rad = packed.t[idx], packed.radius(idx)
    x, y = _plane(packed.lat[idx], packed.lon[idx], np.array(crime.lat), np.array(crime.lon))
    dist = np.hypot(x, y)
    n = len(idx)
    inside = (tt >= w0) & (tt <= w1)
    near_pt = inside & (dist - rad <= d)
    # Per gathered fix: what it, and the line from it to the next, show; then reduced per person.
    f_close = np.where(inside, dist, np.inf)
    f_edge = np.where(inside, dist - rad, np.inf)
    f_first = np.where(near_pt, tt, np.inf)
    f_last = np.where(near_pt, tt, -np.inf)
    f_seconds = np.zeros(n)
    # Lines: consecutive gathered fixes of one person.
    j = np.flatnonzero(g[:-1] == g[1:]) if n > 1 else np.empty(0, dtype=np.int64)
    dt = tt[j + 1] - tt[j]
    with np.errstate(divide="ignore", invalid="ignore"):
        s_lo = np.clip(np.where(dt > 0, (w0 - tt[j]) / dt, 0.0), 0.0, 1.0)
        s_hi = np.clip(np.where(dt > 0, (w1 - tt[j]) / dt, 1.0), 0.0, 1.0)
    valid = packed.valid(idx[j])
    gap_a, gap_b = np.maximum(tt[j], w0), np.minimum(tt[j + 1], w1)
    # A gap counts only if the person could have come near in its part inside the window, at the speed
    # limit, from where they were before it to where they were after it (their space-time prism). Fixes too
    # far apart for their time are a gap whatever the distance: one of them is wrong.
    vmax = p.max_speed_kmh / 3.6
    slack = np.maximum(dist - rad - d, 0.0)  # how far each fix's circle is from being near
    timed_out = (tt[j + 1] - tt[j]) > gap_s
    # Near at some moment of the gap inside the window: reached from the fix before and back to the fix after.
    with np.errstate(divide="ignore", invalid="ignore"):
        arrive = np.maximum(gap_a, tt[j] + slack[j] / vmax)
        leave = np.minimum(gap_b, tt[j + 1] - slack[j + 1] / vmax)
    reachable = arrive <= leave
    bad = ~valid & (gap_b > gap_a) & (~timed_out | reachable)
    use = valid & (s_hi > s_lo) & (tt[j + 1] >= w0) & (tt[j] <= w1)
    bad_j = j[bad]
    j, s_lo, s_hi, dt = j[use], s_lo[use], s_hi[use], dt[use]
    starts = (np.cumsum(cnt) - cnt)[cnt > 0]

    def per_person(values: np.ndarray, ufunc: Any, fill: float) -> np.ndarray:
        out = np.full(len(ks), fill)
        if len(starts):
            out[cnt > 0] = ufunc.reduceat(values, starts)
        return out

    # Most lines cannot be near and cannot come closer than the person's fixes do: no point on a line is
    # nearer than its nearer end less half its length. Only the others are measured.
    if len(j):
        half = 0.5 * np.hypot(x[j + 1] - x[j], y[j + 1] - y[j])
        bound = np.maximum(np.minimum(dist[j], dist[j + 1]) - half, 0.0)
        bound_edge = bound - np.maximum(rad[j], rad[j + 1])
        gj = g[j]
        worth = (
            (bound_edge <= d)
            | (bound < per_person(f_close, np.minimum, np.inf)[gj])
            | (bound_edge < per_person(f_edge, np.minimum, np.inf)[gj])
        )
        j, s_lo, s_hi, dt = j[worth], s_lo[worth], s_hi[worth], dt[worth]
    near_j = np.empty(0, dtype=np.int64)
    mid_lat = mid_lon = mid_rad = np.empty(0)
    if len(j):
        args = (x[j], y[j], rad[j], x[j + 1], y[j + 1], rad[j + 1])
        dist_s, edge_s = _closest(*args, s_lo, s_hi)
        f_close[j] = np.minimum(f_close[j], dist_s)
        f_edge[j] = np.minimum(f_edge[j], edge_s)
        s_in, s_out, has = _near_interval(*args, d)
        s_in, s_out = np.maximum(s_in, s_lo), np.minimum(s_out, s_hi)
        has &= s_out >= s_in
        a, b = tt[j] + s_in * dt, tt[j] + s_out * dt
        near_j = j[has]
        f_seconds[near_j] = (b - a)[has]
        f_first[near_j] = np.minimum(f_first[near_j], a[has])
        f_last[near_j] = np.maximum(f_last[near_j], b[has])
        sm = 0.5 * (s_in + s_out)[has]  # the middle of the time near stands for the line (at home?)
        i0, i1 = idx[near_j], idx[near_j + 1]
        mid_lat = packed.lat[i0] * (1 - sm) + packed.lat[i1] * sm
        mid_lon = packed.lon[i0] * (1 - sm) + packed.lon[i1] * sm
        mid_rad = rad[near_j] * (1 - sm) + rad[near_j + 1] * sm
    closest = per_person(f_close, np.minimum, np.inf)
    edge = per_person(f_edge, np.minimum, np.inf)
    first = per_person(f_first, np.minimum, np.inf)
    last = per_person(f_last, np.maximum, -np.inf)
    seconds = per_person(f_seconds, np.add, 0.0)
    # The fixes that show it: near on their own, and both ends of every line near.
    near_g = np.concatenate([g[near_pt], g[near_j], g[near_j]])
    near_i = np.concatenate([idx[near_pt], idx[near_j], idx[near_j + 1]])
    # At home: every position near (fixes, middles of lines) within the distance of the curfew address.
    spot_g = np.concatenate([g[near_pt], g[near_j]])
    spot_lat = np.concatenate([packed.lat[idx[near_pt]], mid_lat])
    spot_lon = np.concatenate([packed.lon[idx[near_pt]], mid_lon])
    spot_rad = np.concatenate([rad[near_pt], mid_rad])
    home_lat = np.array([np.nan if h is None else h[0] for h in homes])
    home_lon = np.array([np.nan if h is None else h[1] for h in homes])
    hx, hy = _plane(spot_lat, spot_lon, home_lat[spot_g], home_lon[spot_g])
    away = ~(np.hypot(hx, hy) - spot_rad <= d)  # NaN (no home): away
    away_count = np.bincount(spot_g[away], minlength=len(ks))
    # Gaps: lines not drawn, and the ends of the window with no fix within the max gap.
    gaps: dict[int, list[tuple[float, float]]] = {}
    for m, a0, b0 in zip(g[bad_j].tolist(), gap_a[bad].tolist(), gap_b[bad].tolist(), strict=True):
        gaps.setdefault(m, []).append((a0, b0))
    out: list[_Result | None] = []
    gathered_from = np.cumsum(cnt) - cnt
    near_order = np.lexsort((near_i, near_g))
    near_g, near_i = near_g[near_order], near_i[near_order]
    bounds = np.searchsorted(near_g, np.arange(len(ks) + 1))
    for m in range(len(ks)):
        if cnt[m] == 0:
            out.append(None)
            continue
        t_first, t_last = float(packed.t[lo[m]]), float(packed.t[hi[m]])
        own = gaps.get(m, [])
        first_at = int(gathered_from[m])  # the person's first gathered fix
        last_at = first_at + int(cnt[m]) - 1
        if t_last < w0 - gap_s or t_first > w1 + gap_s:
            own = [(w0, w1)]
        else:  # the ends, by the same prism, open on one side
            if t_first > w0 + gap_s and slack[first_at] <= vmax * (t_first - w0):
                own.insert(0, (w0, min(t_first, w1)))
            if t_last < w1 - gap_s and slack[last_at] <= vmax * (w1 - t_last):
                own.append((max(t_last, w0), w1))
        near = sorted(set(near_i[bounds[m] : bounds[m + 1]].tolist()))
        if closest[m] == np.inf:  # fixes either side of the window only, not joined
            out.append(_Result(np.inf, np.inf, 0.0, [], None, None, False, own or [(w0, w1)]))
            continue
        out.append(
            _Result(
                float(closest[m]),
                max(float(edge[m]), 0.0),
                float(seconds[m]),
                near,
                None if first[m] == np.inf else float(first[m]),
                None if last[m] == -np.inf else float(last[m]),
                bool(near) and homes[m] is not None and int(away_count[m]) == 0,
                own,
            )
        )
    return out


def _utc(t: float | None) -> datetime | None:
    return None if t is None else datetime.fromtimestamp(t, UTC)


def match_crime(
    crime: CrimeRow,
    trails: Mapping[str, Trail] | PackedTrails,
    homes: Mapping[str, tuple[float, float]],
    params: MatchParams,
    *,
    monitored: Mapping[str, Sequence[tuple[float, float | None]]] | None = None,
) -> list[Finding]:
    """A finding for each person monitored in the crime's widened window: ``trails`` maps a person to their
    fixes in time order covering at least [start - buffer - max_gap, end + buffer + max_gap];
    ``monitored`` the periods (Unix seconds) each had a GPS device fitted (None: everyone in ``trails``,
    throughout); ``homes`` their curfew address (lat, lon), if any."""
    return match_batch([crime], trails, homes, params, monitored=monitored)


def match_batch(
    crimes: Sequence[CrimeRow],
    trails: Mapping[str, Trail] | PackedTrails,
    homes: Mapping[str, tuple[float, float]],
    params: MatchParams,
    *,
    monitored: Mapping[str, Sequence[tuple[float, float | None]]] | None = None,
    matches_only: bool = False,
) -> list[Finding]:
    """``match_crime`` for many crimes at once: findings by crime in the order given, then by person in
    the order of ``trails``. ``matches_only``: only the matches, found all at once (see ``near_pairs``),
    without the verdicts for everyone else."""
    if monitored is not None and not isinstance(trails, PackedTrails) and set(monitored) - set(trails):
        # Fitted but without a fix: monitored all the same, and not covered.
        empty = {"t": np.empty(0), "lat": np.empty(0), "lon": np.empty(0), "acc": np.empty(0)}
        trails = {**trails, **{p: empty for p in monitored if p not in trails}}
    given = trails if isinstance(trails, PackedTrails) else PackedTrails.of(trails, params)
    packed = given.compact()
    everyone = list(range(len(packed.people)))
    todo: list[tuple[int, list[int]]] = [(c, everyone) for c in range(len(crimes))]
    if matches_only:
        by_crime: dict[int, set[int]] = {}
        for c, k in zip(*(a.tolist() for a in near_pairs(crimes, given, params)), strict=True):
            by_crime.setdefault(c, set()).add(k)
        todo = [(c, sorted(ks)) for c, ks in sorted(by_crime.items())]
    out: list[Finding] = []
    for c, people in todo:
        crime = crimes[c]
        w0, w1 = _window(crime, params)
        if monitored is not None:
            people = [
                k
                for k in people
                if any(a < w1 and (b is None or b > w0) for a, b in monitored.get(packed.people[k], ()))
            ]
        results = _evaluate(packed, people, crime, w0, w1, [homes.get(packed.people[k]) for k in people])
        for k, r in zip(people, results, strict=True):
            person = packed.people[k]
            is_near = r is not None and bool(r.near)
            if matches_only and not is_near:
                continue
            gaps = [(w0, w1)] if r is None else r.gaps
            if monitored is not None:
                gaps = _unfitted(gaps, monitored.get(person, ()), w0, w1)
            verdict = Verdict.MATCH if is_near else (Verdict.NOT_COVERED if gaps else Verdict.NOT_THERE)
            seen = r is not None and r.closest != np.inf
            out.append(
                Finding(
                    crime_ref=crime.reference,
                    person=person,
                    verdict=verdict,
                    closest_m=r.closest if r is not None and seen else None,
                    minutes_near=0.0 if r is None else r.seconds / 60.0,
                    near_fixes=[] if r is None else [packed.position(i, k) for i in r.near],
                    first_near=None if r is None else _utc(r.first),
                    last_near=None if r is None else _utc(r.last),
                    gaps=[(_utc(a), _utc(b)) for a, b in gaps],  # type: ignore[misc]
                    at_home=r is not None and r.at_home,
                    params_version=params.version,
                    closest_edge_m=r.edge if r is not None and seen else None,
                )
            )
    return out


def _unfitted(
    gaps: list[tuple[float, float]], periods: Sequence[tuple[float, float | None]], w0: float, w1: float
) -> list[tuple[float, float]]:
    """The gaps, with the parts of the window no device was fitted added: before a fitting a tag has
    nothing to say, and the trail cannot rule the person out."""
    covered = sorted((max(a, w0), min(w1 if b is None else b, w1)) for a, b in periods)
    out = list(gaps)
    at = w0
    for a, b in covered:
        if a > at:
            out.append((at, a))
        at = max(at, b)
    if at < w1:
        out.append((at, w1))
    # Merge what overlaps (a gap in the trail where the device was not fitted either is one gap).
    merged: list[tuple[float, float]] = []
    for a, b in sorted(out):
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


# ------------------------------------------------------------------ all crimes at once


def near_pairs(
    crimes: Sequence[CrimeRow], packed: PackedTrails, params: MatchParams, *, fixes_only: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """(crime index, person index) of every crime and person whose track came near it, all crimes at once.

    Each person's fixes are cut into chunks of CHUNK fixes (with the next chunk's first fix, so every
    segment is in one chunk); a chunk's box, widened by the distance plus its largest confidence radius,
    goes in an STRtree; each crime's location is looked up in it, the pairs kept whose times meet, and
    their fixes and segments measured as ``_evaluate`` measures them, all pairs in one pass. ``fixes_only``:
    the fixes alone, no lines between them (the question a database of points answers: the bench's
    comparison with PostGIS)."""
    n = len(packed)
    if n == 0 or not crimes:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    d = params.distance_m
    off = packed.offsets
    counts = np.diff(off)
    nchunks = (counts + CHUNK - 1) // CHUNK
    owner = np.repeat(np.arange(len(counts)), nchunks)
    first_chunk = np.cumsum(nchunks) - nchunks
    start = off[:-1][owner] + CHUNK * (np.arange(int(nchunks.sum())) - first_chunk[owner])
    stop = np.minimum(start + CHUNK, off[1:][owner])  # points [start, stop)
    # A chunk's lines start at its own fixes; the last ends at the next usable fix after it.
    person_end = off[1:][owner]
    after = packed.next_usable(stop - 1, person_end)
    last = np.where(after >= 0, after, stop - 1)
    lat_lo = np.minimum(np.minimum.reduceat(packed.lat, start), packed.lat[last])
    lat_hi = np.maximum(np.maximum.reduceat(packed.lat, start), packed.lat[last])
    lon_lo = np.minimum(np.minimum.reduceat(packed.lon, start), packed.lon[last])
    lon_hi = np.maximum(np.maximum.reduceat(packed.lon, start), packed.lon[last])
    # The largest radius (a radius not reported is taken as the unreported one: at least that, always).
    widest = np.fmax(np.fmax.reduceat(packed.acc, start), packed.acc[last])
    reach = d + np.fmax(widest, params.unreported_accuracy_m) + 1.0
    dlat = reach / M_PER_DEG_LAT_MIN
    coslat = np.cos(np.radians(np.minimum(np.maximum(np.abs(lat_lo), np.abs(lat_hi)) + dlat, 89.9)))
    dlon = reach / (M_PER_DEG_LON_EQ * coslat)
    tree = shapely.STRtree(shapely.box(lon_lo - dlon, lat_lo - dlat, lon_hi + dlon, lat_hi + dlat))
    clat = np.array([c.lat for c in crimes])
    clon = np.array([c.lon for c in crimes])
    q_crime, q_chunk = tree.query(shapely.points(clon, clat), predicate="intersects")
    windows = np.array([_window(c, params) for c in crimes]).reshape(-1, 2)
    w0, w1 = windows[q_crime, 0], windows[q_crime, 1]
    keep = (packed.t[start[q_chunk]] <= w1) & (packed.t[last[q_chunk]] >= w0)
    q_crime, q_chunk = q_crime[keep], q_chunk[keep]
    if not len(q_crime):
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    # Every fix of the chosen chunks, with its crime, and the line from it to the next usable fix.
    cnt = (stop - start)[q_chunk]
    pair = np.repeat(np.arange(len(q_crime)), cnt)
    i = start[q_chunk][pair] + (np.arange(int(cnt.sum())) - np.repeat(np.cumsum(cnt) - cnt, cnt))
    c = q_crime[pair]
    ends = person_end[q_chunk][pair]
    # Only fixes in the window, or a line's length before it, can show anything.
    tt = packed.t[i]
    ok = (tt <= windows[c, 1]) & (tt >= windows[c, 0] - params.max_gap_min * 60.0)
    if packed.unusable is not None:
        ok &= ~(packed.acc[i] > params.max_accuracy_m)
    i, c, ends, tt = i[ok], c[ok], ends[ok], tt[ok]
    # Nor a fix outside the crime's box (the distance plus the largest usable radius, in degrees), nor a
    # line whose ends are both beyond one side of it.
    lat, lon = packed.lat[i], packed.lon[i]
    box_lat = (d + params.max_accuracy_m + 1.0) / M_PER_DEG_LAT_MIN
    box_lon = box_lat * M_PER_DEG_LAT_MIN / (M_PER_DEG_LON_EQ * np.cos(np.radians(np.minimum(np.abs(clat) + 1, 89.9))))
    dlat, dlon = lat - clat[c], lon - clon[c]
    bl = box_lon[c]
    ok = (np.abs(dlat) <= box_lat) & (np.abs(dlon) <= bl)
    if not fixes_only:
        nxt = packed.next_usable(i, ends)
        has = nxt >= 0
        k = np.where(has, nxt, i)
        dlat1, dlon1 = packed.lat[k] - clat[c], packed.lon[k] - clon[c]
        apart = (
            ((dlat > box_lat) & (dlat1 > box_lat))
            | ((dlat < -box_lat) & (dlat1 < -box_lat))
            | ((dlon > bl) & (dlon1 > bl))
            | ((dlon < -bl) & (dlon1 < -bl))
        )
        ok |= has & ~apart
    i, c, ends, tt, lat, lon = i[ok], c[ok], ends[ok], tt[ok], lat[ok], lon[ok]
    pw0, pw1 = windows[c, 0], windows[c, 1]
    x, y = _plane(lat, lon, clat[c], clon[c])
    radius = packed.radius(i)
    near = (tt >= pw0) & (tt <= pw1) & (np.hypot(x, y) - radius <= d)
    nxt = packed.next_usable(i, ends) if not fixes_only else np.full(len(i), -1)
    j = np.flatnonzero(nxt >= 0)
    nxt = nxt[j]
    seg_ok = (packed.t[nxt] >= pw0[j]) & (tt[j] <= pw1[j])
    j, nxt = j[seg_ok], nxt[seg_ok]
    seg_ok = packed.valid(i[j], nxt)
    j, nxt = j[seg_ok], nxt[seg_ok]
    x1, y1 = _plane(packed.lat[nxt], packed.lon[nxt], clat[c[j]], clon[c[j]])
    dt = packed.t[nxt] - tt[j]
    with np.errstate(divide="ignore", invalid="ignore"):
        s_lo = np.clip(np.where(dt > 0, (pw0[j] - tt[j]) / dt, 0.0), 0.0, 1.0)
        s_hi = np.clip(np.where(dt > 0, (pw1[j] - tt[j]) / dt, 1.0), 0.0, 1.0)
    s_in, s_out, has = _near_interval(x[j], y[j], radius[j], x1, y1, packed.radius(nxt), d)
    has &= (np.minimum(s_out, s_hi) >= np.maximum(s_in, s_lo)) & (s_hi > s_lo)
    near[j[has]] = True
    hit_crime = c[near]
    hit_person = np.searchsorted(off, i[near], side="right") - 1
    if not len(hit_crime):
        return hit_crime, hit_person
    key = np.unique(hit_crime * len(packed.people) + hit_person)
    return key // len(packed.people), key % len(packed.people)
