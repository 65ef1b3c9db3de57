"""What the service knows about its own health: each long-running process's heartbeat, and the faults
(operational alerts) the monitoring centre must see: an evaluation that failed for one device, a person
whose case could not be compiled, an alerts item skipped, a worker down, evaluation running late.

A fault is about the service, never a judgement on the wearer: it says which device, person or rule the
service failed for, so that an operator knows whose monitoring is at risk until it is fixed."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.db import models
from django.db.models import Q
from django.utils import timezone

from openem.engine.enums import LabelledEnum

log = logging.getLogger(__name__)


class Component(LabelledEnum):
    ENGINE = "engine"
    ALERTS = "alerts"
    INGEST = "ingest"
    MQTT = "mqtt"
    BUS = "bus"
    PORTAL = "portal"
    SUPERVISOR = "supervisor"
    CRIME = "crime"  # the crime worker: matches police crime batches


class FaultKind(LabelledEnum):
    EVALUATION_FAILED = "evaluation_failed"  # the rules raised for one device: its wearer is not evaluated
    CASE_NOT_COMPILED = "case_not_compiled"  # one person's orders could not be compiled: they are not evaluated
    FITTINGS_OVERLAP = "fittings_overlap"  # the records put one device on two people at once
    ALERTS_ITEM_FAILED = "alerts_item_failed"  # a violation, escalation or digest the alerts worker skipped
    WORKER_DOWN = "worker_down"  # a process stopped sending heartbeats
    EVALUATION_BEHIND = "evaluation_behind"  # readings are waiting longer than they should
    BUS_DOWN = "bus_down"  # the message bus cannot be reached: announcements wait
    CHILD_RESTARTED = "child_restarted"  # the supervisor restarted a process that died
    CRIME_BATCH_FAILED = "crime_batch_failed"  # the crime worker could not match a batch (it tries again later)
    # or one crime of it (marked failed; the rest of the batch goes on)
    CRIME_EVIDENCE_ALTERED = "crime_evidence_altered"  # a match's kept positions fail their digest: not shown

    @property
    def label(self) -> str:
        return {
            "evaluation_failed": "Evaluation failed",
            "case_not_compiled": "Case could not be compiled",
            "fittings_overlap": "Fitting records overlap",
            "alerts_item_failed": "Alert processing failed",
            "worker_down": "Worker down",
            "evaluation_behind": "Evaluation running late",
            "bus_down": "Message bus unreachable",
            "child_restarted": "Process restarted",
            "crime_batch_failed": "Crime batch not matched",
            "crime_evidence_altered": "Crime match evidence altered",
        }[self.value]


class Heartbeat(models.Model):
    """One long-running process (a worker, a shard, the receiver), as it last reported itself."""

    name = models.CharField(max_length=80, unique=True, help_text='what it does, e.g. "engine 1/2", "alerts"')
    component = models.CharField(max_length=12, choices=Component.choices())
    host = models.CharField(max_length=120, blank=True)
    pid = models.IntegerField(null=True)
    started_at = models.DateTimeField()
    beat_at = models.DateTimeField(db_index=True)
    every_s = models.FloatField(default=5.0, help_text="how often it beats: silent for 4 times this is down")
    lag_s = models.FloatField(null=True, blank=True, help_text="how far behind its input it is, in seconds")
    backlog = models.BigIntegerField(null=True, blank=True, help_text="items waiting for it")
    counters = models.JSONField(default=dict, blank=True, help_text="totals since it started, for metrics")
    stopped = models.BooleanField(default=False, help_text="stopped on purpose (not down)")
    detail = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["component", "name"]

    def __str__(self) -> str:
        return self.name

    def is_down(self, now: Any = None) -> bool:
        now = now or timezone.now()
        return not self.stopped and now - self.beat_at > timedelta(seconds=max(4 * self.every_s, 20.0))


class FaultQuerySet(models.QuerySet["Fault"]):
    def open(self) -> FaultQuerySet:
        return self.filter(resolved_at__isnull=True)


class Fault(models.Model):
    """An operational alert: something the service failed to do, and for whom. One open fault per key:
    the same failure again counts on the open fault instead of adding rows."""

    key = models.CharField(max_length=200, help_text="what failed, e.g. evaluation_failed:RF-0001")
    kind = models.CharField(max_length=24, choices=FaultKind.choices())
    component = models.CharField(max_length=12, choices=Component.choices())
    summary = models.CharField(max_length=300)
    detail = models.TextField(blank=True, help_text="the traceback or what was seen")
    device = models.CharField(max_length=40, blank=True)
    person = models.ForeignKey("cases.Person", null=True, blank=True, on_delete=models.SET_NULL)
    rule = models.CharField(max_length=80, blank=True)
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()
    count = models.PositiveIntegerField(default=1)
    resolved_at = models.DateTimeField(null=True, blank=True)

    objects = FaultQuerySet.as_manager()

    class Meta:
        ordering = ["-last_seen"]
        constraints = [
            models.UniqueConstraint(
                fields=["key"], condition=Q(resolved_at__isnull=True), name="one_open_fault_per_key"
            )
        ]

    def __str__(self) -> str:
        return self.summary

    @property
    def kind_enum(self) -> FaultKind:
        return FaultKind(self.kind)

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None

    @property
    def affects(self) -> str:
        """Whose monitoring is at risk when the fault names no person or device: what its component does."""
        return {
            Component.ENGINE.value: "Everyone whose devices it evaluates",
            Component.ALERTS.value: "Everyone who should be notified",
            Component.INGEST.value: "Devices sending readings to it",
            Component.MQTT.value: "Devices sending readings over MQTT",
            Component.BUS.value: "Everyone: evaluation waits for it",
            Component.PORTAL.value: "No one's monitoring: portal users",
            Component.SUPERVISOR.value: "Everyone: processes are not restarted",
            Component.CRIME.value: "Police forces waiting for crime matching",
        }.get(self.component, "Everyone")
