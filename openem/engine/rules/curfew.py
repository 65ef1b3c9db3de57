"""Curfew: absences from the curfew address during the curfew windows.

By radio frequency (or beacon): the home unit reports whether the tag is in range. By GPS: fixes
clearly away from the property, allowing for each fix's accuracy. Missing data is never an absence:
an absence is bounded by readings that show it.
"""

from __future__ import annotations

import numpy as np

from ..enums import ConditionType, Technology
from ..intervals import hysteresis, merge
from ..model import Cond
from ..violations import Violation, ViolationType
from .context import Context


class CurfewByRadio:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def out_of_range(self) -> list[tuple[float, float]]:
        f, p = self.ctx.frame, self.ctx.params
        if not len(f.rf_t):
            return []
        silence = p.no_signal_s["rf"]
        out: list[tuple[float, float]] = []
        start = None
        last_out = None
        for t, in_range in zip(f.rf_t.tolist(), f.rf_in.tolist(), strict=True):
            if start is not None and last_out is not None and t - last_out > silence:
                out.append((start, last_out))  # the unit fell silent: the absence is known up to here
                start = None
            if not in_range and start is None:
                start = t
            if not in_range:
                last_out = t
            if in_range and start is not None:
                out.append((start, t))
                start = None
        if start is not None and last_out is not None:
            end = self.ctx.data_end if self.ctx.data_end - last_out <= silence else last_out
            out.append((start, end))
        # Out of range for less than the grace period is the tag at the edge of the home unit's range.
        # An episode still open at the end of the data becomes an absence once it outlasts the grace too.
        return [(s, e) for s, e in out if e - s >= p.rf_grace_s]


class CurfewByGps:
    def __init__(self, ctx: Context, cond: Cond) -> None:
        self.ctx = ctx
        self.cond = cond

    def away(self) -> list[tuple[float, float]]:
        """Episodes away from the address, each from its first away fix to its last: the person is
        given the benefit of the doubt for the unobserved time either side, and a gap in the fixes
        (indoors, flat battery) ends what the fixes can show."""
        fx, p, home = self.ctx.fixes, self.ctx.params, self.cond.place
        if home is None or not len(fx.t):
            return []
        d = np.hypot(fx.x - home.x, fx.y - home.y) - home.r
        away = d > fx.acc + p.gps_away_margin_m
        at_home = d <= fx.acc
        out = []
        for a, b in hysteresis(away, at_home, p.gps_away_fixes, p.gps_home_fixes):
            idx = a + np.flatnonzero(away[a:b])
            t = fx.t[idx]
            cuts = np.flatnonzero(np.diff(t) > p.gps_stale_s) + 1
            for part in np.split(t, cuts):
                if len(part) >= p.gps_away_fixes:
                    out.append((float(part[0]), float(part[-1])))
        return out


def evaluate(ctx: Context) -> list[Violation]:
    out: list[Violation] = []
    radio: list[tuple[float, float]] | None = None
    for cond in ctx.subject.of_type(ConditionType.CURFEW):
        gps = cond.spec.technology == Technology.GPS
        if gps != (ctx.kind.value == "gps"):
            continue
        if gps:
            absent = CurfewByGps(ctx, cond).away()
        else:
            radio = radio if radio is not None else CurfewByRadio(ctx).out_of_range()
            absent = radio
        for ws, we in ctx.spans(cond):
            pieces = merge(
                [(max(s, ws), min(e, we)) for s, e in absent if s < we and e > ws], gap=ctx.params.rf_grace_s
            )
            total = sum(e - s for s, e in pieces)
            for s, e in pieces:
                still_open = e >= ctx.data_end and we >= ctx.data_end  # cut by the end of the data
                out.append(Violation(
                    ctx.subject.id, cond.order.id, cond.id, ViolationType.CURFEW_ABSENCE, s, None if still_open else e,
                    {"device": ctx.frame.device, "technology": "gps" if gps else "rf",
                     "late_arrival": s <= ws, "early_departure": e >= we and s > ws,
                     "whole_period": s <= ws and e >= we, "minutes_absent_in_period": round(total / 60),
                     "window_start": _iso(ws), "window_end": _iso(we)},
                ))  # fmt: skip
    return out


def _iso(t: float) -> str:
    from ..violations import iso

    return iso(t)
