"""Ingest: validate each reading, store the good ones once, keep the bad ones with their reason.

Two steps, so a receiver can validate on one core while the database stores on the other:
``prepare`` (pure Python: decode, validate, find duplicates within the batch) and ``store`` (one
transaction for any number of prepared batches: group commit). A batch is acknowledged only after
its transaction commits, so whatever the caller was told was accepted is on disk. Duplicates (same
device and seq, or same device, time and payload) are stored once, whether they come in the same
batch or a later one.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import math
import secrets
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from django.db import connection, transaction
from django.utils import timezone

from openem.engine.telemetry import ReadingError, ReadingType, parse_reading
from openem.health.running import is_transient

from . import deadlines, trail
from .models import Gateway, Reading, RejectedReading, Rejection, Source
from .osmand import KEY_PARAM, osmand_items, osmand_key  # noqa: F401 (the OsmAnd protocol's home before)
from .redact import redact_keys

log = logging.getLogger(__name__)

_FIX = ReadingType.FIX

# One reading is at most this much JSON (as sent on a line, and as stored): a fix is about 150 bytes,
# so this leaves room for a vendor's extra fields and none for a megabyte in one reading.
MAX_READING_BYTES = 4096
# Unknown fields may hold objects and arrays, nested at most this deep (the reading itself is level 1):
# a payload read back must not exhaust anyone's recursion limit.
MAX_DEPTH = 8
_CONTAINERS = (dict, list)


# A sender without a valid credential has its lines kept as rejected readings, up to this many a
# request: enough to see what a misconfigured device or gateway sends, not a way to fill the table.
MAX_UNAUTHENTICATED_LINES = 1_000
# Any request's rejected lines are all reported to its sender, and this many are kept in the rejected
# readings, with one more saying how many were not: a request of junk costs the database little.
MAX_KEPT_REJECTED = 1_000


NO_GATEWAY_TOKEN = "a valid gateway token is required (Authorization: Bearer ...)"


class Unauthenticated(ReadingError):
    """A reading that came without a valid credential for its device."""

    def __init__(self, field_name: str, why: str) -> None:
        super().__init__(field_name, why)
        self.why = why

    def __str__(self) -> str:  # the reason the centre sees starts "not authenticated", whatever the field
        return f"not authenticated: {self.why}"


@dataclass
class IngestResult:
    accepted: int = 0
    duplicates: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)
    unauthenticated: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"accepted": self.accepted, "duplicates": self.duplicates, "rejected": self.rejected}


@dataclass(slots=True)
class Prepared:
    """A validated batch, ready to store. ``rows`` maps (device, digest) to the reading's column
    values, for a fix its (time, lat, lon, accuracy) for the trail, and its time in Unix seconds;
    ``lines`` holds each row's line number and raw text in case the device turns out to be unknown."""

    source: Source
    gateway_id: int | None
    device_field: str
    batch: str = field(default_factory=lambda: secrets.token_hex(6))
    rows: dict[tuple[str, str], tuple[Any, ...]] = field(default_factory=dict)
    lines: dict[tuple[str, str], tuple[int | None, bytes | str]] = field(default_factory=dict)
    rejected: list[tuple[int | None, bytes | str, str, str, Rejection, str]] = field(default_factory=list)
    result: IngestResult = field(default_factory=IngestResult)
    devices: set[str] = field(default_factory=set)
    notes: list[tuple[int, str]] = field(default_factory=list)  # (line, what the answer says of it): OsmAnd
    not_kept: int = 0  # rejected lines reported but not kept (beyond MAX_KEPT_REJECTED)

    def reject(
        self, line: int | None, raw: bytes | str, field_name: str, reason: str,
        kind: Rejection = Rejection.INVALID, device: Any = "", note: bool = False,
    ) -> None:  # fmt: skip
        """``device``: the device the reading named, if any; it decides whose case the rejection is.
        ``note``: kept whatever the cap (a note about the request itself)."""
        self.result.rejected.append({"line": line, "field": field_name, "error": reason})
        named = device if isinstance(device, str) and len(device) <= 40 else ""
        if len(self.rejected) >= MAX_KEPT_REJECTED and not note:
            self.not_kept += 1
        else:
            self.rejected.append((line, raw, field_name, reason, kind, named))
        if kind is Rejection.UNAUTHENTICATED:
            self.result.unauthenticated += 1


def reading_key(device: str, obj: dict[str, Any]) -> str:
    """What makes a reading itself, for one device: ``seq:N`` when the device numbers its readings, else
    a digest of the payload with sorted keys (the same reading however it was serialised; the payload
    holds the time). One unique index on (device, key) then covers both duplicate rules: the same seq,
    or the same time and payload (a payload with a seq holds it, so equal payloads have equal seqs)."""
    seq = obj.get("seq")
    if type(seq) is int and seq >= 0:
        return f"seq:{seq}"
    canonical = orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(device.encode() + b"\n" + canonical).hexdigest()[:32]


@functools.lru_cache(maxsize=1 << 16)
def _second(s: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(s))


def sqlite_time(t: float) -> str:
    """Django's SQLite text for a UTC time (what str() of the naive datetime gives), made from a cache of
    whole seconds: readings arriving together mostly share them, and this runs once per reading."""
    s = math.floor(t)
    us = round((t - s) * 1e6)
    if us >= 1_000_000:
        s, us = s + 1, us - 1_000_000
    return _second(s) if not us else f"{_second(s)}.{us:06d}"


def _db_time() -> Any:
    """How this database takes a datetime: SQLite stores Django's naive-UTC text, PostgreSQL the value."""
    if connection.vendor == "sqlite":
        return sqlite_time
    return lambda t: datetime.fromtimestamp(t, UTC)


def prepare(
    items: Iterable[tuple[int | None, bytes | str, Any]],
    source: Source,
    gateway: Gateway | int | None = None,
    now: float | None = None,
    device_field: str = "device",
    unauthenticated: Unauthenticated | None = None,
) -> Prepared:
    """items: (line number, raw text, decoded object or an Exception saying why it could not be).

    Who may send what: with a gateway, ``store`` keeps only readings of devices assigned to it;
    senders with device keys are checked before this (see ``openem.devices.credentials``) and an
    ``unauthenticated`` request has every line kept as rejected with why. No gateway and no
    ``unauthenticated``: the caller is trusted (a file loaded from the command line, a test)."""
    now = time.time() if now is None else now
    gateway_id = gateway.pk if isinstance(gateway, Gateway) else gateway
    p = Prepared(source, gateway_id, device_field)
    if unauthenticated is not None:
        for n, (line, raw, _obj) in enumerate(items):
            if n == MAX_UNAUTHENTICATED_LINES:  # not even read: the rest of the request is not looked at
                p.reject(line, b"", "(request)", f"{unauthenticated} (later lines of this request not kept)",
                         Rejection.UNAUTHENTICATED, note=True)  # fmt: skip
                break
            p.reject(line, raw, unauthenticated.field, str(unauthenticated), Rejection.UNAUTHENTICATED)
        return p
    rows, lines, devices = p.rows, p.lines, p.devices
    as_time = _db_time()
    for line, raw, obj in items:
        try:
            if isinstance(obj, Exception):
                raise obj
            r = parse_reading(obj, "", now=now)
            check_shape(obj)
            payload = orjson.dumps(obj).decode()
            if len(payload) > MAX_READING_BYTES:
                raise ReadingError("(line)", too_long(len(payload)))
            if "\\u0000" in payload:  # PostgreSQL's text and jsonb cannot hold it
                raise ReadingError(_nul_field(obj), "holds a NUL character (\\u0000), which cannot be stored")
            key = (r.device, reading_key(r.device, obj))
        except Unauthenticated as exc:
            p.reject(line, raw, exc.field, str(exc), Rejection.UNAUTHENTICATED)
            continue
        except ReadingError as exc:
            # Every reading names its device as "device" (OsmAnd's id is converted to it; an OsmAnd error
            # made before there is a reading carries it).
            named = obj.get("device", "") if isinstance(obj, dict) else getattr(exc, "device", "")
            p.reject(line, raw, exc.field, str(exc), device=named)
            continue
        except Exception as exc:  # whatever the checks above missed is this line's problem, not the batch's
            log.exception("line %s could not be read", line)
            p.reject(line, raw, "(line)", f"could not be read ({type(exc).__name__})")
            continue
        devices.add(r.device)
        if key in rows:
            if rows[key][4] != payload and orjson.loads(rows[key][4]) != obj:
                p.reject(line, raw, "seq", _conflict(r.device, r.seq, "earlier in this batch"), device=r.device)
            else:
                p.result.duplicates += 1
            continue
        seq = r.seq if r.seq >= 0 else None
        t = as_time(r.t)
        fix = (r.t, r.lat, r.lon, obj.get("accuracy_m")) if r.type is _FIX else None
        rows[key] = (r.device, t, r.type.value, seq, payload, key[1], fix, r.t)
        lines[key] = (line, raw)
    return p


def too_long(size: int) -> str:
    return f"is {size:,} bytes of JSON; a reading can be at most {MAX_READING_BYTES:,}"


def check_shape(obj: dict[str, Any]) -> None:
    """Unknown fields are kept as sent, but nested at most MAX_DEPTH levels (found without recursion)."""
    for name, value in obj.items():
        if type(value) in _CONTAINERS:
            stack = [(value, 2)]
            while stack:
                v, depth = stack.pop()
                if depth > MAX_DEPTH:
                    raise ReadingError(str(name)[:40], f"is nested more than {MAX_DEPTH} levels deep")
                children = v.values() if type(v) is dict else v
                stack.extend((c, depth + 1) for c in children if type(c) in _CONTAINERS)


def _nul_field(obj: dict[str, Any]) -> str:
    for name, value in obj.items():
        if "\x00" in name or "\\u0000" in orjson.dumps(value).decode():
            return name.replace("\x00", "")[:40] or "(line)"
    return "(line)"


class DeviceDirectory:
    """Which device ids exist, the gateway each is assigned to, and its kind. A long-running receiver keeps
    one and asks the database again about a device after a minute (a device moved to another gateway, or
    deleted, is seen within a minute); elsewhere each batch asks afresh."""

    TTL_S = 60.0

    def __init__(self) -> None:
        self._held: dict[str, tuple[int | None, str, float]] = {}

    def gateways(self, devices: set[str]) -> dict[str, int | None]:
        """The gateway (or None) of each known device among ``devices``; unknown ones are left out."""
        from openem.devices.models import Device

        now = time.monotonic()
        found: dict[str, int | None] = {}
        missing = []
        for device in devices:
            held = self._held.get(device)
            if held is not None and held[2] > now:
                found[device] = held[0]
            else:
                missing.append(device)
        if missing:
            known = Device.objects.filter(ref__in=missing).values_list("ref", "gateway_id", "kind")
            for ref, gateway_id, kind in known:
                found[ref] = gateway_id
                self._held[ref] = (gateway_id, kind, now + self.TTL_S)
        return found

    def kind(self, device: str) -> str:
        """The kind of a device ``gateways`` has just found."""
        held = self._held.get(device)
        return held[1] if held is not None else ""


def store(batches: list[Prepared], directory: DeviceDirectory | None = None) -> None:
    """Store prepared batches in one transaction and fill in each one's result."""
    directory = directory or DeviceDirectory()
    with transaction.atomic():
        known = directory.gateways({d for p in batches for d in p.devices})
        for p in batches:
            unknown = {d for d in p.devices if d not in known}
            foreign = {d for d in p.devices - unknown if known[d] != p.gateway_id} if p.gateway_id else set()
            if unknown or foreign:
                for key in [k for k in p.rows if k[0] in unknown or k[0] in foreign]:
                    del p.rows[key]
                    line, raw = p.lines.pop(key)
                    if key[0] in unknown:
                        why = f'{p.device_field}: "{key[0]}" is not a known device'
                        p.reject(line, raw, p.device_field, why, Rejection.UNKNOWN_DEVICE, key[0])
                    else:
                        why = f'not authenticated: device "{key[0]}" is not assigned to this gateway'
                        p.reject(line, raw, p.device_field, why, Rejection.UNAUTHENTICATED, key[0])
        _insert_rejected(batches)
        stored = _insert_readings(batches)
        fixes = []
        latest: dict[str, float] = {}
        for p in batches:
            mine = stored.get(p.batch, [])
            p.result.accepted = len(mine)
            if len(p.rows) > len(mine):
                _keep_conflicts(p, {key for _pk, key in mine})
            p.result.duplicates += len(p.rows) - len(mine)
            for _pk, key in mine:
                row = p.rows[key]
                if row[6] is not None:
                    fixes.append((row[0], *row[6]))
                if row[7] > latest.get(row[0], float("-inf")):
                    latest[row[0]] = row[7]
        trail.store(fixes)
        deadlines.touch({d: (t, directory.kind(d)) for d, t in latest.items()})


def store_isolated(batches: list[Prepared], directory: DeviceDirectory | None = None) -> None:
    """``store``, so that one batch cannot fail the others: if the group commit fails for a reason that
    does not pass by itself (a value the checks did not catch), each batch is stored on its own, and a
    batch that still fails has its readings stored in halves until the one that fails is found and kept
    as rejected with the database's reason. A transient failure (a locked or lost database) is raised:
    nothing was stored, and the senders are told to send again."""
    directory = directory or DeviceDirectory()
    held = [_hold(p) for p in batches]
    try:
        store(batches, directory)
        return
    except Exception as exc:
        if is_transient(exc) or not connection.is_usable():
            raise
        log.warning("a group of %d batches failed (%s); storing each on its own", len(batches), exc)
    for p, state in zip(batches, held, strict=True):
        _restore(p, state)
        if len(batches) > 1:
            state = _hold(p)
            try:
                store([p], directory)
                continue
            except Exception as exc:
                if is_transient(exc):
                    raise
                _restore(p, state)
        _store_by_halves(p, directory)


def drop_connection() -> None:
    """After a database error: drop the connection so the next query starts afresh (a lost PostgreSQL
    connection is not reused), unless a caller's transaction is open (a test's): that one decides."""
    if not connection.in_atomic_block:
        connection.close()


def _hold(p: Prepared) -> tuple[Any, ...]:
    """What ``store`` changes in a batch, to put back when its transaction was rolled back."""
    r = p.result
    held = dict(p.rows), dict(p.lines), list(p.rejected), list(r.rejected), r.accepted, r.duplicates, r.unauthenticated
    return (*held, p.not_kept)


def _restore(p: Prepared, state: tuple[Any, ...]) -> None:
    rows, lines, rejected, result_rejected, accepted, duplicates, unauthenticated, p.not_kept = state
    p.rows, p.lines, p.rejected = dict(rows), dict(lines), list(rejected)
    p.result.rejected, p.result.accepted = list(result_rejected), accepted
    p.result.duplicates, p.result.unauthenticated = duplicates, unauthenticated


def _part(p: Prepared, keys: list[tuple[str, str]], rejected: bool) -> Prepared:
    part = Prepared(p.source, p.gateway_id, p.device_field, batch=p.batch)
    part.rows = {k: p.rows[k] for k in keys}
    part.lines = {k: p.lines[k] for k in keys}
    part.devices = {k[0] for k in keys}
    if rejected:
        part.rejected, part.not_kept = list(p.rejected), p.not_kept
    return part


def _store_by_halves(p: Prepared, directory: DeviceDirectory) -> None:
    """Store a batch whose transaction failed: its rejected lines first, then its readings in halves,
    each half in its own transaction, down to single readings; one that still fails is kept as rejected."""
    failed: list[tuple[tuple[str, str], Exception]] = []
    result = IngestResult(duplicates=p.result.duplicates, rejected=list(p.result.rejected))
    result.unauthenticated = p.result.unauthenticated

    def attempt(keys: list[tuple[str, str]], with_rejected: bool) -> None:
        part = _part(p, keys, with_rejected)
        try:
            store([part], directory)
        except Exception as exc:
            if is_transient(exc):
                raise
            if len(keys) <= 1:
                if keys:
                    failed.append((keys[0], exc))
                return
            mid = len(keys) // 2
            attempt(keys[:mid], False)
            attempt(keys[mid:], False)
            return
        result.accepted += part.result.accepted
        result.duplicates += part.result.duplicates
        result.unauthenticated += part.result.unauthenticated
        # The lines this part rejected itself (unknown devices, taken seqs); its copy of the batch's own
        # rejected lines is already in ``result``.
        result.rejected += part.result.rejected

    attempt([], True)  # the batch's own rejected lines, in a transaction of their own
    attempt(list(p.rows), False)
    if failed:
        keep = Prepared(p.source, p.gateway_id, p.device_field, batch=p.batch)
        for key, exc in failed:
            line, raw = p.lines[key]
            why = f"could not be stored ({type(exc).__name__}: {str(exc)[:200]})"
            keep.reject(line, raw, "(line)", why, device=key[0])
            log.error("line %s of a batch could not be stored: %s", line, exc)
        try:
            with transaction.atomic():
                _insert_rejected([keep])
        except Exception as exc:
            if is_transient(exc):
                raise
            log.exception("the lines that could not be stored could not be kept as rejected either")
        result.rejected += keep.result.rejected
    result.rejected.sort(key=lambda r: (r["line"] is None, r["line"] or 0))
    p.result = result


def _conflict(device: str, seq: int, where: str) -> str:
    return (
        f'seq {seq} of device "{device}" was used {where} by a different reading; this one is kept here, '
        "not evaluated: check the sender's numbering (two senders for one device?)"
    )


def _keep_conflicts(p: Prepared, stored: set[tuple[str, str]]) -> None:
    """Readings not stored because their device's seq was taken: a true duplicate (the same reading sent
    again) is counted as one; a different reading under the same seq is kept as rejected, never dropped
    in silence (a second sender for a device cannot hide the first one's readings)."""
    taken = [k for k in p.rows if k not in stored and k[1].startswith("seq:")]
    if not taken:
        return
    existing: dict[tuple[str, str], Any] = {}
    for device, digest, payload in Reading.objects.filter(
        device__in={k[0] for k in taken}, digest__in={k[1] for k in taken}
    ).values_list("device", "digest", "payload"):
        existing[(device, digest)] = payload
    rejected = []
    for key in taken:
        if key in existing and existing[key] != orjson.loads(p.rows[key][4]):
            line, raw = p.lines.pop(key)
            del p.rows[key]
            rejected.append((line, raw, key))
    kept, not_kept = len(p.rejected), p.not_kept
    for line, raw, key in rejected:
        p.reject(line, raw, "seq", _conflict(key[0], int(key[1][4:]), "already"), device=key[0])
    if rejected:
        late = Prepared(p.source, p.gateway_id, p.device_field, rejected=p.rejected[kept:])
        late.not_kept = p.not_kept - not_kept
        _insert_rejected([late])


def ingest_objects(
    items: Iterable[tuple[int | None, bytes | str, Any]],
    source: Source,
    gateway: Gateway | None = None,
    now: float | None = None,
    device_field: str = "device",
    unauthenticated: Unauthenticated | None = None,
) -> IngestResult:
    p = prepare(items, source, gateway, now, device_field, unauthenticated)
    store_isolated([p])
    return p.result


def _text(raw: bytes | str, most: int) -> str:
    """Text any database holds: valid UTF-8 (bad bytes and lone surrogates replaced), no NUL, cut short."""
    text = raw[: most * 4].decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw[: most * 4]
    if not text.isascii():
        text = text.encode("utf-8", errors="replace").decode("utf-8")
    return text.replace("\x00", "\ufffd")[:most]


MAX_LINE_NUMBER = 2**31 - 1  # the rejected readings' line column


def _insert_rejected(batches: list[Prepared]) -> None:
    """One executemany for every rejected line (a flood of junk is mostly these: building model instances
    for them cost more than storing them)."""
    received = connection.ops.adapt_datetimefield_value(timezone.now())
    rows = [
        (
            received,
            _text(device, 40),
            p.source.value,
            p.gateway_id,
            line if line is None or 0 <= line <= MAX_LINE_NUMBER else None,
            redact_keys(_text(raw, 8000))[:4000],
            _text(f, 40),
            _text(reason, 1000),
            kind.value,
        )
        for p in batches
        for line, raw, f, reason, kind, device in p.rejected
    ]
    for p in batches:
        if p.not_kept:
            kind = Rejection.UNAUTHENTICATED if p.result.unauthenticated else Rejection.INVALID
            why = f"{p.not_kept:,} more rejected lines of this request were reported to its sender, not kept here"
            rows.append((received, "", p.source.value, p.gateway_id, None, "", "(request)", why, kind.value))
    if rows:
        table = RejectedReading._meta.db_table
        with connection.cursor() as cursor:
            cursor.executemany(
                f"INSERT INTO {table} (received, device, source, gateway_id, line, raw, field, reason, kind) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                rows,
            )


def _insert_readings(batches: list[Prepared]) -> dict[str, list[tuple[int, tuple[str, str]]]]:
    """Store the rows; the unique constraint decides what is new, whoever else is storing the same
    readings now. Returns, per batch, the (id, key) of each reading it stored."""
    if not any(p.rows for p in batches):
        return {}
    received = connection.ops.adapt_datetimefield_value(timezone.now())

    def params() -> Iterator[tuple[Any, ...]]:
        for p in batches:
            source, batch = p.source.value, p.batch
            for device, t, rtype, seq, payload, dig, _trail, _t in p.rows.values():
                yield (device, t, rtype, seq, payload, dig, received, source, batch)

    stored: dict[str, list[tuple[int, tuple[str, str]]]] = {}
    rows = _copy_readings(params()) if connection.vendor == "postgresql" else _executemany_readings(batches, params())
    for pk, device, dig, batch in rows:
        stored.setdefault(batch, []).append((pk, (device, dig)))
    return stored


_COLUMNS = "device, t, type, seq, payload, digest, received, source, batch"


def _executemany_readings(batches: list[Prepared], params: Iterator[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """SQLite: INSERT ... ON CONFLICT DO NOTHING with executemany (Django's bulk_create spends longer
    building the SQL than the database spends storing the rows). When every row was new - the usual
    case - their ids are the next ones in the table's sequence, in order (one writer at a time, and
    AUTOINCREMENT never reuses an id); otherwise what was stored is read back."""
    table = Reading._meta.db_table
    rows = list(params)
    sequence = f"SELECT seq FROM sqlite_sequence WHERE name = '{table}'"
    with connection.cursor() as cursor:
        cursor.execute(sequence)
        before = (cursor.fetchone() or (0,))[0]
        cursor.executemany(
            f"INSERT INTO {table} ({_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
            rows,
        )
        inserted = cursor.rowcount
        cursor.execute(sequence)
        after = (cursor.fetchone() or (0,))[0]
        if inserted == len(rows) == after - before:
            return [(before + 1 + k, row[0], row[5], row[8]) for k, row in enumerate(rows)]
        names = [p.batch for p in batches if p.rows]
        marks = ", ".join(["%s"] * len(names))
        cursor.execute(
            f"SELECT id, device, digest, batch FROM {table} WHERE id > %s AND batch IN ({marks})", [before, *names]
        )
        return list(cursor.fetchall())


def _copy_readings(params: Iterator[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """PostgreSQL: COPY into a temporary table, then one INSERT ... SELECT ... ON CONFLICT DO NOTHING
    RETURNING what was stored (row-by-row inserts are several times slower)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMPORARY TABLE IF NOT EXISTS ingest_stage (device text, t timestamptz, type text, seq bigint, "
            "payload jsonb, digest text, received timestamptz, source text, batch text) ON COMMIT DELETE ROWS"
        )
        with cursor.copy(f"COPY ingest_stage ({_COLUMNS}) FROM STDIN") as copy:
            for row in params:
                copy.write_row(row)
        cursor.execute(
            f"INSERT INTO {Reading._meta.db_table} ({_COLUMNS}) SELECT {_COLUMNS} FROM ingest_stage "
            "ON CONFLICT DO NOTHING RETURNING id, device, digest, batch"
        )
        rows = list(cursor.fetchall())
        cursor.execute("TRUNCATE ingest_stage")  # a second group in the same transaction starts empty
        return rows


def decode_lines(body: bytes | str, first: int = 1) -> Iterator[tuple[int, bytes | str, Any]]:
    """JSON Lines as (line number, raw, object or the error saying why the line is not a reading's JSON):
    one line's problem (not UTF-8, not JSON, too long) is that line's alone. ``first``: the number of the
    body's first line."""
    data = body.encode() if isinstance(body, str) else body
    loads, error = orjson.loads, orjson.JSONDecodeError
    for n, line in enumerate(data.split(b"\n"), start=first):
        if line.endswith(b"\r"):
            line = line[:-1]
        if not line.strip():
            continue
        if len(line) > MAX_READING_BYTES:  # refused before it is parsed: junk costs little
            yield n, line[:MAX_READING_BYTES], ReadingError("(line)", too_long(len(line)))
            continue
        try:
            yield n, line, loads(line)
        except error as exc:
            why = "is not UTF-8" if "UTF-8" in exc.msg else f"not valid JSON at column {exc.colno}: {exc.msg}"
            yield n, line, ReadingError("(line)", why)


def ingest_jsonl(
    body: bytes | str,
    source: Source = Source.HTTP,
    gateway: Gateway | None = None,
    now: float | None = None,
    unauthenticated: Unauthenticated | None = None,
) -> IngestResult:
    return ingest_objects(decode_lines(body), source, gateway, now, unauthenticated=unauthenticated)


def status_for(result: IngestResult) -> int:
    """The HTTP status for a device's request: 401 when its credential was not valid."""
    return 401 if result.unauthenticated else 400 if result.rejected else 200
