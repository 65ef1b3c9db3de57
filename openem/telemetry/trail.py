"""The trail: GPS fixes kept as blocks, one row for each device's fixes in a stored batch.

A tag uploads a quarter of an hour of fixes at a time, and every fix is read back only as part of a
trail (a person's positions over a period) or for the last known position. A row and an index entry
per fix cost a third of the time it took to store a reading; a block of them costs one row, and a
month's trail is a few thousand rows instead of forty thousand. A block covers at most a day, so a
query for a period need only look at blocks that start up to a day before it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from django.db import connection

from .models import TrailBlock

BLOCK_SPAN_S = 86_400.0
FIX = np.dtype([("t", "<f8"), ("lat", "<f8"), ("lon", "<f8"), ("acc", "<f4")])  # acc NaN: not reported


@dataclass
class Fixes:
    """Fixes in time order, as columns."""

    t: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    acc: np.ndarray

    def __len__(self) -> int:
        return len(self.t)

    @classmethod
    def of(cls, a: np.ndarray) -> Fixes:
        return cls(a["t"], a["lat"], a["lon"], a["acc"].astype(np.float64))

    def rows(self) -> list[tuple[float, float, float, float | None]]:
        """(lat, lon, Unix seconds to the millisecond, accuracy or None) per fix."""
        acc = [None if a != a else a for a in self.acc.tolist()]  # NaN: not reported
        return list(zip(self.lat.tolist(), self.lon.tolist(), np.round(self.t, 3).tolist(), acc, strict=True))


Block = tuple[str, float, float, int, bytes]  # device, start_s, end_s, count, data


def blocks(fixes: Iterable[tuple[str, float, float, float, float | None]]) -> list[Block]:
    """(device, t, lat, lon, accuracy) as (device, start_s, end_s, count, data) blocks: each device's
    fixes in time order, cut where a block would span more than a day."""
    by_device: dict[str, list[tuple[float, float, float, float]]] = {}
    for device, t, lat, lon, acc in fixes:
        by_device.setdefault(device, []).append((t, lat, lon, np.nan if acc is None else acc))
    out = []
    for device, rows in by_device.items():
        a = np.array(rows, dtype=np.float64)
        a = a[np.argsort(a[:, 0], kind="stable")]
        packed = np.empty(len(a), dtype=FIX)
        packed["t"], packed["lat"], packed["lon"], packed["acc"] = a[:, 0], a[:, 1], a[:, 2], a[:, 3]
        out += _cut(device, packed)
    return out


def _cut(device: str, packed: np.ndarray) -> list[Block]:
    out = []
    start = 0
    t = packed["t"]
    while start < len(packed):
        end = int(np.searchsorted(t, t[start] + BLOCK_SPAN_S, side="left"))
        part = packed[start:end]
        out.append((device, float(part["t"][0]), float(part["t"][-1]), len(part), part.tobytes()))
        start = end
    return out


def store(fixes: list[tuple[str, float, float, float, float | None]]) -> None:
    """Add fixes to the trail (in the caller's transaction)."""
    rows = blocks(fixes)
    if not rows:
        return
    table = TrailBlock._meta.db_table
    with connection.cursor() as cursor:
        cursor.executemany(f"INSERT INTO {table} (device, start_s, end_s, n, data) VALUES (%s, %s, %s, %s, %s)", rows)


def _blocks(device: str, lo: float, hi: float) -> list[tuple[int, bytes]]:
    """The blocks that may hold fixes in [lo, hi): plain rows, straight from the cursor."""
    table = TrailBlock._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id, data FROM {table} WHERE device = %s AND start_s >= %s AND start_s < %s AND end_s >= %s",
            [device, lo - BLOCK_SPAN_S, hi, lo],
        )
        return [(pk, bytes(data)) for pk, data in cursor.fetchall()]


def fixes(device: str, lo: float, hi: float) -> Fixes:
    """The device's fixes measured in [lo, hi), in time order."""
    found = [np.frombuffer(data, dtype=FIX) for _, data in _blocks(device, lo, hi)]
    if not found:
        return Fixes.of(np.empty(0, dtype=FIX))
    a = np.concatenate(found)
    a = a[(a["t"] >= lo) & (a["t"] < hi)]
    return Fixes.of(a[np.argsort(a["t"], kind="stable")])


def last_position(device: str, at: float) -> tuple[float, float] | None:
    """Where the device last was at or before ``at`` (lat, lon), if it has any fix by then."""
    table = TrailBlock._meta.db_table
    lo = at - BLOCK_SPAN_S
    while True:
        got = fixes(device, lo, at + 1e-6)
        if len(got):
            return float(got.lat[-1]), float(got.lon[-1])
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT max(start_s) FROM {table} WHERE device = %s AND start_s < %s", [device, lo])
            earlier = cursor.fetchone()[0]
        if earlier is None:
            return None
        lo = float(earlier)  # the day before had none: look from the latest block before it


def delete(device: str, lo: float, hi: float | None) -> int:
    """Delete the device's fixes measured in [lo, hi) (hi None: from lo on); blocks reaching outside
    the period keep their other fixes. The number of fixes deleted. Records nothing: the caller does
    (retention, one event per person)."""
    table = TrailBlock._meta.db_table
    upper = 1e18 if hi is None else hi  # after any time
    deleted = 0
    for pk, data in _blocks(device, lo, upper):
        a = np.frombuffer(data, dtype=FIX)
        inside = (a["t"] >= lo) & (a["t"] < upper)
        if not inside.any():
            continue
        deleted += int(inside.sum())
        rest = a[~inside]
        # Plain SQL, as ``store``: the model refuses changes to evidence, and its delete would record an
        # event per block where the caller (retention) records one for the person.
        with connection.cursor() as cursor:
            if len(rest):
                cursor.execute(
                    f"UPDATE {table} SET start_s = %s, end_s = %s, n = %s, data = %s WHERE id = %s",
                    [float(rest["t"][0]), float(rest["t"][-1]), len(rest), rest.tobytes(), pk],
                )
            else:
                cursor.execute(f"DELETE FROM {table} WHERE id = %s", [pk])
    return deleted


WINDOW_DEVICES_PER_QUERY = 500  # devices named in one query (SQLite allows 32,766 parameters; keep it modest)


def window_packed(devices: Iterable[str], lo: float, hi: float) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Many devices' fixes measured in [lo, hi), end to end: (the devices, sorted; offsets; FIX records),
    device k's fixes ``records[offsets[k]:offsets[k+1]]`` in time order. One query per few hundred devices,
    its rows in the index's order (device, start), and one copy of the blocks' bytes: crime matching
    reads a day of ten thousand tags this way."""
    names = sorted(set(devices))
    table = TrailBlock._meta.db_table
    rows: list[tuple[str, bytes]] = []
    with connection.cursor() as cursor:
        for at in range(0, len(names), WINDOW_DEVICES_PER_QUERY):
            part = names[at : at + WINDOW_DEVICES_PER_QUERY]
            marks = ", ".join(["%s"] * len(part))
            cursor.execute(
                f"SELECT device, data FROM {table} WHERE device IN ({marks}) "
                "AND start_s >= %s AND start_s < %s AND end_s >= %s ORDER BY device, start_s",
                [*part, lo - BLOCK_SPAN_S, hi, lo],
            )
            rows += cursor.fetchall()
    data = [r[1] for r in rows]
    heads = [r[0] if i == 0 or r[0] != rows[i - 1][0] else None for i, r in enumerate(rows)]
    sizes = np.fromiter((len(x) for x in data), dtype=np.int64, count=len(data)) // FIX.itemsize
    a = np.frombuffer(b"".join(data), dtype=FIX)
    firsts = [i for i, h in enumerate(heads) if h is not None]
    position = {d: k for k, d in enumerate(names)}
    counts = np.zeros(len(names), dtype=np.int64)
    block_ends = np.r_[np.cumsum(sizes)]
    for j, i in enumerate(firsts):  # a device's fixes run from its first block to the next device's
        stop = firsts[j + 1] if j + 1 < len(firsts) else len(data)
        before = int(block_ends[i - 1]) if i else 0
        counts[position[heads[i]]] = int(block_ends[stop - 1]) - before  # type: ignore[index]
    offsets = np.r_[0, np.cumsum(counts)].astype(np.int64)
    t = a["t"]
    # A block's fixes are in time order, and a device's blocks normally follow one another; a time going
    # back anywhere but where a device starts means uploads overlapped: put them in order.
    back = np.flatnonzero(t[1:] < t[:-1]) + 1 if len(t) > 1 else np.empty(0, dtype=np.int64)
    overlap = bool(len(np.setdiff1d(back, offsets)))
    if overlap or (len(t) and (t.min() < lo or t.max() >= hi)):
        owner = np.repeat(np.arange(len(names)), counts)
        keep = (t >= lo) & (t < hi)
        a, owner = a[keep], owner[keep]
        if overlap:
            order = np.lexsort((a["t"], owner))
            a, owner = a[order], owner[order]
        offsets = np.searchsorted(owner, np.arange(len(names) + 1), side="left").astype(np.int64)
    return names, offsets, a


def window(devices: Iterable[str], lo: float, hi: float) -> dict[str, Fixes]:
    """Many devices' fixes measured in [lo, hi), each in time order (a device with none: no fixes)."""
    given = list(dict.fromkeys(devices))
    names, offsets, a = window_packed(given, lo, hi)
    at = {d: k for k, d in enumerate(names)}
    return {d: Fixes.of(a[offsets[at[d]] : offsets[at[d] + 1]]) for d in given}
