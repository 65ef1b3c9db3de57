"""Violations as the engine found them, stored; alerts, triage and enforcement build on these."""

from __future__ import annotations

import hashlib
from typing import Any

from django.db import models

from openem.engine.violations import Category, ViolationType
from openem.engine.violations import Violation as EngineViolation


def violation_key(v: EngineViolation) -> str:
    device = str(v.evidence.get("device", v.evidence.get("device_kind", "")))
    text = f"{v.person}|{v.order}|{v.condition}|{v.type.value}|{device}|{v.start:.0f}"
    return hashlib.sha256(text.encode()).hexdigest()[:40]


class Violation(models.Model):
    key = models.CharField(max_length=40, unique=True, help_text="same violation, same key, after any re-evaluation")
    person = models.ForeignKey("cases.Person", on_delete=models.CASCADE, related_name="violations")
    order_ref = models.CharField(max_length=40)
    condition_ref = models.CharField(max_length=40, blank=True)
    device = models.CharField(max_length=40, blank=True)
    type = models.CharField(max_length=32, choices=ViolationType.choices())
    category = models.CharField(max_length=12, choices=Category.choices())
    start = models.DateTimeField()
    end = models.DateTimeField(null=True, blank=True)
    evidence = models.JSONField(default=dict)
    retracted = models.BooleanField(default=False, help_text="later readings showed it did not happen")
    first_seen = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-start"]
        indexes = [models.Index(fields=["person", "-start"])]

    def __str__(self) -> str:
        return f"{self.person_id} {self.type} {self.start:%Y-%m-%d %H:%M}"

    @property
    def type_enum(self) -> ViolationType:
        return ViolationType(self.type)

    @property
    def is_open(self) -> bool:
        return self.end is None and not self.retracted

    @property
    def duration_s(self) -> float | None:
        return (self.end - self.start).total_seconds() if self.end else None

    def to_json(self) -> dict[str, Any]:
        return {
            "person": self.person.ref,
            "order": self.order_ref,
            "condition": self.condition_ref or None,
            "type": self.type,
            "category": self.category,
            "start": self.start.isoformat(),
            "end": self.end.isoformat() if self.end else None,
            "evidence": self.evidence,
        }


class DeviceSummary(models.Model):
    """What the engine last worked out about a device that is not a violation (sober days, say)."""

    device = models.CharField(max_length=40, unique=True)
    person = models.ForeignKey("cases.Person", on_delete=models.CASCADE, related_name="device_summaries")
    data = models.JSONField(default=dict)
    updated = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.device}: {self.data}"
