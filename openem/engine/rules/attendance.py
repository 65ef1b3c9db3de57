"""Attendance: present at the place during the appointment, or shown to be elsewhere.

Attended if any fix during the appointment (with a tolerance either side) could be at the place.
Missed only if fixes show the person away from it; with no fixes at all it is unknown, not missed.
"""

from __future__ import annotations

import numpy as np

from ..enums import ConditionType
from ..notes import NoteKind
from ..violations import Violation, ViolationType
from .context import Context


def evaluate(ctx: Context) -> list[Violation]:
    fx, p = ctx.fixes, ctx.params
    out = []
    for cond in ctx.subject.of_type(ConditionType.ATTENDANCE):
        place = cond.place
        if place is None:
            continue
        for appt in cond.spec.appointments:
            s, e = appt.start.timestamp(), appt.end.timestamp()
            if not (ctx.t_start <= s < ctx.t_end) or e > ctx.data_end:
                continue
            sel = (fx.t >= s - p.attendance_tolerance_s) & (fx.t <= e + p.attendance_tolerance_s)
            d = np.hypot(fx.x[sel] - place.x, fx.y[sel] - place.y) - place.r
            present = d <= fx.acc[sel]
            inside = (fx.t[sel] >= s) & (fx.t[sel] <= e)
            away = (d > fx.acc[sel] + p.gps_away_margin_m) & inside
            if present.any():
                continue
            if away.sum() >= p.attendance_away_fixes:
                nearest = float(d.min()) if len(d) else None
                out.append(
                    Violation(
                        ctx.subject.id,
                        cond.order.id,
                        cond.id,
                        ViolationType.ATTENDANCE_MISSED,
                        s,
                        e,
                        {
                            "device": ctx.frame.device,
                            "place": cond.spec.name,
                            "fixes_elsewhere": int(away.sum()),
                            "nearest_m": round(nearest) if nearest is not None else None,
                        },
                    )
                )
            else:
                ctx.note(
                    NoteKind.ATTENDANCE_UNKNOWN,
                    condition=cond.id,
                    appointment_start=appt.start.isoformat(),
                    why="no fixes during it",
                )
    return out
