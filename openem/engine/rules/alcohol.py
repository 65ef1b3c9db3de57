"""Alcohol: confirmed drinking, level exceedance and sober days, from transdermal readings.

A drinking event is confirmed when transdermal alcohol reaches 0.02 g/dl over consecutive readings
with a rise drinking can cause; a single reading, or a rise faster than drinking can cause, is
reported as environmental exposure for an analyst, not as drinking.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np

from ..enums import AlcoholMode, ConditionType
from ..intervals import runs
from ..model import LONDON
from ..notes import NoteKind
from ..violations import Violation, ViolationType
from .context import Context


def evaluate(ctx: Context, confirmed_tamper: list[Violation]) -> list[Violation]:
    f, p = ctx.frame, ctx.params
    out: list[Violation] = []
    for cond in ctx.subject.of_type(ConditionType.ALCOHOL):
        lo, hi = max(cond.span[0], ctx.t_start), min(cond.span[1], ctx.t_end)
        sel = (f.alc_t >= lo) & (f.alc_t < hi)
        t, tac = f.alc_t[sel], f.tac[sel]
        level = cond.spec.level_g_dl if cond.spec.mode == AlcoholMode.LEVEL else None
        threshold = level if level is not None else p.alcohol_threshold_g_dl
        vtype = ViolationType.ALCOHOL_LEVEL_EXCEEDED if level is not None else ViolationType.ALCOHOL_CONFIRMED
        above = tac >= threshold if level is None else tac > level
        for a, b in episodes(t, above, p.alcohol_episode_gap_s):
            sub = above[a:b]
            longest = max((y - x for x, y in runs(sub)), default=0)
            rise = (tac[a] - tac[a - 1]) / max((t[a] - t[a - 1]) / 3600, 1e-6) if a > 0 else 0.0
            plausible = rise <= p.alcohol_max_rise_g_dl_h
            count = int(sub.sum())
            if longest >= p.alcohol_confirm_readings and (plausible or count > p.alcohol_confirm_readings):
                end = float(t[b]) if b < len(t) else None
                evidence = {
                    "device": f.device,
                    "peak_g_dl": round(float(tac[a:b].max()), 3),
                    "readings_above": count,
                    "rise_g_dl_h": round(float(rise), 3),
                }
                out.append(Violation(ctx.subject.id, cond.order.id, cond.id, vtype, float(t[a]), end, evidence))
            else:
                kind = NoteKind.ENVIRONMENTAL_EXPOSURE if not plausible else NoteKind.SINGLE_ALCOHOL_READING
                ctx.note(kind, time=float(t[a]), tac_g_dl=round(float(tac[a:b].max()), 3))
        ctx.note(NoteKind.SOBER_DAYS, **sober_days(t, [v for v in out if v.condition == cond.id] + confirmed_tamper))
    return out


def episodes(t: np.ndarray, above: np.ndarray, gap_s: float) -> list[tuple[int, int]]:
    """Index ranges [a, b) from the first to just after the last above-threshold reading of each
    episode; above-threshold readings less than gap_s apart belong to one episode. Transdermal
    readings dip and jump while drinking goes on (the bar-crawl data does), but alcohol does not
    leave the body and come back within the gap."""
    idx = np.flatnonzero(above)
    if not len(idx):
        return []
    splits = np.flatnonzero(np.diff(t[idx]) > gap_s) + 1
    return [(int(g[0]), int(g[-1]) + 1) for g in np.split(idx, splits)]


def _offset_s(t: float) -> float:
    offset = datetime.fromtimestamp(t, LONDON).utcoffset()
    return offset.total_seconds() if offset is not None else 0.0


def local_day_numbers(t: np.ndarray) -> np.ndarray:
    """Europe/London calendar day of each time, as a day number; the UTC offset is looked up once per
    UTC day (at noon, after any clock change) rather than once per reading."""
    utc_days = np.floor_divide(t, 86400).astype(np.int64)
    uniq, inverse = np.unique(utc_days, return_inverse=True)
    offsets = np.array([_offset_s(float(d) * 86400 + 43200) for d in uniq])
    return np.floor_divide(t + offsets[inverse], 86400).astype(np.int64)


def sober_days(t: np.ndarray, events: list[Violation]) -> dict[str, int]:
    """A sober day is a local day worn (readings through it) with no confirmed alcohol or tamper."""
    if not len(t):
        return {"days_worn": 0, "sober_days": 0, "current_streak": 0}
    days = local_day_numbers(t)
    worn = [d for d in np.unique(days) if (days == d).sum() >= 40]  # about 20 hours of half-hourly readings
    bad: set[int] = set()
    for v in events:
        end = v.end if v.end is not None else float(t[-1])
        d0, d1 = (int(d) for d in local_day_numbers(np.array([v.start, end])))
        bad.update(range(d0, d1 + 1))
    sober = [d for d in worn if d not in bad]
    streak = 0
    for d in reversed(worn):
        if d in bad:
            break
        streak += 1
    return {"days_worn": len(worn), "sober_days": len(sober), "current_streak": streak}
