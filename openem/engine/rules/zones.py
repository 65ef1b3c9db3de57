"""Exclusion and inclusion zones, accuracy-aware, with a dwell threshold, hysteresis and pass-through.

A fix is certainly inside when its whole 95% circle is inside the zone, and certainly outside when the
whole circle is outside; fixes in between change nothing. An entry needs ``zone_enter_fixes``
consecutive certainly-inside fixes and ends at the first of ``zone_leave_fixes`` certainly-outside ones.
Between two sparse fixes that are both outside, a straight line through the zone (shrunk by the fixes'
accuracy) at a plausible speed is a pass-through: someone driving through without stopping.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import shapely

from ..enums import ConditionType
from ..intervals import hysteresis
from ..model import Cond
from ..notes import NoteKind
from ..violations import Violation, ViolationType
from .context import Context, Fixes

DEPTH_BUCKETS = (15.0, 30.0, 45.0, 60.0, 80.0, 100.0, 130.0, 180.0)


def _clearance(cond: Cond, fx: Fixes) -> tuple[np.ndarray, np.ndarray]:
    """(inside, signed distance to the boundary in metres: positive inside)."""
    area = cond.spec.area or {}
    if "radius_m" in area:
        c = cond.shape.centroid
        d = area["radius_m"] - np.hypot(fx.x - c.x, fx.y - c.y)
        return d > 0, d
    # Fixes well clear of the zone's bounding box are outside by at least that much: only the rest
    # need the exact distance to the boundary.
    minx, miny, maxx, maxy = cond.shape.bounds
    dx = np.maximum(np.maximum(minx - fx.x, fx.x - maxx), 0.0)
    dy = np.maximum(np.maximum(miny - fx.y, fx.y - maxy), 0.0)
    d = -np.hypot(dx, dy)
    near = d > -(fx.acc + 1.0)
    if near.any():
        x, y = fx.x[near], fx.y[near]
        inside = shapely.contains_xy(cond.shape, x, y)
        dist = shapely.distance(cond.shape.boundary, shapely.points(x, y))
        d[near] = np.where(inside, dist, -dist)
    return d > 0, d


class ZoneEvaluator:
    def __init__(self, ctx: Context, cond: Cond) -> None:
        self.ctx = ctx
        self.cond = cond

    def entries(self) -> list[tuple[float, float | None, dict[str, Any]]]:
        fx, p = self.ctx.fixes, self.ctx.params
        if not len(fx.t):
            return []
        _, d = _clearance(self.cond, fx)
        certainly_in = d >= fx.acc
        certainly_out = -d >= fx.acc
        out: list[tuple[float, float | None, dict[str, Any]]] = []
        busy = np.zeros(len(fx.t), dtype=bool)
        # Most tags are nowhere near most zones: no fix certainly inside, no episode to look for.
        episodes = (
            hysteresis(certainly_in, certainly_out, p.zone_enter_fixes, p.zone_leave_fixes)
            if certainly_in.any()
            else []
        )
        for a, b in episodes:
            end = float(fx.t[b]) if b < len(fx.t) else None
            out.append((float(fx.t[a]), end, {"fixes_inside": int(certainly_in[a:b].sum()), "pass_through": False}))
            busy[max(a - 1, 0) : b + 1] = True
        out.extend(self._pass_throughs(fx, busy))
        return sorted(out, key=lambda e: e[0])

    def _pass_throughs(self, fx: Fixes, busy: np.ndarray) -> list[tuple[float, float, dict[str, Any]]]:
        p = self.ctx.params
        if len(fx.t) < 2:
            return []
        dt, seg = fx.steps
        minx, miny, maxx, maxy = self.cond.shape.bounds
        x0, x1, y0, y1 = fx.x[:-1], fx.x[1:], fx.y[:-1], fx.y[1:]
        # Only segments whose bounding box meets the zone's can cross it.
        near = (np.maximum(x0, x1) >= minx) & (np.minimum(x0, x1) <= maxx)
        near &= (np.maximum(y0, y1) >= miny) & (np.minimum(y0, y1) <= maxy)
        idx = np.flatnonzero(near)
        if not len(idx):
            return []
        speed = np.zeros(len(seg))
        speed[idx] = seg[idx] / np.maximum(dt[idx], 1.0)
        keep = (dt[idx] <= p.pass_through_max_gap_s) & (speed[idx] <= p.pass_through_max_speed_mps)
        keep &= ~busy[idx] & ~busy[idx + 1]
        idx = idx[keep]
        if not len(idx):
            return []
        # How far inside the zone's edge the line must pass: the fixes' accuracy, plus a share of the
        # line's length, since a long straight line can cut a corner the road goes round.
        depth = np.maximum(fx.acc[idx], fx.acc[idx + 1]) + np.minimum(p.pass_through_depth * seg[idx], 80.0)
        out = []
        lower = 0.0
        for bucket in DEPTH_BUCKETS:
            sel = idx[(depth > lower) & (depth <= bucket)]
            lower = bucket
            if not len(sel):
                continue
            core = self.cond.cores.get(bucket)
            if core is None:
                core = self.cond.cores[bucket] = self.cond.shape.buffer(-bucket)
                shapely.prepare(core)
            if core.is_empty:
                continue
            lines = shapely.linestrings(
                np.stack([np.column_stack([x0[sel], y0[sel]]), np.column_stack([x1[sel], y1[sel]])], axis=1)
            )
            hit = shapely.intersects(core, lines)
            for i in sel[hit]:
                out.append(
                    (
                        float(fx.t[i]),
                        float(fx.t[i + 1]),
                        {"pass_through": True, "implied_speed_mps": round(float(speed[i]), 1)},
                    )
                )
        return out

    def exits(self) -> list[tuple[float, float | None]]:
        fx, p = self.ctx.fixes, self.ctx.params
        if not len(fx.t):
            return []
        _, d = _clearance(self.cond, fx)
        certainly_out = -d >= fx.acc
        certainly_in = d >= fx.acc
        return [
            (float(fx.t[a]), float(fx.t[b]) if b < len(fx.t) else None)
            for a, b in hysteresis(certainly_out, certainly_in, p.zone_enter_fixes, p.zone_leave_fixes)
        ]


def evaluate(ctx: Context) -> list[Violation]:
    out: list[Violation] = []
    for cond in ctx.subject.of_type(ConditionType.EXCLUSION_ZONE, ConditionType.INCLUSION_ZONE):
        z = ZoneEvaluator(ctx, cond)
        spans = ctx.spans(cond)
        if cond.spec.type == ConditionType.EXCLUSION_ZONE:
            vtype = ViolationType.EXCLUSION_ZONE_ENTRY
            episodes = z.entries()
        else:
            vtype = ViolationType.INCLUSION_ZONE_EXIT
            episodes = [(s, e, {}) for s, e in z.exits()]
        for s, e, evidence in _merge_episodes(episodes, gap=ctx.params.zone_episode_merge_s):
            end = e if e is not None else ctx.data_end
            for a, b in spans:
                lo, hi = max(s, a), min(end, b)
                if lo >= hi and not (evidence.get("pass_through") and a <= s <= b):
                    continue
                v = Violation(
                    ctx.subject.id,
                    cond.order.id,
                    cond.id,
                    vtype,
                    lo,
                    None if (e is None and hi >= ctx.data_end) else max(hi, lo),
                    {"device": ctx.frame.device, "zone": cond.spec.name, **evidence},
                )
                if cond.monitored:
                    out.append(v)
                else:
                    # Recorded for the practitioner's information; never an alert.
                    ctx.note(NoteKind.UNMONITORED_ZONE, **{k: x for k, x in v.to_json().items() if k != "person"})
    return out


def _merge_episodes(episodes: list[Any], gap: float) -> list[Any]:
    """One violation for one visit: an entry, a pass-through on the way in or out, and a re-entry
    within ``gap`` seconds are the same episode."""
    out: list[Any] = []
    for s, e, ev in sorted(episodes, key=lambda x: x[0]):
        if out and out[-1][1] is not None and s <= out[-1][1] + gap:
            ps, pe, pev = out[-1]
            merged = dict(pev)
            merged["pass_through"] = bool(pev.get("pass_through")) and bool(ev.get("pass_through"))
            out[-1] = (ps, None if e is None else max(pe, e), merged)
        else:
            out.append((s, e, ev))
    return out
