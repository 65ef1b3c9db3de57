"""Device-level conditions: tamper, flat battery, silence, home unit off mains, and location failure.

Each is its own violation type; all but tamper are equipment, not behaviour, and none of them says the
person did anything.
"""

from __future__ import annotations

import numpy as np

from ..enums import ConditionType
from ..intervals import confirmed_runs
from ..notes import NoteKind
from ..violations import Violation, ViolationType
from .context import Context


def _order_of(ctx: Context) -> str:
    conds = ctx.subject.conditions
    active = [c for c in conds if c.span[0] <= ctx.t_end and c.span[1] >= ctx.t_start]
    return (active or conds)[0].order.id if conds else ""


def tamper(ctx: Context) -> list[Violation]:
    out = []
    order = _order_of(ctx)
    opened: dict[str, float] = {}
    for t, kind, is_open in ctx.frame.tamper:
        if is_open and kind not in opened:
            opened[kind] = t
        elif not is_open and kind in opened:
            out.append(
                Violation(
                    ctx.subject.id,
                    order,
                    None,
                    ViolationType.TAMPER,
                    opened.pop(kind),
                    t,
                    {"device": ctx.frame.device, "kind": kind},
                )
            )
    for kind, t in opened.items():
        out.append(
            Violation(
                ctx.subject.id, order, None, ViolationType.TAMPER, t, None, {"device": ctx.frame.device, "kind": kind}
            )
        )
    f, p = ctx.frame, ctx.params
    if len(f.alc_t):
        # An alcohol tag covered or taken off: infrared sees no skin and the temperature falls.
        blocked = (np.nan_to_num(f.ir_v) > p.obstruction_ir_v) & (
            np.nan_to_num(f.temp_c, nan=99) < p.obstruction_temp_c
        )
        for a, b in confirmed_runs(blocked, p.obstruction_confirm_readings):
            end = float(f.alc_t[b]) if b < len(f.alc_t) else None
            out.append(
                Violation(
                    ctx.subject.id,
                    order,
                    None,
                    ViolationType.TAMPER,
                    float(f.alc_t[a]),
                    end,
                    {"device": f.device, "kind": "obstruction", "readings": b - a},
                )
            )
    return out


def silence(ctx: Context) -> list[Violation]:
    """Gaps in everything a device sends: a flat battery if its last report said so, else no signal."""
    f, p = ctx.frame, ctx.params
    limit = p.no_signal_limit_s(ctx.kind.value)
    # Up to the removal when the device was taken off (a silence then ends with the fitting: the device
    # may be worn by someone else next), else up to the end of the data, where a silence stays open.
    t = np.concatenate([[max(ctx.t_start, ctx.data_start)], f.t, [ctx.t_end]])
    gaps = np.flatnonzero(np.diff(t) > limit)
    out = []
    order = _order_of(ctx)
    for i in gaps:
        start, end = float(t[i]), float(t[i + 1])
        if i == 0 and not len(f.t):
            continue  # never heard from: not_fitted / not monitored says it
        open_end = i + 1 == len(t) - 1 and ctx.t_end >= ctx.data_end
        vtype = ViolationType.NO_SIGNAL
        evidence: dict[str, object] = {"device": f.device, "silent_from": None}
        if len(f.batt_t):
            k = np.searchsorted(f.batt_t, start, side="right") - 1
            if k >= 0 and f.batt_pct[k] <= p.battery_flat_pct and f.batt_charging[k] != 1:
                vtype = ViolationType.BATTERY_DEPLETED
                evidence = {"device": f.device, "last_battery_pct": int(f.batt_pct[k])}
        evidence.pop("silent_from", None)
        out.append(Violation(ctx.subject.id, order, None, vtype, start, None if open_end else end, evidence))
    return out


def home_unit_power(ctx: Context) -> list[Violation]:
    f = ctx.frame
    out = []
    off = None
    for t, on in zip(f.mains_t.tolist(), f.mains_on.tolist(), strict=True):
        if not on and off is None:
            off = t
        elif on and off is not None:
            out.append(
                Violation(
                    ctx.subject.id, _order_of(ctx), None, ViolationType.HOME_UNIT_POWER, off, t, {"device": f.device}
                )
            )
            off = None
    if off is not None:
        # Still off at the end: open, unless the unit was removed (then the outage ends with the fitting).
        end = ctx.t_end if ctx.t_end < ctx.data_end else None
        out.append(
            Violation(
                ctx.subject.id, _order_of(ctx), None, ViolationType.HOME_UNIT_POWER, off, end, {"device": f.device}
            )
        )
    return out


def location_failure(ctx: Context) -> list[Violation]:
    """The tag reports, but gives no usable fix for longer than location_failure_s."""
    f, p, fx = ctx.frame, ctx.params, ctx.fixes
    trails = ctx.subject.of_type(ConditionType.TRAIL)
    if not trails:
        return []
    limit = p.no_signal_s["gps"]
    edges = np.concatenate([[max(ctx.t_start, ctx.data_start)], fx.t, [ctx.t_end]])
    out = []
    for i in np.flatnonzero(np.diff(edges) > p.location_failure_s):
        s, e = float(edges[i]), float(edges[i + 1])
        alive = f.t[(f.t > s) & (f.t < e)]
        # Alive throughout (no silence longer than no_signal): otherwise it is silence, not location failure.
        span = np.concatenate([[s], alive, [e]])
        if not len(alive) or np.diff(span).max() > limit:
            continue
        cond = next((c for c in trails if c.span[0] <= s < c.span[1]), None)
        if cond is None:
            continue
        end = None if i + 1 == len(edges) - 1 and ctx.t_end >= ctx.data_end else e
        out.append(
            Violation(
                ctx.subject.id,
                cond.order.id,
                cond.id,
                ViolationType.LOCATION_FAILURE,
                s,
                end,
                {"device": f.device, "reports_without_fix": len(alive)},
            )
        )
    return out


def battery_low(ctx: Context) -> None:
    """Low battery is not a violation but work for the monitoring centre (call the wearer to charge)."""
    f = ctx.frame
    low = (f.batt_pct < ctx.params.battery_low_pct) & (f.batt_charging != 1)
    for a, _b in confirmed_runs(low, 1):
        ctx.note(NoteKind.BATTERY_LOW, time=float(f.batt_t[a]), battery_pct=int(f.batt_pct[a]))
