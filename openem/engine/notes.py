"""What the rules say besides violations: typed notes (sober days, a low battery, fixes filtered out...).

A note is never an alert; the engine worker keeps some (a device's sober days), `openem replay --info`
prints them all.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .enums import LabelledEnum


class NoteKind(LabelledEnum):
    SOBER_DAYS = "sober_days"
    BATTERY_LOW = "battery_low"
    FIXES_FILTERED = "fixes_filtered"
    ATTENDANCE_UNKNOWN = "attendance_unknown"
    UNMONITORED_ZONE = "unmonitored_zone"
    ENVIRONMENTAL_EXPOSURE = "environmental_exposure"
    SINGLE_ALCOHOL_READING = "single_alcohol_reading"
    UNASSIGNED_READINGS = "unassigned_readings"

    @property
    def label(self) -> str:
        return {
            "sober_days": "Sober days",
            "battery_low": "Battery low",
            "fixes_filtered": "Fixes filtered out (inaccurate or a multipath spike)",
            "attendance_unknown": "Attendance not known (no fixes during the appointment)",
            "unmonitored_zone": "In a zone that is not GPS-monitored (information only)",
            "environmental_exposure": "Alcohol reading explained by the environment",
            "single_alcohol_reading": "A single alcohol reading, not confirmed",
            "unassigned_readings": "Readings while the device was fitted to nobody",
        }[self.value]


@dataclass(frozen=True)
class Note:
    kind: NoteKind
    device: str = ""
    person: str = ""
    data: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"info": self.kind.value}
        if self.person:
            out["person"] = self.person
        if self.device:
            out["device"] = self.device
        return {**out, **self.data}
