"""Prometheus metrics, read at each scrape from what the processes report in their heartbeats (their
counters, lag and backlog), the queues' sizes and the open faults. Nothing here names a person or a device.

A heartbeat's counters (``Beat.count``) map by name: ``accepted_<source>``, ``rejected_<source>``,
``duplicates_<source>``, ``refused_<reason>``, ``announced``, ``publish_failed``, the engine's ``readings``
(or ``evaluated``), ``failed`` (or ``failed_devices``) and ``violations_opened``, the alerts worker's
``triaged``, ``incidents_opened``, ``notifications_queued``, ``notifications_sent``, ``notifications_failed``
and ``failed``, ``restarts:<child>`` (the supervisor),
``reading_to_violation[_<stat>][_s]`` (seconds, a gauge); any other number is exported as
``openem_process_counter{counter=...}``. Counters are per process (label ``process``) and restart from zero
with it, which Prometheus's ``rate()`` understands."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from django.db.models import Min
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from .models import Component, Fault, FaultKind
from .status import Status, assess

# counter prefix -> (metric name without _total, help, label the rest of the key goes in)
PER_KIND = {
    "accepted_": ("openem_readings_accepted", "Readings stored, by source", "source"),
    "rejected_": ("openem_readings_rejected", "Readings refused and kept as rejected, by source", "source"),
    "duplicates_": ("openem_readings_duplicate", "Readings received again and not stored twice, by source", "source"),
    "refused_": ("openem_ingest_refused", "Requests refused before reading them (limits, credentials)", "reason"),
    "restarts:": ("openem_child_restarts", "Processes of `openem run` restarted after they stopped", "child"),
}
# (component, counter) -> (metric name without _total, help); component "*" for any process.
SINGLE = {
    ("*", "announced"): ("openem_bus_announced", "Readings announced on the message bus"),
    ("*", "publish_failed"): ("openem_bus_publish_failed", "Announcements the message bus did not accept"),
    ("engine", "readings"): ("openem_readings_evaluated", "Readings the engine evaluated"),
    ("engine", "evaluated"): ("openem_readings_evaluated", "Readings the engine evaluated"),
    ("engine", "failed"): ("openem_evaluation_failures", "Device evaluations that failed (an operational alert each)"),
    ("engine", "failed_devices"): (
        "openem_evaluation_failures",
        "Device evaluations that failed (an operational alert each)",
    ),
    ("engine", "violations_opened"): ("openem_violations_opened", "Violations the engine opened"),
    ("alerts", "triaged"): ("openem_violations_triaged", "New and changed violations triaged"),
    ("alerts", "incidents_opened"): ("openem_incidents_opened", "Incidents opened"),
    ("alerts", "notifications_queued"): ("openem_notifications_queued", "Notifications queued"),
    ("*", "notifications_sent"): ("openem_notifications_sent", "Notifications sent"),
    ("*", "notifications_failed"): ("openem_notifications_failed", "Notifications given up on"),
    ("alerts", "failed"): (
        "openem_alerts_items_failed",
        "Alerts items skipped after failing (an operational alert each)",
    ),
}
LATENCY = re.compile(r"^(?:reading_to_violation|latency)(?:_(?P<stat>[a-z0-9]+?))?(?:_s|_seconds)?$")


def _number(v: Any) -> float | None:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


class HealthCollector(Collector):
    """Reads the database at collection time; registered in a registry of its own per scrape."""

    def __init__(self, status: Status | None = None) -> None:
        self.status = status

    def collect(self) -> Iterator[Metric]:
        status = self.status or assess()
        processes = [p for p in status.processes if not p.superseded]
        up = GaugeMetricFamily(
            "openem_process_up", "1 while the process beats, 0 when down or stopped", labels=["process", "component"]
        )
        age = GaugeMetricFamily(
            "openem_heartbeat_age_seconds", "Seconds since the process last reported", labels=["process", "component"]
        )
        lag = GaugeMetricFamily(
            "openem_lag_seconds",
            "How far behind its input the process is (engine: per shard)",
            labels=["process", "component"],
        )
        backlog = GaugeMetricFamily("openem_backlog", "Items waiting for the process", labels=["process", "component"])
        latency = GaugeMetricFamily(
            "openem_reading_to_violation_seconds",
            "From a reading's arrival to its violation, as the engine reports it",
            labels=["process", "stat"],
        )
        per_kind = {
            prefix: CounterMetricFamily(name, doc, labels=["process", label])
            for prefix, (name, doc, label) in PER_KIND.items()
        }
        single = {name: CounterMetricFamily(name, doc, labels=["process"]) for name, doc in SINGLE.values()}
        other = GaugeMetricFamily(
            "openem_process_counter", "Other numbers a process reports", labels=["process", "counter"]
        )
        for p in processes:
            hb = p.heartbeat
            labels = [hb.name, hb.component]
            up.add_metric(labels, 1.0 if p.live else 0.0)
            age.add_metric(labels, max(0.0, p.age_s))
            if hb.lag_s is not None:
                lag.add_metric(labels, hb.lag_s)
            if hb.backlog is not None:
                backlog.add_metric(labels, float(hb.backlog))
            for key, raw in (hb.counters or {}).items():
                value = _number(raw)
                if value is None:
                    continue
                prefix = next((pre for pre in PER_KIND if key.startswith(pre)), None)
                if prefix is not None:
                    per_kind[prefix].add_metric([hb.name, key[len(prefix) :]], value)
                elif known := SINGLE.get((hb.component, key)) or SINGLE.get(("*", key)):
                    single[known[0]].add_metric([hb.name], value)
                elif m := LATENCY.match(key):
                    latency.add_metric([hb.name, m["stat"] or "last"], value)
                else:
                    other.add_metric([hb.name, key], value)
        yield from (up, age, lag, backlog, latency, *per_kind.values(), *single.values(), other)

        degraded = GaugeMetricFamily("openem_degraded", "1 when the service is degraded (a banner in the portal)")
        degraded.add_metric([], 1.0 if status.degraded else 0.0)
        yield degraded
        yield self._queues(status)
        yield self._faults()

    def _queues(self, status: Status) -> Metric:
        from openem.alerts.models import Notification, NotificationStatus, Violation

        queue = GaugeMetricFamily("openem_queue_size", "Work waiting, by queue", labels=["queue"])
        queue.add_metric(["violations_awaiting_triage"], float(Violation.objects.filter(triage_pending=True).count()))
        queue.add_metric(
            ["notifications_pending"], float(Notification.objects.filter(status=NotificationStatus.PENDING).count())
        )
        unevaluated = readings_not_evaluated(status)
        if unevaluated is not None:
            queue.add_metric(["readings_not_evaluated"], float(unevaluated))
        return queue

    def _faults(self) -> Metric:
        faults = GaugeMetricFamily(
            "openem_faults_open", "Operational alerts not yet resolved, by kind", labels=["kind"]
        )
        counts = dict.fromkeys((k.value for k in FaultKind), 0)
        for kind in Fault.objects.open().values_list("kind", flat=True):
            counts[kind] = counts.get(kind, 0) + 1
        for kind, n in counts.items():
            faults.add_metric([kind], float(n))
        return faults


def readings_not_evaluated(status: Status) -> int | None:
    """What the engine workers report as their backlog; without it, readings past the furthest-behind
    cursor (an estimate from ids: two index look-ups, never a count over the table)."""
    from openem.telemetry.models import EngineCursor, Reading

    engines = [p.heartbeat for p in status.processes if not p.superseded and p.heartbeat.component == Component.ENGINE]
    backlogs = [hb.backlog for hb in engines if hb.backlog is not None]
    if backlogs:  # each shard's cursor runs over every reading: the furthest behind says what waits
        return int(max(backlogs))
    start = EngineCursor.objects.aggregate(m=Min("last_reading_id"))["m"]
    if start is None:
        return None
    last = Reading.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    return max(0, int(last) - int(start))
