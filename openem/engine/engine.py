"""The engine: readings in (any order, any batching), violations out.

Per device, readings are put in measurement-time order (ties broken by seq and content) before any
rule sees them, and every rule is a function of that ordered set, so the same readings in any arrival
order or batching give the same violations. Each device's readings are split by fitting: a device
evaluates someone's conditions only while it is fitted to them; other readings are reported, never
evaluated against anyone.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .casefile import CaseFile
from .enums import DeviceKind
from .model import Model, Params, compile_cases
from .rules import alcohol, attendance, curfew, equipment, monitoring, zones
from .rules.context import Context
from .telemetry import DeviceFrame, Reading, slice_frame
from .violations import Violation


@dataclass
class EngineResult:
    violations: list[Violation]
    info: list[dict[str, Any]] = field(default_factory=list)


def evaluate_context(ctx: Context) -> list[Violation]:
    """The ordered pipeline of rules for one device while fitted to one person."""
    out: list[Violation] = []
    if ctx.kind == DeviceKind.GPS:
        out += curfew.evaluate(ctx)
        out += zones.evaluate(ctx)
        out += attendance.evaluate(ctx)
        out += equipment.location_failure(ctx)
    elif ctx.kind == DeviceKind.RF:
        out += curfew.evaluate(ctx)
        out += equipment.home_unit_power(ctx)
    tampers = equipment.tamper(ctx)
    out += tampers
    if ctx.kind == DeviceKind.ALCOHOL:
        out += alcohol.evaluate(ctx, tampers)
    out += equipment.silence(ctx)
    equipment.battery_low(ctx)
    return out


class Engine:
    def __init__(self, cases: CaseFile | Model, params: Params | None = None) -> None:
        self.model = cases if isinstance(cases, Model) else compile_cases(cases)
        self.params = params or Params()
        self._readings: dict[str, list[Reading]] = {}
        self._frames: dict[str, DeviceFrame] = {}

    def add(self, readings: Iterable[Reading]) -> None:
        for r in readings:
            self._readings.setdefault(r.device, []).append(r)
            self._frames.pop(r.device, None)

    def add_frame(self, frame: DeviceFrame) -> None:
        """Columns already in time order (benchmarks, bulk replays from storage)."""
        self._frames[frame.device] = frame

    def frames(self) -> dict[str, DeviceFrame]:
        for device, rs in self._readings.items():
            if device not in self._frames:
                self._frames[device] = DeviceFrame.build(device, rs)
        return self._frames

    def evaluate(
        self, data_start: float | None = None, data_end: float | None = None, starts: dict[str, float] | None = None
    ) -> EngineResult:
        """``starts``: where the data of some devices begins, when only a recent window of it is held
        (the engine worker's cache): silence before it is not silence."""
        frames = self.frames()
        starts = starts or {}
        times = [f.t for f in frames.values() if len(f.t)]
        if data_end is None:
            data_end = max((float(t[-1]) for t in times), default=0.0)
        if data_start is None:
            data_start = min((float(t[0]) for t in times), default=0.0)
        violations: list[Violation] = []
        info: list[dict[str, Any]] = []
        for device, frame in sorted(frames.items()):
            assigned = 0
            for fitting in self.model.fittings.get(device, []):
                end = fitting.removed if fitting.removed is not None else float("inf")
                part = slice_frame(frame, fitting.fitted, end)
                assigned += len(part.t)
                ctx = Context(
                    fitting.subject,
                    part,
                    fitting.kind,
                    self.params,
                    fitting.fitted,
                    min(end, data_end),
                    data_end,
                    starts.get(device, data_start),
                )
                violations += evaluate_context(ctx)
                info += ctx.info
            if assigned < len(frame.t):
                info.append(
                    {
                        "info": "unassigned_readings",
                        "device": device,
                        "count": len(frame.t) - assigned,
                        "why": "the device was not fitted to anyone when these were measured",
                    }
                )
        for subject in self.model.subjects.values():
            violations += monitoring.evaluate(self.model, subject, self.params, data_start, data_end)
        violations.sort(key=Violation.sort_key)
        return EngineResult(violations, info)
