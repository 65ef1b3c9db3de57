"""The supervisor of ``openem run``: starts each child process, restarts any that stops (after a wait that
doubles from 1 s to 60 s, back to 1 s once it has stayed up a minute), logs each exit and restart, records
it as an operational alert, assesses the service's health every 15 s, and on SIGTERM or SIGINT stops every
child (SIGTERM, a wait, then SIGKILL).

A child that stops is always restarted, whatever its exit code: every one of them is needed for monitoring
to go on, and one that exits cleanly on its own has stopped monitoring just the same."""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any

from .faults import raise_fault, resolve_fault
from .models import Component, FaultKind
from .running import Backoff, StopFlag

log = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class ChildSpec:
    name: str  # what the logs and the monitoring centre call it: "portal", "engine shard 1 of 2"
    argv: Sequence[str]
    component: Component


@dataclass
class Child:
    spec: ChildSpec
    backoff: Backoff
    proc: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0  # monotonic
    restart_at: float | None = None  # monotonic: when to start it again, while it is down
    restarts: int = 0
    exits: list[str] = field(default_factory=list)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


def describe_exit(code: int) -> str:
    """subprocess's negative codes are the signal that ended the process."""
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


def _die_with_parent() -> None:
    """In the child before exec (Linux): SIGTERM when the supervisor dies, so that a supervisor killed
    with SIGKILL leaves no children holding the ports its successor needs."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except Exception:
        pass


class Supervisor:
    def __init__(
        self,
        specs: Sequence[ChildSpec],
        *,
        first_wait: float = 1.0,
        most_wait: float = 60.0,
        stable_after: float = 60.0,
        stop_timeout: float = 10.0,
        check_every: float = 15.0,
        poll: float = 0.5,
        health_check: Callable[[], Any] | None = None,
        record: bool = True,
        db_thread: bool = True,
        env: dict[str, str] | None = None,
    ) -> None:
        self.children = [Child(spec, Backoff(first_wait, most_wait)) for spec in specs]
        self.stable_after, self.stop_timeout = stable_after, stop_timeout
        self.check_every, self.poll = check_every, poll
        self.health_check = health_check
        self.record = record  # raise and resolve CHILD_RESTARTED faults (off where there is no database)
        self.env = env
        self._last_check = float("-inf")
        # Recording faults and checking health use the database, which may be locked or gone for a while:
        # that work is done on a thread of its own, so that watching and restarting children never waits.
        self._db = ThreadPoolExecutor(max_workers=1, thread_name_prefix="supervisor-db") if db_thread else None
        self._check: Future[Any] | None = None

    def _database(self, work: Callable[[], Any]) -> Future[Any] | None:
        if self._db is None:
            try:
                work()
            except Exception:
                log.exception("the supervisor's database work failed")
            return None
        return self._db.submit(_logged(work))

    # ------------------------------------------------------------------ children

    def start(self, child: Child) -> None:
        try:
            child.proc = subprocess.Popen(
                list(child.spec.argv),
                env=self.env,
                process_group=0,  # Ctrl-C reaches the supervisor only; it stops the children in order
                preexec_fn=_die_with_parent if os.name == "posix" else None,
            )
        except OSError as exc:  # cannot even start it: try again later, as for an exit
            log.error("%s could not be started: %s", child.spec.name, exc)
            child.proc = None
            self._exited(child, f"not started: {exc}", time.monotonic())
            return
        child.started_at, child.restart_at = time.monotonic(), None
        # Not its command line: arguments may carry credentials (a gateway's token).
        log.info("started %s (pid %s)", child.spec.name, child.proc.pid)

    def _exited(self, child: Child, how: str, now: float) -> None:
        wait = child.backoff.next()
        child.restart_at = now + wait
        up = max(0.0, now - child.started_at)
        child.exits.append(f"{datetime.now():%d %b %H:%M:%S}: {how} after {up:.0f} s up")
        log.warning(
            "%s stopped (%s) after %.0f s; restarting it in %.0f s (restart %d)",
            child.spec.name, how, up, wait, child.restarts + 1,
        )  # fmt: skip
        if self.record:
            title = child.spec.name[:1].upper() + child.spec.name[1:]
            summary = (
                f"{title} stopped ({how}) and is being restarted ({child.restarts + 1} "
                f"restart{'s' if child.restarts else ''} so far)"
            )
            detail = "Its exits, oldest first:\n" + "\n".join(child.exits[-20:])
            self._database(
                partial(
                    raise_fault, FaultKind.CHILD_RESTARTED, child.spec.name, summary,
                    component=child.spec.component, detail=detail,
                )
            )  # fmt: skip

    def step(self, now: float | None = None) -> None:
        """Notice exits, restart children whose wait is over, and forgive those that stayed up."""
        now = time.monotonic() if now is None else now
        for child in self.children:
            if child.proc is not None and child.restart_at is None:
                code = child.proc.poll()
                if code is not None:
                    self._exited(child, describe_exit(code), now)
                elif child.backoff.failures and now - child.started_at >= self.stable_after:
                    child.backoff.reset()
                    log.info("%s has stayed up %.0f s since its restart", child.spec.name, now - child.started_at)
                    if self.record:
                        self._database(partial(resolve_fault, FaultKind.CHILD_RESTARTED, child.spec.name))
            if child.restart_at is not None and now >= child.restart_at:
                child.restarts += 1
                log.warning("restarting %s (restart %d)", child.spec.name, child.restarts)
                self.start(child)
        busy = self._check is not None and not self._check.done()
        if self.health_check is not None and not busy and now - self._last_check >= self.check_every:
            self._last_check = now
            self._check = self._database(self.health_check)

    def run(self, stop: StopFlag) -> None:
        """Start every child and keep them going until ``stop`` is set; then stop them all."""
        try:
            for child in self.children:
                if not stop:
                    self.start(child)
            while not stop:
                self.step()
                stop.wait(self.poll)
        finally:
            self.stop_all()
            self.drain()

    def drain(self, timeout: float = 10.0) -> None:
        """Wait for faults being recorded (up to ``timeout``), then let the database thread go."""
        if self._db is None:
            return
        done = self._db.submit(lambda: None)
        try:
            done.result(timeout=timeout)
        except Exception:
            log.warning("the supervisor's last faults were not all recorded")
        self._db.shutdown(wait=False, cancel_futures=True)

    def stop_all(self) -> None:
        """SIGTERM to every child, up to ``stop_timeout`` seconds for them to finish, then SIGKILL."""
        running = [c for c in self.children if c.running]
        for c in running:
            log.info("stopping %s (pid %s)", c.spec.name, c.proc.pid if c.proc else "?")
            _signal(c, signal.SIGTERM)
        deadline = time.monotonic() + self.stop_timeout
        for c in running:
            assert c.proc is not None
            try:
                c.proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("%s did not stop within %.0f s: killing it", c.spec.name, self.stop_timeout)
                _signal(c, signal.SIGKILL)
                c.proc.wait()

    def counters(self) -> dict[str, float]:
        return {f"restarts:{c.spec.name}": float(c.restarts) for c in self.children}


def _logged(work: Callable[[], Any]) -> Callable[[], Any]:
    def run() -> Any:
        from django.db import close_old_connections

        try:
            return work()
        except Exception:
            log.exception("the supervisor's database work failed")
            return None
        finally:
            close_old_connections()  # this thread's connection is not kept past its lifetime

    return run


def _signal(child: Child, sig: int) -> None:
    try:
        if child.proc is not None:
            child.proc.send_signal(sig)
    except ProcessLookupError:
        pass
