"""The engine worker's per-device cache: each device's recent readings, held between cycles.

A device's readings are held from far enough back to re-evaluate every violation that could still change
(WINDOW_S behind its newest reading, back to the start of any violation still open or ending in that
window, with an hour before it), and for a home unit that reports only changes back to its last "out of
range" before that. New readings later than what is held extend it; anything else (first touch, a restart,
a reading out of order) loads the device from storage. Alcohol tags are held whole (sober days count every
day worn). Trimmed in steps as the window moves on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import reduce
from operator import or_
from typing import Any, NamedTuple

import numpy as np
import orjson
from django.db import connection
from django.db.models import Max, Min, Q

from openem.alerts.models import Violation
from openem.engine.engine import Failure
from openem.engine.telemetry import DeviceFrame, ReadingError, extend_frame, slice_frame, stored_reading
from openem.engine.telemetry import Reading as TelemetryReading
from openem.engine.violations import Violation as EngineViolation

from .models import Reading

WINDOW_S = 48 * 3600.0  # readings a device's cache holds behind its newest (more while a violation is open)
TRIM_EVERY_S = 6 * 3600.0
MAX_ABSENCE_S = 7 * 86400.0  # how far back a home unit's "out of range" is looked for (a longer one is a fault)
CONTEXT_S = 3600.0  # readings kept before the oldest violation that could still change


@dataclass
class Held:
    """One device's recent readings as the worker holds them between cycles."""

    frame: DeviceFrame  # columns only: a reading out of order reloads the device from storage
    since: float  # readings measured before this are not held (-inf: all of them)
    last_id: int = 0  # every stored reading up to this id, measured since ``since``, is held


Row = tuple[int, str, TelemetryReading]  # id, device, the parsed reading


def fetch_rows(where: str, params: list[Any], limit: int | None = None) -> list[Row]:
    return fetch_upto(where, params, limit)[0]


class Fetched(NamedTuple):
    rows: list[Row]
    last: int | None  # the id of the last row read, this shard's or not
    read: int  # rows read, this shard's or not
    ids: list[int]  # every id read, this shard's or not (to find the ids not yet committed)


def fetch_upto(
    where: str, params: list[Any], limit: int | None = None, keep: Callable[[str], bool] | None = None
) -> Fetched:
    """Stored readings in id order, parsed, straight from the cursor (on the engine's hot path Django's
    per-row converters, datetime and JSON, cost more than the evaluation of the reading), and the id of
    the last row read. ``keep`` picks the devices wanted (a shard's) before the cost of parsing."""
    sql = f"SELECT id, device, payload, digest FROM {Reading._meta.db_table} WHERE {where} ORDER BY id"
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    out: list[Row] = []
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
        for pk, device, payload, digest in rows:
            if keep is not None and not keep(device):
                continue
            try:
                obj = orjson.loads(payload) if isinstance(payload, str | bytes) else payload
                # The stored digest stands in for the raw text: it only breaks ties in time order.
                out.append((pk, device, stored_reading(obj, digest)))
            except (ReadingError, orjson.JSONDecodeError, KeyError, TypeError, ValueError):
                continue  # stored readings were validated on the way in
    return Fetched(out, rows[-1][0] if rows else None, len(rows), [r[0] for r in rows])


def placeholders(values: list[str]) -> str:
    return ", ".join(["%s"] * len(values))


def _db(dt: datetime) -> Any:
    return connection.ops.adapt_datetimefield_value(dt)


class DeviceCache:
    """``kind_of``: a device's kind from the caseload; ``renew``: called between chunks of a long load (the
    worker keeps its cursor's lease)."""

    def __init__(self, kind_of: Callable[[str], str], renew: Callable[[], None] = lambda: None) -> None:
        self.kind_of, self.renew = kind_of, renew
        self.held: dict[str, Held] = {}

    def __contains__(self, device: object) -> bool:
        return device in self.held

    def __getitem__(self, device: str) -> Held:
        return self.held[device]

    def get(self, device: str) -> Held | None:
        return self.held.get(device)

    def pop(self, device: str, default: Any = None) -> Held | None:
        return self.held.pop(device, default)

    def add(self, by_device: dict[str, list[Row]], failures: list[Failure]) -> dict[str, float]:
        """New readings (in id order, by device) join each device's held readings. Returns the devices to
        load from storage, each from when: not held (first touch, a restart), or a reading older than what
        is held (it arrived out of order)."""
        reload: dict[str, float] = {}
        for device, rows in by_device.items():
            held = self.held.get(device)
            if not rows:
                if held is None:
                    reload[device] = float("inf")
                continue
            oldest = min(r[2].t for r in rows)
            if held is not None and len(held.frame.t) and oldest > held.frame.t[-1]:
                # The usual case: everything new is later than everything held.
                try:
                    new_frame = DeviceFrame.build(device, [r[2] for r in rows], distinct=True)
                    held.frame = extend_frame(held.frame, new_frame)
                except Exception as exc:  # this device's readings, not everyone's: load it afresh
                    failures.append(Failure(device, "", "while reading its readings", exc))
                    self.held.pop(device, None)
                    continue
                held.last_id = max(held.last_id, rows[-1][0])
            else:
                reload[device] = min(oldest - WINDOW_S, held.since) if held is not None else oldest - WINDOW_S
        return reload

    def load(self, late: dict[str, float], upto: int, failures: list[Failure] | None = None) -> None:
        self.held.update(self._load(late, upto, failures))

    def _load(self, late: dict[str, float], upto: int, failures: list[Failure] | None = None) -> dict[str, Held]:
        """Load devices from storage, a few queries for every 500 of them: each from WINDOW_S before its
        newest reading, or earlier to hold the start of any violation still open or ended within the
        window, or from ``late[device]`` if that is earlier (a reading arrived out of order); alcohol
        tags whole (sober days count every day worn)."""
        out: dict[str, Held] = {}
        devices = sorted(late)
        for k in range(0, len(devices), 500):
            chunk = devices[k : k + 500]
            self.renew()
            span = {
                d: (newest.timestamp(), first)
                for d, newest, first in Reading.objects.filter(device__in=chunk, id__lte=upto)
                .values("device")
                .annotate(newest=Max("t"), first=Min("t"))
                .values_list("device", "newest", "first")
            }
            edge = {d: newest - WINDOW_S for d, (newest, _first) in span.items()}
            stored: dict[str, list[tuple[float, float | None]]] = {}
            if edge:
                lo = datetime.fromtimestamp(min(edge.values()) - WINDOW_S, UTC)
                for d, start, end in (
                    Violation.objects.filter(device__in=chunk, retracted=False)
                    .filter(Q(end__isnull=True) | Q(end__gte=lo))
                    .values_list("device", "start", "end")
                ):
                    stored.setdefault(d, []).append((start.timestamp(), end.timestamp() if end else None))
            cut: dict[str, datetime | None] = {}
            for d in chunk:
                held_from = window_start(edge[d], stored.get(d, [])) if d in edge else float("-inf")
                from_t = min(held_from, late[d])
                if self.kind_of(d) == "alcohol":
                    from_t = float("-inf")
                if from_t > float("-inf") and span[d][1] < datetime.fromtimestamp(from_t, UTC):
                    cut[d] = datetime.fromtimestamp(from_t, UTC)
                else:
                    cut[d] = None  # nothing older: the device's data starts with what is held
            floor = {d: c - timedelta(seconds=MAX_ABSENCE_S) for d, c in cut.items() if c is not None}
            moving = dict(cut)
            for _round in range(4):  # each round one query per 200 home units; a few rounds reach any absence
                moved: dict[str, datetime | None] = {}
                for d, out_t in self._last_out_before(moving, upto).items():
                    # From the "out of range" reading, with an hour before it, and whole any stored violation
                    # reaching past it (one ending there would otherwise be reconciled without its start).
                    if out_t > floor[d]:
                        moved[d] = datetime.fromtimestamp(window_start(out_t.timestamp(), stored.get(d, [])), UTC)
                cut.update(moved)
                moving = moved
                if not moving:
                    break
            where, params = f"device IN ({placeholders(chunk)}) AND id <= %s", [*chunk, upto]
            if all(c is not None for c in cut.values()) and cut:
                where += " AND t >= %s"
                params.append(_db(min(c for c in cut.values() if c is not None)))
            since = {d: c.timestamp() if c is not None else float("-inf") for d, c in cut.items()}
            rows: dict[str, list[TelemetryReading]] = {d: [] for d in chunk}
            for _pk, d, r in fetch_rows(where, params):
                if r.t >= since[d]:
                    rows[d].append(r)
            for d in chunk:
                try:
                    out[d] = Held(DeviceFrame.build(d, rows[d], distinct=True), since[d], upto)
                except Exception as exc:  # left out of this cycle, with an alert; the others go on
                    if failures is None:
                        raise
                    failures.append(Failure(d, "", "while reading its readings", exc))
        return out

    def _last_out_before(self, cut: dict[str, datetime | None], upto: int) -> dict[str, datetime]:
        """A home unit that reports only changes says "out of range" once and then only heartbeats: for each
        home unit whose last range reading before its cut says "out", that reading's time. The cut moves back
        to it, or the absence it began (the wearer left at 15:00, the curfew starts at 19:00) would be read
        as never having started."""
        rf = [d for d, c in cut.items() if c is not None and self.kind_of(d) == "rf"]
        out: dict[str, datetime] = {}
        for k in range(0, len(rf), 200):  # a bounded OR: SQLite limits an expression's depth
            part = rf[k : k + 200]
            before = reduce(or_, (Q(device=d, t__lt=cut[d]) for d in part))
            last = dict(
                Reading.objects.filter(before, type="rf", id__lte=upto)
                .values("device")
                .annotate(last=Max("t"))
                .values_list("device", "last")
            )
            if not last:
                continue
            at = reduce(or_, (Q(device=d, t=t) for d, t in last.items()))
            for d, payload in Reading.objects.filter(at, type="rf", id__lte=upto).values_list("device", "payload"):
                if isinstance(payload, dict) and payload.get("in_range") is False:
                    out[d] = last[d]
        return out

    def trim(self, device: str, found: list[EngineViolation]) -> None:
        """Drop readings from before the window, keeping every violation that could still change whole, and
        a home unit's last "out of range" before the cut (``last_out_before``)."""
        held = self.held[device]
        if self.kind_of(device) == "alcohol" or not len(held.frame.t):
            return
        spans = [(v.start, v.end) for v in found]
        keep = window_start(float(held.frame.t[-1]) - WINDOW_S, spans)
        # As in _load: back to a home unit's "out of range" reading, and whole what reaches past it, until
        # the reading before the cut says "in range" (bounded: a unit out of range for weeks is a fault).
        floor = keep - MAX_ABSENCE_S
        while (out_t := last_out_before(held.frame, keep)) is not None and out_t > floor:
            keep = min(keep, window_start(out_t, spans))
        if keep - held.since < TRIM_EVERY_S or held.frame.t[0] >= keep:
            return  # trim in steps, not every cycle, and only when there is something to drop
        held.frame = slice_frame(held.frame, keep, float("inf"))
        held.since = keep


def last_out_before(frame: DeviceFrame, keep: float) -> float | None:
    """The time of the home unit's last range reading before ``keep`` if it said "out of range" (a unit that
    reports only changes sends nothing more of its range until the tag is back), else None."""
    i = int(np.searchsorted(frame.rf_t, keep, side="left")) - 1
    return float(frame.rf_t[i]) if i >= 0 and not frame.rf_in[i] else None


def window_start(edge: float, violations: list[tuple[float, float | None]]) -> float:
    """Where a device's held readings must start: at the window's edge or before any violation (start,
    end) still open or ending after it, with an hour before each violation kept (the fix before a
    curfew starts says the wearer was out already; the last power reading whether a silence is a flat
    battery), and whole every violation reaching into that hour (a curfew absence cut short when the tag
    went flat, which a window starting at the cut would retract)."""
    keep = min([edge, *(s for s, e in violations if e is None or e >= edge)]) - CONTEXT_S
    while reach := [s for s, e in violations if s < keep and (e is None or e >= keep)]:
        keep = min(reach) - CONTEXT_S
    return keep
