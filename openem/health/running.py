"""How a long-running process (a worker, the receiver, the subscriber) keeps going: it stops on a flag,
after the item in hand, never by an exception thrown into the middle of a send; it treats a locked or
lost database as a wait, not an exit; and it reports a heartbeat the portal and ``/readyz`` read."""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.db import close_old_connections, connection
from django.db.utils import InterfaceError, OperationalError
from django.utils import timezone

from .models import Component, Heartbeat

log = logging.getLogger(__name__)


class StopFlag:
    """Set by SIGTERM or SIGINT (or ``set()``); loops check it between items and sleep with ``wait``."""

    def __init__(self, install: bool = True) -> None:
        self._event = threading.Event()
        if install and threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, self._handle)

    def _handle(self, signum: int, frame: Any) -> None:
        self._event.set()

    def set(self) -> None:
        self._event.set()

    def __bool__(self) -> bool:
        return self._event.is_set()

    def wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds``; True if asked to stop meanwhile."""
        return self._event.wait(max(0.0, seconds))


TRANSIENT_WORDS = (
    "database is locked",
    "database table is locked",
    "server closed the connection",
    "connection already closed",
    "the connection is closed",
    "connection is lost",
    "terminating connection",
    "could not connect",
    "connection refused",
    "consuming input failed",
    "ssl connection has been closed",
    "no connection to the server",
    "canceling statement due to statement timeout",
    "deadlock detected",
    "could not serialize access",
)


def is_transient(exc: BaseException) -> bool:
    """A failure that passes by itself: a busy or locked database, a connection lost or refused."""
    if isinstance(exc, InterfaceError):
        return True
    if isinstance(exc, OperationalError):
        text = str(exc).lower()
        return any(word in text for word in TRANSIENT_WORDS)
    return False


class Backoff:
    """Waits that double from ``first`` to ``most`` seconds; ``reset`` after a success."""

    def __init__(self, first: float = 0.5, most: float = 30.0) -> None:
        self.first, self.most = first, most
        self.failures = 0

    def next(self) -> float:
        self.failures += 1
        return min(self.most, self.first * 2 ** (self.failures - 1))

    def reset(self) -> None:
        self.failures = 0


class Beat:
    """This process's heartbeat row, written at most every ``every_s`` (a failed write is skipped: the
    next one tries again, and a process that cannot write for long shows as down, which it effectively is)."""

    def __init__(self, name: str, component: Component, every_s: float = 5.0) -> None:
        self.name, self.component, self.every_s = name[:80], component, every_s
        self.started = timezone.now()
        self.counters: dict[str, float] = {}
        self._last = float("-inf")

    def count(self, **amounts: float) -> None:
        for k, v in amounts.items():
            self.counters[k] = self.counters.get(k, 0) + v

    def due(self) -> bool:
        """Whether the next call would write (so a caller can skip measuring what it would report)."""
        return time.monotonic() - self._last >= self.every_s

    def __call__(
        self, lag_s: float | None = None, backlog: int | None = None, detail: str = "", force: bool = False
    ) -> None:
        now = time.monotonic()
        if not force and now - self._last < self.every_s:
            return
        self._last = now
        try:
            Heartbeat.objects.update_or_create(
                name=self.name,
                defaults={
                    "component": self.component.value, "host": socket.gethostname()[:120], "pid": os.getpid(),
                    "started_at": self.started, "beat_at": timezone.now(), "every_s": self.every_s,
                    "lag_s": lag_s, "backlog": backlog, "counters": dict(self.counters), "stopped": False,
                    "detail": detail[:300],
                },
            )  # fmt: skip
        except Exception as exc:
            log.warning("heartbeat %s not written: %s", self.name, exc)
            _reset_connection()

    def stopped(self) -> None:
        try:
            Heartbeat.objects.filter(name=self.name).update(stopped=True, beat_at=timezone.now())
        except Exception as exc:
            log.warning("heartbeat %s not marked stopped: %s", self.name, exc)


def _reset_connection() -> None:
    """After a database error: roll back whatever was open and drop the connection, so the next query
    starts afresh (a lost PostgreSQL connection is not reused; SQLite reopens cheaply)."""
    try:
        if connection.in_atomic_block:
            return  # the caller's transaction decides
        connection.close()
    except Exception:
        pass


def keep_going(
    step: Callable[[], bool],
    stop: StopFlag,
    interval_s: float,
    name: str,
    stop_after: float | None = None,
    on_error: Callable[[BaseException], None] | None = None,
) -> None:
    """Run ``step`` until asked to stop: it returns True when it had work (run again at once), False when
    idle (wait ``interval_s``). A transient database error waits with back-off and tries again; any
    other error is logged, passed to ``on_error`` and retried after a back-off too: a worker that exits
    stops monitoring for everyone, so it never exits on its own."""
    backoff = Backoff()
    began = time.monotonic()
    while not stop and (stop_after is None or time.monotonic() - began < stop_after):
        try:
            busy = step()
            backoff.reset()
        except Exception as exc:
            _reset_connection()
            wait = backoff.next()
            if is_transient(exc):
                log.warning("%s: %s; trying again in %.1f s", name, exc, wait)
            else:
                log.exception("%s failed; trying again in %.1f s", name, wait)
                if on_error is not None:
                    try:
                        on_error(exc)
                    except Exception:
                        log.exception("%s: could not record the failure", name)
            stop.wait(wait)
            continue
        close_old_connections_if_idle(busy)
        if not busy:
            stop.wait(interval_s)


def close_old_connections_if_idle(busy: bool) -> None:
    """Outside requests Django never recycles connections: a worker does it when idle, so a server
    restart or CONN_MAX_AGE is honoured."""
    if not busy:
        close_old_connections()


def since(when: datetime | None) -> float | None:
    return None if when is None else (timezone.now() - when).total_seconds()
