"""The engine fed live: readings arrive in batches, late and out of order; violations are amended.

Per device, readings are held back until they are ``reorder_window_s`` behind the newest reading of
that device, so that slightly late readings are slotted in before anything is said. A reading later
than that re-evaluates its device, and the change is reported as amendments: a violation opened,
changed (its end set or moved, its evidence updated) or retracted. Whatever the arrival order and
batching, once everything has arrived ``flush()`` leaves exactly the violations of the batch engine.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .casefile import CaseFile
from .engine import Engine
from .model import Model, Params
from .telemetry import Reading
from .violations import Violation


@dataclass(frozen=True)
class Amendment:
    action: str  # "open", "change" or "retract"
    violation: Violation

    def to_json(self) -> dict[str, Any]:
        return {"action": self.action, **self.violation.to_json()}


def _key(v: Violation) -> tuple[str, str, str | None, str, str, float]:
    return v.identity  # defined once, in the engine


class StreamingEngine:
    def __init__(self, cases: CaseFile | Model, params: Params | None = None, reorder_window_s: float = 120.0) -> None:
        self.engine = Engine(cases, params)
        self.window = reorder_window_s
        self._held: dict[str, list[Reading]] = {}
        self._newest: dict[str, float] = {}
        self._released: list[Reading] = []
        self._current: dict[tuple[str, str, str | None, str, str, float], Violation] = {}

    def ingest(self, readings: Iterable[Reading]) -> list[Amendment]:
        for r in readings:
            self._held.setdefault(r.device, []).append(r)
            self._newest[r.device] = max(self._newest.get(r.device, r.t), r.t)
        return self._release(final=False)

    def flush(self) -> list[Amendment]:
        """Everything has arrived (end of a replay, or a device gone quiet): release all held readings."""
        return self._release(final=True)

    @property
    def violations(self) -> list[Violation]:
        return sorted(self._current.values(), key=Violation.sort_key)

    def _release(self, final: bool) -> list[Amendment]:
        released = []
        for device, held in self._held.items():
            cutoff = float("inf") if final else self._newest[device] - self.window
            ready = [r for r in held if r.t <= cutoff]
            if ready:
                self._held[device] = [r for r in held if r.t > cutoff]
                released += ready
        if not released:
            return []
        self.engine.add(released)
        result = self.engine.evaluate()
        fresh = {_key(v): v for v in result.violations}
        amendments = []
        for k, v in fresh.items():
            old = self._current.get(k)
            if old is None:
                amendments.append(Amendment("open", v))
            elif old.to_json() != v.to_json():
                amendments.append(Amendment("change", v))
        for k, v in self._current.items():
            if k not in fresh:
                amendments.append(Amendment("retract", v))
        self._current = fresh
        return amendments
