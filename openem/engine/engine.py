"""The engine: readings in (any order, any batching), violations out.

Per device, readings are put in measurement-time order (ties broken by seq and content) before any
rule sees them, and every rule is a function of that ordered set, so the same readings in any arrival
order or batching give the same violations. Each device's readings are split by fitting: a device
evaluates someone's conditions only while it is fitted to them; other readings are reported, never
evaluated against anyone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from .casefile import CaseFile
from .model import Model, Params, compile_cases
from .notes import Note, NoteKind
from .rules import monitoring
from .rules.context import Context
from .rules.pipeline import PIPELINE
from .telemetry import DeviceFrame, Reading, slice_frame
from .violations import Violation


@dataclass
class EngineResult:
    violations: list[Violation]
    notes: list[Note] = field(default_factory=list)

    @property
    def info(self) -> list[dict[str, Any]]:
        """The notes as JSON objects (``openem replay --info``, the worker's device summaries)."""
        return [n.to_json() for n in self.notes]


class RuleError(Exception):
    """A rule raised while evaluating one device's readings for one person: which rule, and why."""

    def __init__(self, rule: str, error: BaseException) -> None:
        super().__init__(f"the {rule} rule failed: {type(error).__name__}: {error}")
        self.rule = rule
        self.error = error


@dataclass
class Failure:
    """One evaluation that failed and was left out (the others went on): the device ("" for a person's
    own checks), the person, the rule and the exception."""

    device: str
    person: str
    rule: str
    error: BaseException


def evaluate_context(ctx: Context) -> list[Violation]:
    """The pipeline of rules (``rules.pipeline.PIPELINE``) for one device while fitted to one person. A rule
    that raises is named in the RuleError."""
    out: list[Violation] = []
    for rule in PIPELINE:
        if not rule.applies_to(ctx.kind):
            continue
        try:
            out += rule.evaluate(ctx, out).violations
        except Exception as exc:
            raise RuleError(rule.title, exc) from exc
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
        self,
        data_start: float | None = None,
        data_end: float | None = None,
        starts: dict[str, float] | None = None,
        on_error: Callable[[Failure], None] | None = None,
        people_checks: bool = True,
    ) -> EngineResult:
        """``starts``: where the data of some devices begins, when only a recent window of it is held
        (the engine worker's cache): silence before it is not silence.

        ``on_error``: each device's fitting to each person (and each person's own checks) is evaluated on
        its own; one that raises is passed to ``on_error`` and left out, and the rest go on (the engine
        worker: one device's fault must never stop anyone else's monitoring). Without it, the error
        propagates (a replay should fail loudly).

        ``people_checks``: also each person's own checks (a tag not fitted). The engine worker asks for them
        in its own check, not at every cycle: they concern everyone, not the devices with new readings."""
        frames = self.frames()
        starts = starts or {}
        times = [f.t for f in frames.values() if len(f.t)]
        if data_end is None:
            data_end = max((float(t[-1]) for t in times), default=0.0)
        if data_start is None:
            data_start = min((float(t[0]) for t in times), default=0.0)
        violations: list[Violation] = []
        notes: list[Note] = []
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
                try:
                    violations += evaluate_context(ctx)
                except RuleError as exc:
                    if on_error is None:
                        raise
                    on_error(Failure(device, fitting.subject.id, exc.rule, exc.error))
                notes += ctx.notes
            if assigned < len(frame.t):
                notes.append(
                    Note(
                        NoteKind.UNASSIGNED_READINGS,
                        device,
                        data={
                            "count": len(frame.t) - assigned,
                            "why": "the device was not fitted to anyone when these were measured",
                        },
                    )
                )
        for subject in self.model.subjects.values() if people_checks else ():
            try:
                violations += monitoring.evaluate(self.model, subject, self.params, data_start, data_end)
            except Exception as exc:
                if on_error is None:
                    raise
                on_error(Failure("", subject.id, "monitoring", exc))
        violations.sort(key=Violation.sort_key)
        return EngineResult(violations, notes)
