"""The service's own state, assessed from the heartbeats and the open faults: ok or degraded, and what to
tell the monitoring centre ("The alerts worker has been down since 10:15 — notifications are not being
sent") and practitioners ("Device data is being evaluated 12 minutes late: statuses may be out of date").

``assess`` reads two small tables and changes nothing; ``check_health`` also raises and resolves the
WORKER_DOWN and EVALUATION_BEHIND faults, and is what something periodic calls (the supervisor of
``openem run`` every 15 seconds; any worker may too); ``current_status`` is ``assess`` reused for a few
seconds, for pages."""

from __future__ import annotations

import logging
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from openem.engine.enums import LabelledEnum
from openem.uktime import duration, plural
from openem.uktime import when as uk_when

from .faults import raise_fault
from .models import Component, Fault, FaultKind, Heartbeat

log = logging.getLogger(__name__)

# The faults this module opens and closes itself; others (BUS_DOWN, EVALUATION_FAILED...) are raised where
# the failure happens.
ASSESSED = (FaultKind.WORKER_DOWN, FaultKind.EVALUATION_BEHIND)
BEHIND_KEY = "engine"


class State(LabelledEnum):
    OK = "ok"
    DEGRADED = "degraded"


@dataclass(frozen=True)
class Process:
    """One heartbeat as assessed now. A process that names itself by its pid ("ingest 4242") and was
    replaced by one of the same kind started after it fell silent is ``superseded``: its silence is not an
    outage. A sibling that runs beside it (``--processes N``) does not excuse it."""

    heartbeat: Heartbeat
    group: str
    age_s: float
    down: bool
    superseded: bool

    @property
    def live(self) -> bool:
        return not self.down and not self.superseded and not self.heartbeat.stopped


@dataclass(frozen=True)
class Problem:
    kind: FaultKind
    key: str  # the fault's key, without its kind
    component: Component
    message: str  # for the monitoring centre
    notice: str  # for practitioners; empty when it does not change what they see
    since: datetime | None


@dataclass
class Status:
    at: datetime
    processes: list[Process] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    lag_s: float | None = None  # the engine's worst lag among live workers

    @property
    def state(self) -> State:
        return State.DEGRADED if self.problems else State.OK

    @property
    def degraded(self) -> bool:
        return bool(self.problems)

    @property
    def notices(self) -> list[str]:
        """What practitioners are told, each once."""
        return list(dict.fromkeys(p.notice for p in self.problems if p.notice))

    def live(self, component: Component) -> list[Process]:
        return [p for p in self.processes if p.live and p.heartbeat.component == component.value]


def group_of(hb: Heartbeat) -> str:
    """The heartbeat's name without a trailing pid: every receiver process started under one name."""
    suffix = f" {hb.pid}"
    return hb.name[: -len(suffix)] if hb.pid is not None and hb.name.endswith(suffix) else hb.name


def when(t: datetime | None, now: datetime) -> str:
    """10:15 today, Tue 1 Dec 10:15 before."""
    return "a moment ago" if t is None else uk_when(t, now)


def how_long(seconds: float) -> str:
    return plural(round(seconds), "second") if seconds < 120 else duration(seconds)


SHARD = re.compile(r"^engine (\d+)/(\d+)$")  # "engine 0/2": shard 1 of 2 (also "engine shard 1 of 2")
PARTITION = re.compile(r"^engine partition (\d+)$")
WHO = {
    Component.ALERTS: "The alerts worker",
    Component.INGEST: "The ingest receiver",
    Component.MQTT: "The MQTT subscriber",
    Component.BUS: "The bus announcer",
    Component.PORTAL: "The portal",
    Component.SUPERVISOR: "The supervisor (openem run)",
    Component.CRIME: "The crime worker",
}
CONSEQUENCE = {
    Component.ENGINE: "device data for its devices is not being evaluated",
    Component.ALERTS: "notifications are not being sent",
    Component.INGEST: "devices cannot deliver readings to it",
    Component.MQTT: "readings sent over MQTT are not being received",
    Component.BUS: "new readings are stored but not announced to the engine",
    Component.PORTAL: "",
    Component.SUPERVISOR: "processes that stop are not restarted",
    Component.CRIME: "police crime batches are not being matched",
}


# Processes whose name needs its own sentence: (who, verb, consequence).
NAMED = {
    "engine deadline checks": (
        "The engine's deadline checks",
        "have been down since",
        "silent tags and tags never fitted are not being noticed",
    ),
}


def who(group: str, component: Component) -> str:
    if component == Component.ENGINE:
        if m := SHARD.match(group):
            return f"Engine shard {int(m[1]) + 1} of {m[2]}"
        if m := PARTITION.match(group):
            return f"Engine partition {m[1]}"
        return "The engine worker" if group == "engine" else group[:1].upper() + group[1:]
    return WHO.get(component, f"“{group}”")


def _notice(component: Component, group: str, since: str) -> str:
    """What a practitioner is told when a process of this kind is down."""
    stale = "statuses may be out of date"
    if group == "engine deadline checks":
        return f"Silent tags are not being noticed at the moment (since {since}): {stale}"
    if component == Component.ENGINE and group != "engine":  # one shard or partition of several
        return f"Some device data is not being evaluated at the moment (since {since}): {stale}"
    return {
        Component.ENGINE: f"Device data is not being evaluated at the moment (since {since}): {stale}",
        Component.ALERTS: f"Alerts are not being sent at the moment (since {since}): check the alert queue yourself",
        Component.INGEST: f"Some devices' readings are not being received (since {since}): {stale}",
        Component.MQTT: f"Some devices' readings are not being received (since {since}): {stale}",
        Component.BUS: f"Device data is not being evaluated at the moment (since {since}): {stale}",
    }.get(component, "")


def assess(now: datetime | None = None) -> Status:
    """Read the heartbeats and open faults; change nothing."""
    now = now or timezone.now()
    status = Status(at=now)
    beats = list(Heartbeat.objects.all())
    # A process of the group started after this one last beat replaced it; one started beside it did not.
    latest_start: dict[str, datetime] = {}
    for hb in beats:
        g = group_of(hb)
        latest_start[g] = max(latest_start.get(g, hb.started_at), hb.started_at)
    for hb in beats:
        g = group_of(hb)
        superseded = hb.name != g and latest_start[g] > hb.beat_at
        age = (now - hb.beat_at).total_seconds()
        status.processes.append(Process(hb, g, age, hb.is_down(now), superseded))

    open_faults = {
        f.key: f for f in Fault.objects.open().filter(kind__in=[FaultKind.EVALUATION_BEHIND, FaultKind.BUS_DOWN])
    }
    for p in status.processes:
        if not p.down or p.superseded:
            continue
        component = Component(p.heartbeat.component)
        since = when(p.heartbeat.beat_at, now)
        name = who(p.group, component)
        verb = "is down since" if component == Component.ENGINE else "has been down since"
        consequence = CONSEQUENCE.get(component, "")
        if p.group in NAMED:
            name, verb, consequence = NAMED[p.group]
        message = f"{name} {verb} {since}" + (f" — {consequence}" if consequence else "")
        status.problems.append(
            Problem(
                FaultKind.WORKER_DOWN,
                p.group,
                component,
                message,
                _notice(component, p.group, since),
                p.heartbeat.beat_at,
            )
        )

    lags = [p.heartbeat.lag_s for p in status.live(Component.ENGINE) if p.heartbeat.lag_s is not None]
    status.lag_s = max(lags) if lags else None
    if status.lag_s is not None and status.lag_s > settings.OPENEM_MAX_LAG_S:
        late = how_long(status.lag_s)
        fault = open_faults.get(f"{FaultKind.EVALUATION_BEHIND.value}:{BEHIND_KEY}")
        status.problems.append(
            Problem(
                FaultKind.EVALUATION_BEHIND, BEHIND_KEY, Component.ENGINE,
                f"Device data is being evaluated {late} late",
                f"Device data is being evaluated {late} late: statuses may be out of date",
                fault.first_seen if fault else now - timedelta(seconds=status.lag_s - settings.OPENEM_MAX_LAG_S),
            )
        )  # fmt: skip
    if settings.OPENEM_BUS:
        for f in open_faults.values():
            if f.kind == FaultKind.BUS_DOWN.value:
                since = when(f.first_seen, now)
                status.problems.append(
                    Problem(
                        FaultKind.BUS_DOWN, f.key.partition(":")[2], Component.BUS,
                        f"The message bus cannot be reached since {since} — new readings are stored and will be "
                        "announced when it is back",
                        f"Device data is being evaluated late (since {since}): statuses may be out of date",
                        f.first_seen,
                    )
                )  # fmt: skip
    return status


def bus_connected(status: Status) -> bool | None:
    """With a bus configured: its announcer is beating and no BUS_DOWN fault is open. None without a bus."""
    if not settings.OPENEM_BUS:
        return None
    announcing = bool(status.live(Component.BUS))
    return announcing and not any(p.kind == FaultKind.BUS_DOWN for p in status.problems)


def check_health(now: datetime | None = None) -> Status:
    """Assess, then open a WORKER_DOWN or EVALUATION_BEHIND fault for each such problem not already open,
    and close those that have passed. Never raises: a supervisor or worker calls it between its own work."""
    try:
        status = assess(now)
    except Exception:
        log.exception("could not assess the service's health")
        return Status(at=now or timezone.now())
    try:
        wanted = {f"{p.kind.value}:{p.key}": p for p in status.problems if p.kind in ASSESSED}
        already = set(Fault.objects.open().filter(kind__in=[k.value for k in ASSESSED]).values_list("key", flat=True))
        for key, p in wanted.items():
            if key not in already:
                raise_fault(p.kind, p.key, p.message, component=p.component)
        gone = already - set(wanted)
        if gone:
            Fault.objects.open().filter(key__in=gone).update(resolved_at=timezone.now())
    except Exception:
        log.exception("could not record the service's health")
    return status


_cache_lock = threading.Lock()
_cached: tuple[float, Status] | None = None


def current_status() -> Status:
    """``assess``, reused for OPENEM_STATUS_CACHE_S seconds in this process: pages show it at no cost."""
    global _cached
    ttl = settings.OPENEM_STATUS_CACHE_S
    with _cache_lock:
        if ttl > 0 and _cached is not None and time.monotonic() - _cached[0] < ttl:
            return _cached[1]
    status = assess()
    if ttl > 0:
        with _cache_lock:
            _cached = (time.monotonic(), status)
    return status
