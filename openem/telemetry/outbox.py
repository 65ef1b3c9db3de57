"""The bus announcer: the readings table is the outbox of the scale-out path.

Ingest only stores readings; ``openem bus-announcer`` reads what was stored after its cursor, announces the
devices on NATS (``bus.Connection.publish``, one connection for the process) and moves the cursor only once
JetStream has confirmed every message. With the bus down, ingest goes on as usual and the announcer keeps
trying (with back-off), reports the bus down (a heartbeat, then an operational alert), and announces the
backlog when the bus is back. Announcing a device twice is harmless (evaluation is idempotent); missing one
is not, so every failure is answered by announcing again.

Ids are not committed in order on PostgreSQL: a transaction can commit a lower id after a higher one was
read, and a duplicate skipped by ON CONFLICT DO NOTHING uses up an id that is never stored. An id missing
from what was read is therefore kept as a gap and looked for again on every round for ``gap_wait_s``; a
reading that shows up there is announced like any other. SQLite commits one writer at a time, in id order.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.db.models import Q
from django.utils import timezone

from openem.health.faults import raise_fault, resolve_fault
from openem.health.models import Component, FaultKind
from openem.health.running import Backoff, Beat, since

from .bus import BusUnavailable, Connection
from .models import BusCursor, Reading

log = logging.getLogger(__name__)

CURSOR = "bus-announcer"
LEASE = timedelta(seconds=30)
RENEW_S = 10.0  # the lease is renewed this often (a standby announcer takes over 30 s after a crash)
BATCH = 20_000  # readings read in one round
GAP_WAIT_S = 30.0  # how long an id missing below the cursor is looked for (an uncommitted transaction)
MAX_GAPS = 2_000  # gap ranges kept: beyond, neighbours are merged (what they cover is announced again)
RANGES_PER_QUERY = 200
FAULT_AFTER_S = 10.0  # a bus down this long is an operational alert (a restart of NATS is not)
BUS_DOWN_SUMMARY = "The message bus (NATS) cannot be reached: new readings are stored but not announced"

Gap = list[float]  # [first id, last id, since (Unix seconds)]: JSON on the cursor row


class Announcer:
    """One round at a time (``step``): claim the cursor, read new readings and readings found in gaps,
    publish their devices, then store the new cursor and gaps. See the module's docstring."""

    def __init__(
        self,
        name: str | None = None,
        url: str | None = None,
        partitions: int | None = None,
        batch: int = BATCH,
        gap_wait_s: float = GAP_WAIT_S,
        fault_after_s: float = FAULT_AFTER_S,
    ) -> None:
        self.name = name or f"{socket.gethostname()}:{os.getpid()}"
        self.partitions = partitions or settings.OPENEM_BUS_PARTITIONS
        self.batch, self.gap_wait_s, self.fault_after_s = batch, gap_wait_s, fault_after_s
        self.bus = Connection(url)
        self.beat = Beat("bus announcer", Component.BUS)
        self.holding = False
        self.cursor = 0
        self.gaps: list[Gap] = []
        self._renewed = float("-inf")
        self._backoff = Backoff(first=0.2, most=5.0)
        self._retry_at = float("-inf")
        self._down_since: float | None = None
        self._down_error = ""
        self._faulted = False
        self._checked_fault = False  # a fault left open by an earlier announcer is resolved once connected
        self._report_now = True  # the next round writes the heartbeat, whenever the last was

    def step(self) -> bool:
        """One round; True if more readings are waiting (call again at once)."""
        busy = False
        if self._claim():
            busy = self._announce()
        self._report()
        return busy

    def close(self) -> None:
        """Stop: the cursor is released for another announcer, the heartbeat marked stopped."""
        if self.holding:
            BusCursor.objects.filter(name=CURSOR, locked_by=self.name).update(locked_by="", locked_until=None)
            self.holding = False
            self.beat.stopped()
        self.bus.close()

    def _claim(self) -> bool:
        if self.holding and time.monotonic() - self._renewed < RENEW_S:
            return True
        BusCursor.objects.get_or_create(name=CURSOR)
        now = timezone.now()
        free = Q(locked_until__isnull=True) | Q(locked_until__lt=now) | Q(locked_by=self.name)
        if BusCursor.objects.filter(free, name=CURSOR).update(locked_by=self.name, locked_until=now + LEASE) != 1:
            if self.holding:
                log.warning("bus announcer %s: another announcer holds the cursor now; standing by", self.name)
            self.holding = False
            return False
        if not self.holding:
            held = BusCursor.objects.get(name=CURSOR)
            self.cursor, self.gaps = held.last_reading_id, [list(g) for g in held.gaps]
            log.info("bus announcer %s: announcing readings after id %s", self.name, self.cursor)
        self.holding, self._renewed = True, time.monotonic()
        return True

    def _announce(self) -> bool:
        if time.monotonic() < self._retry_at:
            return False  # the bus was down: waiting out the back-off
        new = _read("id > %s", [self.cursor], self.batch)
        late, gaps = self._look_in_gaps(time.time())
        cursor = self.cursor
        for pk, _device in new:
            if pk > cursor + 1:
                gaps.append([cursor + 1, pk - 1, time.time()])
            cursor = pk
        rows = late + new
        try:
            self.bus.publish({device for _pk, device in rows}, self.partitions)
        except BusUnavailable as exc:
            self._bus_down(exc, pending=bool(rows))
            return False
        self._bus_up()
        changed = cursor != self.cursor or gaps != self.gaps
        self.cursor, self.gaps = cursor, _coalesce(gaps)
        if changed and not self._save(bool(rows)):
            return False
        if rows:
            self.beat.count(announced=len(rows))
        return len(new) >= self.batch

    def _look_in_gaps(self, now: float) -> tuple[list[tuple[int, str]], list[Gap]]:
        """Readings committed since in the gaps below the cursor, and the gaps still to watch: those found
        are cut out, and those watched for long enough are given up (nothing will be stored there)."""
        if not self.gaps:
            return [], []
        found: list[tuple[int, str]] = []
        for k in range(0, len(self.gaps), RANGES_PER_QUERY):
            ranges = self.gaps[k : k + RANGES_PER_QUERY]
            where = " OR ".join(["id BETWEEN %s AND %s"] * len(ranges))
            found += _read(where, [int(v) for g in ranges for v in g[:2]])
        found.sort()
        ids = [pk for pk, _device in found]
        gaps: list[Gap] = []
        for lo, hi, seen in self.gaps:
            if now - seen > self.gap_wait_s:
                continue
            start = int(lo)
            for pk in ids[bisect_left(ids, lo) : bisect_right(ids, hi)]:
                if pk > start:
                    gaps.append([start, pk - 1, seen])
                start = pk + 1
            if start <= hi:
                gaps.append([start, int(hi), seen])
        return found, gaps

    def _save(self, announced: bool) -> bool:
        fields = {"last_reading_id": self.cursor, "gaps": self.gaps}
        if announced:
            fields["announced_at"] = timezone.now()
        if BusCursor.objects.filter(name=CURSOR, locked_by=self.name).update(**fields) != 1:
            # Another announcer took over (this one stalled past its lease): it announces from the stored
            # cursor, so what this one just sent is sent twice at worst.
            log.warning("bus announcer %s: lost the cursor to another announcer; standing by", self.name)
            self.holding = False
            return False
        return True

    def _bus_down(self, exc: BusUnavailable, pending: bool) -> None:
        wait = self._backoff.next()
        self._retry_at = time.monotonic() + wait
        if pending:
            self.beat.count(publish_failed=1)
        now = time.monotonic()
        if self._down_since is None:
            self._down_since = now
            log.warning("bus announcer: %s; readings are stored and will be announced when it is back", exc)
            self._report_now = True
        self._down_error = str(exc)
        if now - self._down_since >= self.fault_after_s:
            # Raised again on every failed try: the open fault counts them and says when it was last seen.
            raise_fault(FaultKind.BUS_DOWN, "nats", BUS_DOWN_SUMMARY, component=Component.BUS, detail=str(exc))
            self._faulted = True

    def _bus_up(self) -> None:
        self._backoff.reset()
        self._retry_at = float("-inf")
        if self._down_since is not None:
            log.warning("bus announcer: the bus is back after %.0f s", time.monotonic() - self._down_since)
            self._down_since = None
            self._report_now = True
        if self._faulted or not self._checked_fault:
            resolve_fault(FaultKind.BUS_DOWN, "nats")
            self._faulted, self._checked_fault = False, True

    def _report(self) -> None:
        """The heartbeat: how many readings wait to be announced and how long the oldest has waited."""
        if not self.holding or not (self._report_now or self.beat.due()):
            return  # a standby does not report: the holder does
        self._report_now = False
        waiting = Reading.objects.filter(id__gt=self.cursor)
        oldest = waiting.order_by("id").values_list("received", flat=True).first()
        backlog = waiting.count() if oldest is not None else 0
        detail = "connected" if self._down_since is None else f"bus unreachable: {self._down_error}"
        self.beat(lag_s=since(oldest) or 0.0, backlog=backlog, detail=detail, force=True)


def _read(where: str, params: Iterable[int], limit: int | None = None) -> list[tuple[int, str]]:
    sql = f"SELECT id, device FROM {Reading._meta.db_table} WHERE {where} ORDER BY id"
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    with connection.cursor() as cursor:
        cursor.execute(sql, list(params))
        return [(int(pk), device) for pk, device in cursor.fetchall()]


def _coalesce(gaps: list[Gap]) -> list[Gap]:
    """At most MAX_GAPS gap ranges, in id order: neighbours merged pairwise while there are more (a merged
    range covers readings already announced, which are announced again: harmless, and rare)."""
    gaps = sorted(gaps)
    while len(gaps) > MAX_GAPS:
        log.warning("bus announcer: %d gaps in the reading ids; merging neighbours", len(gaps))
        pairs = [gaps[k : k + 2] for k in range(0, len(gaps), 2)]
        gaps = [[pair[0][0], pair[-1][1], max(g[2] for g in pair)] for pair in pairs]
    return gaps
