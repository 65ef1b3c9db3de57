"""Violations (FORMATS.md): what the rules produce, and their JSON Lines form."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .enums import LabelledEnum


class ViolationType(LabelledEnum):
    CURFEW_ABSENCE = "curfew_absence"
    EXCLUSION_ZONE_ENTRY = "exclusion_zone_entry"
    INCLUSION_ZONE_EXIT = "inclusion_zone_exit"
    ATTENDANCE_MISSED = "attendance_missed"
    ALCOHOL_CONFIRMED = "alcohol_confirmed"
    ALCOHOL_LEVEL_EXCEEDED = "alcohol_level_exceeded"
    TAMPER = "tamper"
    NO_SIGNAL = "no_signal"
    LOCATION_FAILURE = "location_failure"
    BATTERY_DEPLETED = "battery_depleted"
    HOME_UNIT_POWER = "home_unit_power"
    NOT_FITTED = "not_fitted"

    @property
    def category(self) -> Category:
        return Category.BEHAVIOUR if self in BEHAVIOUR_TYPES else Category.EQUIPMENT


class Category(LabelledEnum):
    BEHAVIOUR = "behaviour"  # what the person did
    EQUIPMENT = "equipment"  # what the kit did or could not tell


BEHAVIOUR_TYPES = {
    ViolationType.CURFEW_ABSENCE, ViolationType.EXCLUSION_ZONE_ENTRY, ViolationType.INCLUSION_ZONE_EXIT,
    ViolationType.ATTENDANCE_MISSED, ViolationType.ALCOHOL_CONFIRMED, ViolationType.ALCOHOL_LEVEL_EXCEEDED,
    ViolationType.TAMPER,
}  # fmt: skip


def iso(t: float) -> str:
    return datetime.fromtimestamp(round(t), UTC).isoformat().replace("+00:00", "Z")


@dataclass
class Violation:
    person: str
    order: str
    condition: str | None
    type: ViolationType
    start: float
    end: float | None
    evidence: dict[str, Any] = field(default_factory=dict)

    @property
    def category(self) -> Category:
        return self.type.category

    @property
    def identity(self) -> tuple[str, str, str | None, str, str, float]:
        """What makes two evaluations the same violation, defined once: the worker's reconciler, triage and
        the streaming engine all use it. The same person, order, condition, type and device, starting at
        the same second; its end and evidence may change as more readings arrive."""
        device = str(self.evidence.get("device", self.evidence.get("device_kind", "")))
        return (self.person, self.order, self.condition, self.type.value, device, round(self.start))

    @property
    def key(self) -> str:
        """``identity`` as a stored key (40 hex characters): the same after any re-evaluation."""
        person, order, condition, vtype, device, start = self.identity
        return hashlib.sha256(f"{person}|{order}|{condition}|{vtype}|{device}|{start}".encode()).hexdigest()[:40]

    def sort_key(self) -> tuple[str, float, str, str]:
        return (self.person, self.start, self.type.value, self.condition or "")

    def to_json(self) -> dict[str, Any]:
        return {
            "person": self.person,
            "order": self.order,
            "condition": self.condition,
            "type": self.type.value,
            "category": self.category.value,
            "start": iso(self.start),
            "end": iso(self.end) if self.end is not None else None,
            "duration_s": round(self.end - self.start) if self.end is not None else None,
            "evidence": self.evidence,
        }
