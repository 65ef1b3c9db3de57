"""A deadline per device: when each device last reported and when its silence becomes a violation.

Ingest keeps the table (``touch``, once per device per commit, in the transaction that stores the readings);
the engine worker asks which fitted devices are past their deadline and not yet looked at (``due``) and marks
the ones it has evaluated (``mark_reported``); case lists read the last reading times (``last_seen``). Each is
one indexed query, whatever the number of stored readings.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from django.db import connection
from django.db.models import Q

from openem.engine.model import Params

from .models import DeviceDeadline

_PARAMS = Params()


def limit_s(kind: str, params: Params | None = None) -> float:
    return (params or _PARAMS).no_signal_limit_s(kind)


def _db(dt: datetime) -> object:
    return connection.ops.adapt_datetimefield_value(dt)


def touch(latest: Mapping[str, tuple[float, str]], now: float | None = None) -> None:
    """Record, per device, its newest reading just stored: ``latest[device] = (measured, kind)``. A later
    reading moves the deadline on and clears ``reported``; an older one (a backlog arriving) changes nothing."""
    if not latest:
        return
    now = time.time() if now is None else now
    table = DeviceDeadline._meta.db_table
    bigger = "MAX" if connection.vendor == "sqlite" else "GREATEST"
    rows: list[tuple[Any, ...]] = []
    for device in sorted(latest):  # one order for every writer: concurrent commits cannot deadlock here
        t, kind = latest[device]
        # A reading stamped in the future (a wrong clock, a hostile sender) must not push the deadline past
        # the present: silence is counted from no later than the reading's arrival.
        t = min(t, now)
        rows.append((
            device, kind, _db(datetime.fromtimestamp(t, UTC)),
            _db(datetime.fromtimestamp(t + limit_s(kind), UTC)),
        ))  # fmt: skip
    with connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO {table} (device, kind, last_reading_at, silent_after, reported) "
            "VALUES (%s, %s, %s, %s, FALSE) ON CONFLICT (device) DO UPDATE SET "
            f"reported = CASE WHEN excluded.last_reading_at > {table}.last_reading_at THEN FALSE "
            f"ELSE {table}.reported END, "
            f"last_reading_at = {bigger}({table}.last_reading_at, excluded.last_reading_at), "
            f"silent_after = {bigger}({table}.silent_after, excluded.silent_after), "
            "kind = excluded.kind",
            rows,
        )


def due(now: datetime, devices: Any = None) -> dict[str, tuple[str, datetime]]:
    """Devices past their deadline and not yet reported (``device -> (kind, last reading)``), among
    ``devices`` (ids, or a query of them; None: all); the partial index on unreported deadlines answers it."""
    qs = DeviceDeadline.objects.filter(reported=False, silent_after__lt=now)
    if devices is not None:
        qs = qs.filter(device__in=devices)
    return {d: (k, t) for d, k, t in qs.values_list("device", "kind", "last_reading_at")}


def mark_reported(seen: Mapping[str, datetime]) -> int:
    """The engine has evaluated these silences (``device -> the last reading time it saw``). Conditional on that
    time: a reading that arrived meanwhile keeps the device unreported, so its next silence is not missed."""
    if not seen:
        return 0
    done = 0
    items = list(seen.items())
    for k in range(0, len(items), 200):  # a bounded OR: SQLite limits an expression's depth
        part = Q()
        for device, t in items[k : k + 200]:
            part |= Q(device=device, last_reading_at=t)
        done += DeviceDeadline.objects.filter(part).update(reported=True)
    return done


def reopen(devices: Iterable[str]) -> None:
    """Look at these devices' silences again (a device fitted to someone new: the new wearer's silence is theirs)."""
    DeviceDeadline.objects.filter(device__in=list(devices), reported=True).update(reported=False)


def last_seen(devices: Iterable[str]) -> dict[str, datetime]:
    """The newest reading's time of each device that has reported, in one indexed query."""
    return dict(DeviceDeadline.objects.filter(device__in=list(devices)).values_list("device", "last_reading_at"))


def silent_count(now: datetime, devices: Iterable[str]) -> int:
    """How many of ``devices`` are past their deadline (reported or not)."""
    return DeviceDeadline.objects.filter(device__in=list(devices), silent_after__lt=now).count()
