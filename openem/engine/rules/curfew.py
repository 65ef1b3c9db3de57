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
    """Out of range from an "out of range" reading to the next "in range" one, however long, while the
    home unit shows it is alive. Units that report only changes send nothing about the tag in between,
    just heartbeats, power and status calls: any reading from the unit counts as alive, and only a
    silence of the unit itself longer than ``no_signal_s["rf"]`` ends what the readings show."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.cut_by_silence: set[float] = set()  # ends that are the unit going silent, not a return

    def out_of_range(self) -> list[tuple[float, float]]:
        f, p = self.ctx.frame, self.ctx.params
        if not len(f.rf_t):
            return []
        silence = p.no_signal_s["rf"]
        # The last reading (of any type) before each silence of the unit: an absence is known up to there.
        quiet = np.flatnonzero(np.diff(f.t) > silence)
        last_heard = f.t[quiet].tolist()
        # Which stretch of the unit's life each range reading falls in (stretches are split by silences).
        stretch = np.searchsorted(f.t[quiet], f.rf_t, side="left").tolist()
        out: list[tuple[float, float]] = []
        start: float | None = None
        start_in = -1
        for t, in_range, k in zip(f.rf_t.tolist(), f.rf_in.tolist(), stretch, strict=True):
            if start is not None and k != start_in:
                # The unit fell silent while the tag was out. After the silence the tag's range is not
                # known until the unit says it again: a change may have been lost while it was silent.
                out.append((start, last_heard[start_in]))
                self.cut_by_silence.add(last_heard[start_in])
                start = None
            if in_range:
                if start is not None:
                    out.append((start, t))
                    start = None
            elif start is None:
                start, start_in = t, k
        if start is not None:
            if start_in < len(last_heard):
                end = last_heard[start_in]
                self.cut_by_silence.add(end)
            else:
                # Still out at the end of the data, or at the removal of the unit, if it was alive then.
                last, horizon = float(f.t[-1]), min(self.ctx.t_end, self.ctx.data_end)
                end = horizon if horizon - last <= silence else last
                if horizon - last > silence:
                    self.cut_by_silence.add(end)
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
    cut: set[float] = set()
    for cond in ctx.subject.of_type(ConditionType.CURFEW):
        gps = cond.spec.technology == Technology.GPS
        if gps != (ctx.kind.value == "gps"):
            continue
        if gps:
            absent = CurfewByGps(ctx, cond).away()
        else:
            if radio is None:
                by_radio = CurfewByRadio(ctx)
                radio, cut = by_radio.out_of_range(), by_radio.cut_by_silence
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
                     "window_start": _iso(ws), "window_end": _iso(we),
                     # Ended because the home unit fell silent (no signal), not because the wearer came back.
                     **({"unit_silent_from": _iso(e)} if e < we and e in cut else {})},
                ))  # fmt: skip
    return out


def _iso(t: float) -> str:
    from ..violations import iso

    return iso(t)
