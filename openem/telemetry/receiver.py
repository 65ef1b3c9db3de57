"""The ingest receiver: the gateways' batch endpoint and the OsmAnd protocol on one port (5055 by
default), served by uvicorn, with group commit.

Requests are only read and answered on the event loop. One writer thread takes every request
waiting, validates them all, stores them in one transaction and then answers each: under load a
commit carries many batches, so the cost of committing (and of the pages it writes) is shared, and
nothing is acknowledged before its transaction has committed. Validation runs on the writer thread
too: a second Python thread validating beside it would make it wait for the interpreter lock after
every row it hands to SQLite. More processes (``--processes``) use more cores; their writers take
turns at the database.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import gc
import queue
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

import orjson

from openem.devices.credentials import KeyChecker

from .ingest import (
    NO_GATEWAY_TOKEN,
    DeviceDirectory,
    IngestResult,
    Prepared,
    Unauthenticated,
    decode_lines,
    osmand_request,
    prepare,
    status_for,
    store,
)
from .models import Source

MAX_BATCH_BYTES = 20 * 1024 * 1024
MAX_ROWS_PER_COMMIT = 50_000
CHECKPOINT_EVERY_S = 1.0
TOKEN_TTL_S = 60.0  # a deactivated gateway is refused within a minute
TELEMETRY_PATH = "/ingest/v1/telemetry"

Work = Callable[[], Prepared]


class Rejected(Exception):
    """A request refused as a whole (bad token, too large): the status and the message to send."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class Writer:
    """The one thread that touches the database for this process's receiver."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[tuple[Work, concurrent.futures.Future[IngestResult]] | None] = (
            queue.SimpleQueue()
        )
        self._directory = DeviceDirectory()
        self._tokens: dict[str, tuple[int, float]] = {}
        self.keys = KeyChecker()  # device keys, used on the writer thread only
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ingest-writer", daemon=True)
        self._thread.start()
        self._checkpointer = threading.Thread(target=self._checkpoint, name="ingest-checkpoint", daemon=True)
        self._checkpointer.start()

    def submit(self, work: Work) -> concurrent.futures.Future[IngestResult]:
        future: concurrent.futures.Future[IngestResult] = concurrent.futures.Future()
        self._queue.put((work, future))
        return future

    def stop(self) -> None:
        self._stopping.set()
        self._queue.put(None)
        self._thread.join(timeout=10)

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
        self._tokens[token] = (gateway.pk, time.monotonic() + TOKEN_TTL_S)
        return gateway.pk

    def _run(self) -> None:
        from django.db import connection

        # A batch allocates a few objects per line; with the default thresholds the collector would run
        # every 700 of them and, in a process this size, spend a tenth of the writer's time walking
        # objects that live for the whole process. Those are frozen; young ones are collected rarely.
        gc.freeze()
        gc.set_threshold(100_000, 20, 100)

        # One connection for the writer's life (reopened after an error), not one per request.
        while True:
            if connection.vendor == "sqlite" and connection.connection is None:
                connection.ensure_connection()
                with connection.cursor() as cursor:
                    cursor.execute("PRAGMA wal_autocheckpoint=0")  # the checkpoint thread does it
            item = self._queue.get()
            if item is None:
                break
            waiting = [item]
            stop = False
            while True:  # everything else already waiting goes into the same commit
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stop = True
                    break
                waiting.append(more)
            done: list[tuple[Prepared, concurrent.futures.Future[IngestResult]]] = []
            for work, future in waiting:
                try:
                    done.append((work(), future))
                except Exception as exc:  # a Rejected request, or a failure: reported to that sender
                    future.set_exception(exc)
            group: list[tuple[Prepared, concurrent.futures.Future[IngestResult]]] = []
            rows = 0
            for entry in done:
                group.append(entry)
                rows += len(entry[0].rows)
                if rows >= MAX_ROWS_PER_COMMIT:
                    self._commit(group)
                    group, rows = [], 0
            self._commit(group)
            if stop:
                connection.close()
                break

    def _commit(self, done: list[tuple[Prepared, concurrent.futures.Future[IngestResult]]]) -> None:
        from django.db import connection

        if not done:
            return
        try:
            store([p for p, _ in done], self._directory)
        except Exception as exc:  # every sender in the group is told, and sends again
            connection.close()
            for _, future in done:
                future.set_exception(exc)
            return
        for p, future in done:
            future.set_result(p.result)


async def _body(receive: Callable[[], Awaitable[dict[str, Any]]]) -> bytes:
    chunks, size = [], 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BATCH_BYTES:
            raise Rejected(413, f"a batch can be at most {MAX_BATCH_BYTES // 1024 // 1024} MB")
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


async def _send_json(send: Callable[[dict[str, Any]], Awaitable[None]], status: int, body: Any) -> None:
    data = orjson.dumps(body)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [*_HEADERS, (b"content-length", str(len(data)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": data})


class Receiver:
    """The ASGI application."""

    def __init__(self) -> None:
        self.writer: Writer | None = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        if self.writer is None:
            self.writer = Writer()
        try:
            status, result, error = await self._handle(scope, receive)
        except Rejected as exc:
            await _send_json(send, exc.status, {"error": str(exc)})
            return
        except Exception:  # the database could not store it: the sender sends again
            await _send_json(send, 503, {"error": "could not store the readings now; send them again"})
            return
        await _send_json(send, status, {"error": error, **result.to_json()} if error else result.to_json())

    async def _handle(self, scope: dict[str, Any], receive: Any) -> tuple[int, IngestResult, str]:
        assert self.writer is not None
        writer = self.writer
        method, path = scope["method"], scope["path"]
        body = await _body(receive)
        if path == TELEMETRY_PATH:
            if method != "POST":
                raise Rejected(405, "send readings with POST")
            auth = dict(scope["headers"]).get(b"authorization", b"").decode("latin-1")
            token = auth[7:] if auth.startswith("Bearer ") else ""

            refused = False

            def batch() -> Prepared:
                nonlocal refused
                gateway = writer.gateway_id(token) if token else None
                if gateway is None:  # kept as rejected readings, for the monitoring centre to see
                    refused = True
                    why = Unauthenticated("authorization", NO_GATEWAY_TOKEN)
                    return prepare(decode_lines(body), Source.HTTP, unauthenticated=why)
                return prepare(decode_lines(body), Source.HTTP, gateway)

            result = await asyncio.wrap_future(writer.submit(batch))
            return (401, result, NO_GATEWAY_TOKEN) if refused else (200, result, "")
        # Traccar Client (OsmAnd protocol) posts to any path, parameters in the query string or a form.
        if method not in ("GET", "POST"):
            raise Rejected(405, "OsmAnd readings come with GET or POST")
        params = dict(parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True))
        if body and b"=" in body:
            params.update(parse_qsl(body.decode("latin-1"), keep_blank_values=True))
        if not params:
            # A browser or a probe, not a device: nothing to keep as a rejected reading.
            raise Rejected(400, f"send OsmAnd parameters (id, lat, lon, timestamp) or POST {TELEMETRY_PATH}")
        path = scope["path"]

        def osmand() -> Prepared:
            items, problem = osmand_request(params, path, writer.keys)  # the key is checked on the writer thread
            return prepare(items, Source.OSMAND, device_field="id", unauthenticated=problem)

        result = await asyncio.wrap_future(writer.submit(osmand))
        return status_for(result), result, ""

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
