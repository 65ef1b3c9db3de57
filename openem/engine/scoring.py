"""Comparing violations with the simulator's truth: precision and recall per violation type."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .violations import BEHAVIOUR_TYPES, ViolationType

TOLERANCE_S = 180.0
BEHAVIOUR = {t.value for t in BEHAVIOUR_TYPES}


def _ts(text: str | None, default: float) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() if text else default


@dataclass
class TypeScore:
    truth: int = 0
    unobservable: int = 0
    found: int = 0
    reported: int = 0
    correct: int = 0

    @property
    def recall(self) -> float | None:
        return self.found / self.truth if self.truth else None

    @property
    def precision(self) -> float | None:
        return self.correct / self.reported if self.reported else None


@dataclass
class Score:
    by_type: dict[str, TypeScore] = field(default_factory=lambda: defaultdict(TypeScore))
    missed: list[dict[str, Any]] = field(default_factory=list)
    false: list[dict[str, Any]] = field(default_factory=list)
    equipment_as_behaviour: int = 0

    def behaviour_recall(self) -> float:
        truth = sum(s.truth for t, s in self.by_type.items() if t in BEHAVIOUR)
        found = sum(s.found for t, s in self.by_type.items() if t in BEHAVIOUR)
        return found / truth if truth else 1.0

    def false_behaviour(self) -> int:
        return sum(s.reported - s.correct for t, s in self.by_type.items() if t in BEHAVIOUR)


def score(truth: list[dict[str, Any]], found: list[dict[str, Any]], data_end: float) -> Score:
    """Match by person, type and overlapping time (with a tolerance for sparse fixes)."""
    result = Score()
    by_key: dict[tuple[str, str], list[tuple[float, float, dict[str, Any]]]] = defaultdict(list)
    for v in found:
        by_key[(v["person"], v["type"])].append((_ts(v["start"], 0), _ts(v["end"], data_end), v))
    truth_v = [v for v in truth if "type" in v]
    truth_by_key: dict[tuple[str, str], list[tuple[float, float]]] = defaultdict(list)
    for v in truth_v:
        truth_by_key[(v["person"], v["type"])].append((_ts(v["start"], 0), _ts(v["end"], data_end)))
    for v in truth_v:
        s = result.by_type[v["type"]]
        if v.get("evidence", {}).get("observable") is False:
            s.unobservable += 1
            continue
        s.truth += 1
        a, b = _ts(v["start"], 0), _ts(v["end"], data_end)
        if any(fs - TOLERANCE_S <= b and fe + TOLERANCE_S >= a for fs, fe, _ in by_key[(v["person"], v["type"])]):
            s.found += 1
        else:
            result.missed.append(v)
    equipment = defaultdict(list)
    for v in truth:
        person = v.get("person")
        if person and (v.get("category") == "equipment" or v.get("fault")):
            equipment[person].append((_ts(v.get("start"), 0), _ts(v.get("end"), data_end)))
    for (person, vtype), items in by_key.items():
        for fs, fe, v in items:
            s = result.by_type[vtype]
            s.reported += 1
            if any(ts - TOLERANCE_S <= fe and te + TOLERANCE_S >= fs for ts, te in truth_by_key[(person, vtype)]):
                s.correct += 1
            else:
                result.false.append(v)
                if vtype in BEHAVIOUR and any(
                    ts - TOLERANCE_S <= fe and te + TOLERANCE_S >= fs for ts, te in equipment[person]
                ):
                    result.equipment_as_behaviour += 1
    for t in ViolationType:
        result.by_type.setdefault(t.value, TypeScore())
    return result
