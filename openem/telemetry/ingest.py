"""Ingest: validate each reading, store the good ones once, keep the bad ones with their reason.

A batch is acknowledged only after its transaction commits: whatever the caller was told was
accepted is on disk. Duplicates (same device and seq, or same device, time and payload) are stored
once, whether they come in the same batch or a later one.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from openem.engine.telemetry import ReadingError, ReadingType, parse_reading

from .models import Fix, Gateway, Reading, RejectedReading, Source


@dataclass
class IngestResult:
    accepted: int = 0
    duplicates: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"accepted": self.accepted, "duplicates": self.duplicates, "rejected": self.rejected}


def ingest_objects(
    items: Iterable[tuple[int, str, Any]], source: Source, gateway: Gateway | None = None, now: float | None = None
) -> IngestResult:
    """items: (line number, raw text, decoded object or an Exception saying why it could not be)."""
    now = time.time() if now is None else now
    result = IngestResult()
    rows: dict[tuple[str, str], tuple[Row, dict[str, Any]]] = {}
    by_seq: set[tuple[str, int]] = set()
    rejected: list[RejectedReading] = []
    for line, raw, obj in items:
        try:
            if isinstance(obj, Exception):
                raise obj
            r = parse_reading(obj, raw, now=now)
        except ReadingError as exc:
            result.rejected.append({"line": line, "field": exc.field, "error": str(exc)})
            rejected.append(
                RejectedReading(
                    source=source.value, gateway=gateway, line=line, raw=raw[:4000], field=exc.field, reason=str(exc)
                )
            )
            continue
        digest = Reading.digest_of(r.device, obj)
        seq = r.seq if r.seq >= 0 else None
        if (r.device, digest) in rows or (seq is not None and (r.device, seq) in by_seq):
            result.duplicates += 1
            continue
        if seq is not None:
            by_seq.add((r.device, seq))
        rows[(r.device, digest)] = (Row(r.device, datetime.fromtimestamp(r.t, UTC), r.type.value, seq, digest), obj)
    batch_id = uuid.uuid4().hex
    with transaction.atomic():
        if rejected:
            RejectedReading.objects.bulk_create(rejected)
        # The unique constraints decide what is new, whoever else is storing the same readings now:
        # INSERT ... ON CONFLICT DO NOTHING, then read back what this batch actually stored.
        _insert_readings(list(rows.values()), source.value, batch_id)
        stored = list(Reading.objects.filter(batch=batch_id).values_list("id", "device", "digest", "type", "t"))
        by_key = {key: obj for key, (_, obj) in rows.items()}
        result.accepted = len(stored)
        result.duplicates += len(rows) - len(stored)
        fixes = []
        for pk, device, digest, rtype, t in stored:
            if rtype == ReadingType.FIX.value:
                obj = by_key[(device, digest)]
                fixes.append((device, t, obj["lat"], obj["lon"], obj.get("accuracy_m"), pk))
        _insert_fixes(fixes)
        if settings.OPENEM_BUS and stored:
            from .bus import announce

            devices = {row[1] for row in stored}
            transaction.on_commit(lambda: announce(devices))
    return result


class Row(NamedTuple):
    device: str
    t: datetime
    type: str
    seq: int | None
    digest: str


def _insert_readings(rows: list[tuple[Row, dict[str, Any]]], source: str, batch: str) -> None:
    """INSERT ... ON CONFLICT DO NOTHING with executemany: Django's bulk_create spends longer building
    the SQL than the database spends storing the rows, and ingest is the hot path."""
    if not rows:
        return
    ops = connection.ops
    table = Reading._meta.db_table
    now = ops.adapt_datetimefield_value(timezone.now())
    payload = _json_param()
    sql = (
        f"INSERT INTO {table} (device, t, type, seq, payload, digest, received, source, batch) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING"
    )
    params = [
        (r.device, ops.adapt_datetimefield_value(r.t), r.type, r.seq, payload(obj), r.digest, now, source, batch)
        for r, obj in rows
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)


def _insert_fixes(rows: list[tuple[Any, ...]]) -> None:
    if not rows:
        return
    ops = connection.ops
    sql = (
        f"INSERT INTO {Fix._meta.db_table} (device, t, lat, lon, accuracy_m, reading_id) "
        "VALUES (%s, %s, %s, %s, %s, %s)"
    )
    with connection.cursor() as cursor:
        cursor.executemany(sql, [(d, ops.adapt_datetimefield_value(t), la, lo, a, pk) for d, t, la, lo, a, pk in rows])


def _json_param() -> Any:
    if connection.vendor == "postgresql":
        from psycopg.types.json import Jsonb

        return Jsonb
    return lambda obj: json.dumps(obj, separators=(",", ":"))


def ingest_jsonl(
    body: bytes | str, source: Source = Source.HTTP, gateway: Gateway | None = None, now: float | None = None
) -> IngestResult:
    text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else body
    items: list[tuple[int, str, Any]] = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            items.append((n, line, json.loads(line)))
        except json.JSONDecodeError as exc:
            items.append((n, line, ReadingError("(line)", f"not valid JSON at column {exc.colno}: {exc.msg}")))
    return ingest_objects(items, source, gateway, now)


def osmand_to_readings(params: dict[str, str]) -> list[dict[str, Any]]:
    """The OsmAnd protocol (Traccar Client): id/deviceid, lat, lon, timestamp (Unix seconds or ISO),
    speed (knots), bearing, altitude, accuracy, batt, charge."""
    device = params.get("id") or params.get("deviceid")
    stamp = params.get("timestamp", "")
    when: str | None
    if stamp.replace(".", "", 1).isdigit():
        value = float(stamp)
        value = value / 1000 if value > 1e11 else value  # milliseconds from some clients
        when = datetime.fromtimestamp(value, UTC).isoformat().replace("+00:00", "Z")
    else:
        when = stamp or None
    fix: dict[str, Any] = {"device": device, "time": when, "type": "fix"}
    for key, name in (("lat", "lat"), ("lon", "lon"), ("accuracy", "accuracy_m"), ("bearing", "heading")):
        if key in params:
            fix[name] = _number(params[key])
    if "speed" in params:
        fix["speed_mps"] = round(_number(params["speed"]) * 0.514444, 2)
    out = [fix]
    if "batt" in params:
        out.append(
            {
                "device": device,
                "time": when,
                "type": "power",
                "battery_pct": _number(params["batt"]),
                "charging": params.get("charge", "false").lower() in ("true", "1"),
            }
        )
    return out


def _number(text: str) -> Any:
    try:
        return float(text)
    except ValueError:
        return text  # the parser names the field and says it is not a number
