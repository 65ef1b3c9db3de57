"""Not monitored: an active monitored condition with no device of the kind it needs fitted.

Nobody is ever "monitored" without data: after ``not_fitted_grace_s`` from the start of a condition
with no device fitted, that is a violation (equipment) until a device is fitted.
"""

from __future__ import annotations

from ..enums import DeviceKind
from ..model import Model, Params, Subject
from ..violations import Violation, ViolationType


def evaluate(model: Model, subject: Subject, params: Params, data_start: float, data_end: float) -> list[Violation]:
    out = []
    fitted: dict[DeviceKind, list[tuple[float, float | None]]] = {}
    for f in model.fittings_of(subject):
        fitted.setdefault(f.kind, []).append((f.fitted, f.removed))
    seen: set[tuple[DeviceKind, float]] = set()
    for cond in subject.conditions:
        kind = cond.needs()
        if kind is None:
            continue
        due = cond.span[0] + params.not_fitted_grace_s
        if due >= min(cond.span[1], data_end) or cond.span[1] <= data_start:
            continue
        covered = [(s, e) for s, e in fitted.get(kind, []) if s <= due and (e is None or e > due)]
        if covered:
            continue
        later = sorted(s for s, e in fitted.get(kind, []) if s > due)
        end = min(later[0], cond.span[1]) if later else (cond.span[1] if cond.span[1] < data_end else None)
        if end is not None and end <= data_start:
            continue  # put right before the data we have: nothing to report now
        key = (kind, due)
        if key in seen:
            continue  # one violation per missing device, not one per condition it serves
        seen.add(key)
        out.append(
            Violation(
                subject.id,
                cond.order.id,
                cond.id,
                ViolationType.NOT_FITTED,
                due,  # stable, so that the same gap is the same violation at every evaluation
                end,
                {"device_kind": kind.value},
            )
        )
    return out
