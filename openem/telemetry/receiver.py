"""The ingest receiver: the gateways' batch endpoint and the OsmAnd protocol on one port (5055 by
default), served by uvicorn, with group commit.

Requests are only read and answered on the event loop. One writer thread takes the requests waiting,
validates them, stores them in bounded transactions and then answers each: under load a commit carries
many batches, so the cost of committing (and of the pages it writes) is shared, and nothing is
acknowledged before its transaction has committed. Validation runs on the writer thread too: a second
Python thread validating beside it would make it wait for the interpreter lock after every row it hands
to SQLite. More processes (``--processes``) use more cores; their writers take turns at the database.

No sender can starve the others: the writer serves the senders waiting in turn (start-time fair
queueing, by the bytes each has sent), commits at most ``ROWS_PER_COMMIT`` rows at a time (the database
is never held for long), and each sender draws on a token bucket (429 with Retry-After when it is over
its rate). The rules a request is answered by are the front door's (``frontdoor``), shared with the
portal's views and the MQTT subscriber.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import gc
import heapq
import itertools
import logging
import os
import queue
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from openem.devices.credentials import KeyChecker
from openem.inputs import whole_number

from . import frontdoor
from .frontdoor import TELEMETRY_PATH, Refused
from .ingest import DeviceDirectory, Prepared, drop_connection, store_isolated

log = logging.getLogger(__name__)

CHECKPOINT_EVERY_S = 1.0
TOKEN_TTL_S = 60.0  # a deactivated gateway is refused within a minute
IDLE_BEAT_S = 2.0
ANSWER_WITHIN_S = 120.0  # a request not answered by then (a writer fault) is told to send again
REQUEST_COST_BYTES = 512  # what a request costs in the fair queue beside its body: an empty one is not free


def rows_per_commit() -> int:
    """Rows (readings and rejected lines) in one transaction, at most, unless one request holds more (a
    request is never split, and holds at most ``frontdoor.max_lines()``): the engine workers and the
    portal wait no longer than one such transaction for the database. On SQLite here 10,000 fixes hold
    it about 0.13 s; 5,000 about 0.08 s, but storing in halves costs a fifth more per fix (a commit and
    a trail block per device per transaction), and 20,000 gain a tenth for 0.22 s."""
    return int(frontdoor.limit("ROWS_PER_COMMIT", 10_000))


Work = Callable[[], Prepared]


@dataclass(order=True)
class _Item:
    tag: float
    n: int
    work: Work = field(compare=False)
    future: concurrent.futures.Future[Prepared] = field(compare=False)
    arrived: float = field(compare=False)


class Writer:
    """The one thread that touches the database for this process's receiver.

    ``start=False`` (tests): nothing runs until ``drain()`` is called, on the caller's thread."""

    def __init__(self, start: bool = True) -> None:
        from openem.health.models import Component
        from openem.health.running import Beat

        self._queue: queue.SimpleQueue[tuple[str, int, Work, concurrent.futures.Future[Prepared], float] | None] = (
            queue.SimpleQueue()
        )
        self._waiting: list[_Item] = []  # a heap, by start tag
        # A request validated but left for the next transaction (it would have made this one too large).
        self._carry: tuple[Prepared, concurrent.futures.Future[Prepared]] | None = None
        self._virtual = 0.0
        self._finish: dict[str, float] = {}
        self._numbers = itertools.count()
        self._directory = DeviceDirectory()
        self._tokens: dict[str, tuple[int, float]] = {}
        self.keys = KeyChecker()  # device keys, used on the writer thread only
        self.limits = frontdoor.RateLimits()
        self.beat = Beat(f"ingest {os.getpid()}", Component.INGEST)
        self._stopping = threading.Event()
        self._started = start
        if start:
            self._thread = threading.Thread(target=self._run, name="ingest-writer", daemon=True)
            self._thread.start()
            self._checkpointer = threading.Thread(target=self._checkpoint, name="ingest-checkpoint", daemon=True)
            self._checkpointer.start()

    def submit(self, work: Work, sender: str = "", size: int = 0) -> concurrent.futures.Future[Prepared]:
        """Queue ``work`` for ``sender`` (whose turn it takes), ``size`` its body's bytes."""
        future: concurrent.futures.Future[Prepared] = concurrent.futures.Future()
        self._queue.put((sender, size, work, future, time.monotonic()))
        return future

    def stop(self) -> None:
        self._stopping.set()
        self._queue.put(None)
        if self._started:
            self._thread.join(timeout=10)  # it marks its heartbeat stopped (the database is its thread's)
        else:
            self.beat.stopped()

    def _checkpoint(self) -> None:
        """SQLite: copy the write-ahead log into the database from this thread, every second, so the
        writer's commits do not (a commit that checkpoints costs about a third more). PASSIVE never
        blocks the writer or readers; it does what it can now and the rest next time."""
        from django.db import connection

        if connection.vendor != "sqlite":
            return
        while not self._stopping.wait(CHECKPOINT_EVERY_S):
            try:
                with connection.cursor() as cursor:
                    cursor.execute("PRAGMA wal_checkpoint(PASSIVE)")
            except Exception:  # a busy or closed database: the next round tries again
                connection.close()
        connection.close()

    def gateway_id(self, token: str) -> int | None:
        """The active gateway holding this token, remembered for a minute (called on the writer thread)."""
        from .models import Gateway

        held = self._tokens.get(token)
        if held and held[1] > time.monotonic():
            return held[0]
        gateway = Gateway.for_token(token)
        if gateway is None:
            self._tokens.pop(token, None)
            return None
        if len(self._tokens) > 10_000:  # forgotten tokens of gateways long gone
            self._tokens.clear()
        self._tokens[token] = (gateway.pk, time.monotonic() + TOKEN_TTL_S)
        return gateway.pk

    def known_gateway(self, token: str) -> int | None:
        """The gateway of a token the writer has already checked (any thread; no database)."""
        held = self._tokens.get(token) if token else None
        return held[0] if held and held[1] > time.monotonic() else None

    # -- the queue: start-time fair queueing ------------------------------------------------------------

    def _take_arrivals(self, block: bool) -> bool:
        """Move what has arrived into the fair queue; False when asked to stop."""
        while True:
            try:
                # Idle, it wakes every IDLE_BEAT_S all the same: its heartbeat says it is alive.
                idle = block and not self._waiting and self._carry is None
                entry = self._queue.get(block=idle, timeout=IDLE_BEAT_S if idle else None)
            except queue.Empty:
                return True
            block = False
            if entry is None:
                return False
            sender, size, work, future, arrived = entry
            # A sender's next request starts when its previous one would have finished: a sender with
            # many requests waiting takes its turn after each of the others, however many it sends.
            start = max(self._virtual, self._finish.get(sender, 0.0))
            self._finish[sender] = start + size + REQUEST_COST_BYTES
            heapq.heappush(self._waiting, _Item(start, next(self._numbers), work, future, arrived))
            if len(self._finish) > 10_000:
                self._finish = {s: f for s, f in self._finish.items() if f > self._virtual}

    def _run(self) -> None:
        # A batch allocates a few objects per line; with the default thresholds the collector would run
        # every 700 of them and, in a process this size, spend a tenth of the writer's time walking
        # objects that live for the whole process. Those are frozen; young ones are collected rarely.
        gc.freeze()
        gc.set_threshold(100_000, 20, 100)
        from django.db import connection

        self.beat(lag_s=0.0, backlog=0, force=True)
        while not self._stopping.is_set() or self._waiting or self._carry:
            try:
                if not self._step(block=not self._stopping.is_set()):
                    self._stopping.set()  # asked to stop: what is in hand is stored and answered first
            except Exception:  # never exits: a writer that stops leaves every sender unanswered
                log.exception("ingest writer: a step failed; going on")
                drop_connection()
                self._refuse_waiting()
                time.sleep(0.5)
        self.beat.stopped()
        connection.close()

    def drain(self) -> None:
        """Tests: store everything submitted so far, on this thread."""
        while self._step(block=False) and (self._waiting or self._carry):
            pass

    def _step(self, block: bool) -> bool:
        """Take one bounded group from the fair queue, store it and answer it; False when asked to stop."""
        from django.db import connection

        going = self._take_arrivals(block)
        if self._started and connection.vendor == "sqlite" and connection.connection is None:
            try:
                connection.ensure_connection()
                with connection.cursor() as cursor:
                    cursor.execute("PRAGMA wal_autocheckpoint=0")  # the checkpoint thread does it
            except Exception as exc:  # the database is away: the requests in hand are told to come back
                log.warning("ingest writer: no database (%s)", exc)
                self._refuse_waiting()
                drop_connection()
                time.sleep(0.5)
                return going
        group: list[tuple[Prepared, concurrent.futures.Future[Prepared]]] = []
        rows, most = 0, rows_per_commit()
        if self._carry is not None:
            group.append(self._carry)
            rows += len(self._carry[0].rows) + len(self._carry[0].rejected)
            self._carry = None
        while self._waiting and rows < most:
            item = heapq.heappop(self._waiting)
            self._virtual = item.tag
            try:
                p = item.work()
            except Refused as exc:
                self._count_refused(exc)
                item.future.set_exception(exc)
                continue
            except Exception as exc:  # a failure reading the sender's credential: a database error
                log.warning("ingest writer: %s", exc)
                drop_connection()
                item.future.set_exception(frontdoor.unavailable())
                continue
            n = len(p.rows) + len(p.rejected)
            if group and rows + n > most:  # first in the next transaction
                self._carry = (p, item.future)
                break
            group.append((p, item.future))
            rows += n
        self._commit(group)
        now = time.monotonic()
        oldest = min((item.arrived for item in self._waiting), default=now)
        self.beat(lag_s=round(now - oldest, 3), backlog=len(self._waiting) + self._queue.qsize())
        return going

    def _refuse_waiting(self) -> None:
        if self._carry is not None:
            self._carry[1].set_exception(frontdoor.unavailable())
            self._carry = None
        while self._waiting:
            item = heapq.heappop(self._waiting)
            item.future.set_exception(frontdoor.unavailable())

    def _count_refused(self, exc: Refused) -> None:
        if exc.status == 429:
            self.beat.count(refused_rate_limited=1)
        elif exc.status == 413:
            self.beat.count(refused_too_large=1)

    def _commit(self, done: list[tuple[Prepared, concurrent.futures.Future[Prepared]]]) -> None:

        if not done:
            return
        try:
            store_isolated([p for p, _ in done], self._directory)
        except Exception as exc:  # nothing of these was stored: every sender in the group sends again
            log.warning("ingest writer: could not store %d requests (%s); they are answered 503", len(done), exc)
            drop_connection()
            for _, future in done:
                future.set_exception(frontdoor.unavailable())
            return
        for p, future in done:
            source = p.source.value
            self.beat.count(
                **{
                    f"accepted_{source}": p.result.accepted,
                    f"rejected_{source}": len(p.result.rejected),
                    f"duplicates_{source}": p.result.duplicates,
                }
            )
            future.set_result(p)


class Unread(Exception):
    """A request refused before its body was read."""

    def __init__(self, refused: Refused) -> None:
        super().__init__(str(refused))
        self.refused = refused


async def _done(future: concurrent.futures.Future[Prepared]) -> Prepared:
    try:
        return await asyncio.wait_for(asyncio.wrap_future(future), ANSWER_WITHIN_S)
    except TimeoutError:
        raise frontdoor.unavailable() from None


async def _body(receive: Callable[[], Awaitable[dict[str, Any]]], declared: int | None) -> bytes:
    most = frontdoor.max_body_bytes()
    if declared is not None and declared > most:
        raise Unread(frontdoor.too_large())  # said so before it was sent: not read at all
    chunks, size = [], 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > most:
            raise frontdoor.too_large()
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


# Answers are JSON for devices, never pages: nothing in them may run or be framed, or be cached.
_HEADERS = [
    (b"content-type", b"application/json"),
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"cache-control", b"no-store"),
]


async def _send_json(
    send: Callable[[dict[str, Any]], Awaitable[None]], status: int, body: Any, headers: dict[str, str] | None = None
) -> None:
    data = orjson.dumps(body)
    extra = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [*_HEADERS, *extra, (b"content-length", str(len(data)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": data})


class Receiver:
    """The ASGI application."""

    def __init__(self, writer: Writer | None = None) -> None:
        self.writer = writer

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        if self.writer is None:
            self.writer = Writer()
        try:
            status, body = await self._handle(scope, receive)
        except Unread as unread:
            # The body was not read: the connection is closed rather than the body read to reach the next
            # request on it (a flood's megabytes cost the event loop nothing).
            status, body, headers = unread.refused.answer()
            await _send_json(send, status, body, {**headers, "Connection": "close"})
            return
        except Refused as exc:
            status, body, headers = exc.answer()
            await _send_json(send, status, body, headers)
            return
        except Exception:  # a failure of ours: the sender sends again
            log.exception("ingest receiver")
            status, body, headers = frontdoor.unavailable().answer()
            await _send_json(send, status, body, headers)
            return
        await _send_json(send, status, body)

    async def _handle(self, scope: dict[str, Any], receive: Any) -> tuple[int, dict[str, Any]]:
        assert self.writer is not None
        writer = self.writer
        method, path = scope["method"], scope["path"]
        headers = dict(scope["headers"])
        address = (scope.get("client") or ("unknown", 0))[0]
        declared = headers.get(b"content-length", b"").decode("latin-1")
        if path == TELEMETRY_PATH:
            frontdoor.check_method(method, ("POST",))
            token = frontdoor.bearer_token(headers.get(b"authorization", b"").decode("latin-1"))
            known = writer.known_gateway(token)
            if known is not None and (wait := writer.limits.in_debt(frontdoor.gateway_sender(known))):
                writer.beat.count(refused_rate_limited=1)
                raise Unread(frontdoor.too_fast(wait))  # not even read: a flood costs its reading no more
            try:
                body = await _body(receive, whole_number(declared))
            except (Refused, Unread):
                writer.beat.count(refused_too_large=1)
                raise

            def batch() -> Prepared:
                gateway = writer.gateway_id(token) if token else None
                return frontdoor.telemetry_batch(body, gateway, address, writer.limits)

            sender = f"token:{token}" if token else f"address:{address}"
            p = await _done(writer.submit(batch, sender, len(body)))
            return frontdoor.telemetry_answer(p)
        # Traccar Client (OsmAnd protocol) posts to any path: parameters in the query string or a form, or
        # (version 9 on) a JSON body.
        frontdoor.check_method(method, ("GET", "POST"))
        body = await _body(receive, whole_number(declared))
        content_type = headers.get(b"content-type", b"").decode("latin-1")
        req = frontdoor.osmand_params(scope["query_string"], body, content_type)

        def osmand() -> Prepared:  # the key is checked on the writer thread
            return frontdoor.osmand_batch(req, path, writer.keys, address, writer.limits)

        device = req.device
        p = await _done(writer.submit(osmand, f"device:{device}", len(body)))
        return frontdoor.osmand_answer(p)

    async def _lifespan(self, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.writer = self.writer or Writer()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.writer is not None:
                    self.writer.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return
