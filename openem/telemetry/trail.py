"""The trail: GPS fixes kept as blocks, one row for each device's fixes in a stored batch.

A tag uploads a quarter of an hour of fixes at a time, and every fix is read back only as part of a
trail (a person's positions over a period) or for the last known position. A row and an index entry
per fix cost a third of the time it took to store a reading; a block of them costs one row, and a
month's trail is a few thousand rows instead of forty thousand. A block covers at most a day, so a
query for a period need only look at blocks that start up to a day before it.

Slots: finding trails by place. Beside the blocks, each device has a row per twenty-minute slot
(``TrailSlot``): the box (least and greatest latitude and longitude, rounded outwards to ``GRID_DEG``)
of its fixes in the slot and in the ``LINK_S`` before it, and the earliest start of a block holding any
of them. A line between two fixes at most ``LINK_S`` apart has both ends in the slot of its later end or
that slot's link, so it lies inside that slot's box, even when its ends are in two blocks far apart (a
pass-through between uploads). ``store`` writes the slots as it writes the blocks, in any order (each
slot only grows: a late upload is no different), and the row changes only when its box grows past a grid
line or an earlier block joins it; the slot index answers "which devices' slots meet this box in this
period" cheaply (an R*Tree on SQLite, a GiST index on PostgreSQL: ``ensure_slot_index``). An index entry
per block would cost more than the block itself on SQLite (an R*Tree insert, about 40 us), and blocks are
as small as a fix when tags report one at a time. ``delete`` makes the slots over the period again from
the fixes left, so that none keeps where deleted fixes were. A block is marked ``placed`` once its fixes
are in the slots; one written any other way (a bench's raw insert) is not, and reads take it to be
anywhere.

``window_packed(..., boxes=, lead_s=)`` reads only what the slots meeting the boxes can show: for each
(and each block not placed), every fix of the device over the slot and its link, whichever blocks hold
them, with what lies between two such stretches less than ``lead_s`` apart. With the boxes drawn round
each crime (its distance and the largest confidence radius, its widened window and the longest line after
it, ``lead_s`` the longest line's time, at most ``LINK_S``), every fix and line that could come near a
crime is read whole, and no two fixes read are taken as consecutive unless they are, or are further apart
than any line: crime matching finds what it finds reading every trail whole (docs/crime.md, "Reading
only what can matter").
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.db import connection

from .models import TrailBlock, TrailSlot

BLOCK_SPAN_S = 86_400.0
FIX = np.dtype([("t", "<f8"), ("lat", "<f8"), ("lon", "<f8"), ("acc", "<f4")])  # acc NaN: not reported
SLOT_S = 1200.0  # a slot: twenty minutes from a multiple of them (Unix time)
LINK_S = 600.0  # a slot's box also holds the ten minutes before it: lines up to this long are inside one
GRID_DEG = 0.001  # slot boxes are rounded outwards to this (about 100 m): rewritten only on crossing a line


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
    """Add fixes to the trail (in the caller's transaction), and to their slots."""
    rows = blocks(fixes)
    if not rows:
        return
    table = TrailBlock._meta.db_table
    with connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO {table} (device, start_s, end_s, n, data, placed) VALUES (%s, %s, %s, %s, %s, TRUE)", rows
        )
        add_to_slots(cursor, rows)


SlotRow = tuple[str, int, float, float, float, float, float]
FEW_FIXES = 64  # fewer than this in a store: slots worked out in plain Python (numpy's overhead is the cost)


def slot_rows(rows: list[Block]) -> list[SlotRow]:
    """The slots blocks' fixes fall in, as (device, slot, lat_min, lat_max, lon_min, lon_max, first_start),
    in (device, slot) order: each fix counts in its own slot and, in the last LINK_S of it, in the next;
    boxes rounded outwards (``_outwards``)."""
    if sum(r[3] for r in rows) < FEW_FIXES:
        return _few_slot_rows(rows)
    records = np.frombuffer(b"".join(r[4] for r in rows), dtype=FIX)
    names = sorted({r[0] for r in rows})
    code = {d: k for k, d in enumerate(names)}
    counts = [len(r[4]) // FIX.itemsize for r in rows]
    device = np.repeat(np.array([code[r[0]] for r in rows], dtype=np.int64), counts)
    start = np.repeat(np.array([r[1] for r in rows]), counts)
    t, lat, lon = records["t"], records["lat"], records["lon"]
    slot = np.floor(t / SLOT_S).astype(np.int64)
    link = t >= (slot + 1) * SLOT_S - LINK_S
    device, start, lat, lon = (np.r_[a, a[link]] for a in (device, start, lat, lon))
    slot = np.r_[slot, slot[link] + 1]
    order = np.lexsort((slot, device))
    device, slot, start, lat, lon = device[order], slot[order], start[order], lat[order], lon[order]
    at = np.flatnonzero(np.r_[True, (device[1:] != device[:-1]) | (slot[1:] != slot[:-1])])
    lat_min, lat_max = _outwards(np.minimum.reduceat(lat, at), np.maximum.reduceat(lat, at))
    lon_min, lon_max = _outwards(np.minimum.reduceat(lon, at), np.maximum.reduceat(lon, at))
    return list(
        zip(
            [names[k] for k in device[at].tolist()],
            slot[at].tolist(),
            lat_min.tolist(),
            lat_max.tolist(),
            lon_min.tolist(),
            lon_max.tolist(),
            np.minimum.reduceat(start, at).tolist(),
            strict=True,
        )
    )


def _few_slot_rows(rows: list[Block]) -> list[SlotRow]:
    """``slot_rows`` for a few fixes, the same values worked out in plain Python."""
    found: dict[tuple[str, int], list[float]] = {}
    for device, start, _, _, data in rows:
        for t, lat, lon, _ in np.frombuffer(data, dtype=FIX).tolist():
            slot = math.floor(t / SLOT_S)
            for k in (slot, slot + 1) if t >= (slot + 1) * SLOT_S - LINK_S else (slot,):
                box = found.get((device, k))
                if box is None:
                    found[(device, k)] = [lat, lat, lon, lon, start]
                else:
                    box[0], box[1] = min(box[0], lat), max(box[1], lat)
                    box[2], box[3], box[4] = min(box[2], lon), max(box[3], lon), min(box[4], start)
    out = []
    for (device, k), (lat_min, lat_max, lon_min, lon_max, first) in sorted(found.items()):
        south, north = _outwards(np.array([lat_min]), np.array([lat_max]))
        west, east = _outwards(np.array([lon_min]), np.array([lon_max]))
        out.append((device, k, float(south[0]), float(north[0]), float(west[0]), float(east[0]), first))
    return out


def _outwards(low: np.ndarray, high: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Edges rounded outwards to GRID_DEG, a hair beyond the grid line so that the rounding of the division
    cannot bring an edge inside a fix."""
    return np.floor(low / GRID_DEG) * GRID_DEG - 1e-9, np.ceil(high / GRID_DEG) * GRID_DEG + 1e-9


def add_to_slots(cursor: Any, rows: list[Block]) -> None:
    """Grow the slots of blocks just stored to take in their fixes: one upsert per slot, which writes only
    when the box grows past a grid line or an earlier block joins the slot. In (device, slot) order, so
    that writers storing the same devices at once (PostgreSQL) take the rows' locks in one order."""
    table = TrailSlot._meta.db_table
    least, most = ("MIN", "MAX") if connection.vendor == "sqlite" else ("LEAST", "GREATEST")
    grow = [("lat_min", least, "<"), ("lat_max", most, ">"), ("lon_min", least, "<"), ("lon_max", most, ">"),
            ("first_start", least, "<")]  # fmt: skip
    upsert = (
        " ON CONFLICT (device, slot) DO UPDATE SET "
        + ", ".join(f"{c} = {f}({table}.{c}, excluded.{c})" for c, f, _ in grow)
        + " WHERE "
        + " OR ".join(f"excluded.{c} {op} {table}.{c}" for c, _, op in grow)
    )
    columns = "device, slot, lat_min, lat_max, lon_min, lon_max, first_start"
    slots = slot_rows(rows)
    if not slots:
        return
    if connection.vendor == "postgresql":
        # One statement for the whole commit's slots (each (device, slot) once: slot_rows groups them): a
        # statement per slot cost more than storing the fixes.
        cursor.execute(
            f"INSERT INTO {table} ({columns}) SELECT * FROM unnest(%s::text[], %s::bigint[], %s::float8[], "
            "%s::float8[], %s::float8[], %s::float8[], %s::float8[])" + upsert,
            [list(c) for c in zip(*slots, strict=True)],
        )
    else:
        cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES (%s, %s, %s, %s, %s, %s, %s)" + upsert, slots)


def place_all(cursor: Any) -> int:
    """Put every stored block not yet placed into the slots (the migration that made slots; a bench's
    raw inserts), a device at a time. The number of blocks placed."""
    table = TrailBlock._meta.db_table
    cursor.execute(f"SELECT DISTINCT device FROM {table} WHERE NOT placed")
    done = 0
    for (device,) in cursor.fetchall():
        cursor.execute(f"SELECT id, start_s, end_s, n, data FROM {table} WHERE device = %s AND NOT placed", [device])
        found = [r for r in cursor.fetchall() if len(r[4])]
        add_to_slots(cursor, [(device, r[1], r[2], r[3], bytes(r[4])) for r in found])
        cursor.executemany(f"UPDATE {table} SET placed = TRUE WHERE id = %s", [(r[0],) for r in found])
        done += len(found)
    return done


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
    _forget(device, lo, upper)
    return deleted


def _forget(device: str, lo: float, hi: float) -> None:
    """After the device's fixes in [lo, hi) are deleted: its slots holding any of that stretch go, and those
    also holding fixes outside it are made again from what is left, so that no slot keeps where the deleted
    fixes were."""
    first, last = math.floor(lo / SLOT_S), math.ceil((hi + LINK_S) / SLOT_S) - 1
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {TrailSlot._meta.db_table} WHERE device = %s AND slot >= %s AND slot <= %s",
            [device, first, last],
        )
        left: dict[int, Block] = {}
        for a, b in ((first * SLOT_S - LINK_S, lo), (hi, (last + 1) * SLOT_S)):
            for pk, data in _blocks(device, a, b) if a < b else []:
                kept = np.frombuffer(data, dtype=FIX)
                left[pk] = (device, float(kept["t"][0]), float(kept["t"][-1]), len(kept), data)
        add_to_slots(cursor, list(left.values()))  # slots beyond these only take in what they hold already


WINDOW_DEVICES_PER_QUERY = 500  # devices named in one query (SQLite allows 32,766 parameters; keep it modest)


def window_packed(
    devices: Iterable[str], lo: float, hi: float, boxes: np.ndarray | None = None, lead_s: float = 0.0
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Many devices' fixes measured in [lo, hi), end to end: (the devices, sorted; offsets; FIX records),
    device k's fixes ``records[offsets[k]:offsets[k+1]]`` in time order. One query per few hundred devices,
    its rows in the index's order (device, start), and one copy of the blocks' bytes: crime matching
    reads a day of ten thousand tags this way.

    With ``boxes`` (rows of t_lo, t_hi, lat_min, lat_max, lon_min, lon_max): only what the slots meeting
    them can show (module docstring, "Slots"). A ``lead_s`` over LINK_S is more than the slots hold: then
    every fix in the window is read."""
    names = sorted(set(devices))
    if boxes is not None and lead_s <= LINK_S:
        return _window_near(names, lo, hi, np.asarray(boxes, dtype=np.float64).reshape(-1, 6), lead_s)
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


EDGE_S = 1.0  # a block not placed is read to a little beyond LINK_S after it: a line ending on the edge


def _window_near(
    names: list[str], lo: float, hi: float, boxes: np.ndarray, lead_s: float
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """``window_packed`` with boxes: the stretches of each device to read (a slot meeting a box: the slot
    and its link; a block not placed: itself and LINK_S either side), those less than ``lead_s`` apart
    joined; every block holding fixes in a stretch (the (device, start) index, from the earliest start the
    slots know of: no looking back a whole day); their fixes cut to the stretches."""
    position = {d: k for k, d in enumerate(names)}
    empty = (names, np.zeros(len(names) + 1, dtype=np.int64), np.empty(0, dtype=FIX))
    found = [(position[d], k * SLOT_S - LINK_S, (k + 1) * SLOT_S, f) for d, k, f in meeting(boxes) if d in position]
    found += [(position[d], s - LINK_S, e + LINK_S + EDGE_S, s - LINK_S - BLOCK_SPAN_S)
              for d, s, e in _not_placed(lo, hi) if d in position]  # fmt: skip
    if not found:
        return empty
    dev = np.array([f[0] for f in found], dtype=np.int64)
    a = np.maximum(np.array([f[1] for f in found]), lo)
    b = np.minimum(np.array([f[2] for f in found]), hi)
    first_start = np.array([f[3] for f in found])
    real = a < b
    dev, a, b, first_start = dev[real], a[real], b[real], first_start[real]
    if not len(dev):
        return empty
    # Each device's stretches side by side on one line: device k's from k * scale, none reaching the next's.
    scale = (hi - lo) + lead_s + 10.0
    order = np.lexsort((a, dev))
    dev, a, b, first_start = dev[order], a[order], b[order], first_start[order]
    ka, kb = (a - lo) + dev * scale, (b - lo) + dev * scale
    joined = np.flatnonzero(np.r_[True, ka[1:] >= np.maximum.accumulate(kb)[:-1] + lead_s])
    s_dev, s_from = dev[joined], a[joined]
    s_to, s_first = np.maximum.reduceat(b, joined), np.minimum.reduceat(first_start, joined)
    rows = _stretch_blocks([names[k] for k in s_dev.tolist()], s_first, s_to, s_from)
    unique = sorted({pk: (position[d], start, pk, bytes(data)) for pk, d, start, data in rows}.values())
    if not unique:
        return empty
    sizes = np.fromiter((len(r[3]) for r in unique), dtype=np.int64, count=len(unique)) // FIX.itemsize
    records = np.frombuffer(b"".join(r[3] for r in unique), dtype=FIX)
    owner = np.repeat(np.array([r[0] for r in unique], dtype=np.int64), sizes)
    t = records["t"]
    keep = (t >= lo) & (t < hi)
    records, owner = records[keep], owner[keep]
    key = (records["t"] - lo) + owner * scale
    ks, ke = (s_from - lo) + s_dev * scale, (s_to - lo) + s_dev * scale
    j = np.searchsorted(ks, key, side="right") - 1
    inside = (j >= 0) & (key < ke[np.maximum(j, 0)])
    records, owner = records[inside], owner[inside]
    t = records["t"]
    if len(t) > 1 and bool(((owner[1:] == owner[:-1]) & (t[1:] < t[:-1])).any()):  # overlapping uploads
        order = np.lexsort((t, owner))
        records, owner = records[order], owner[order]
    offsets = np.searchsorted(owner, np.arange(len(names) + 1), side="left").astype(np.int64)
    return names, offsets, records


def _not_placed(lo: float, hi: float) -> list[tuple[str, float, float]]:
    """Blocks not in the slots that may hold fixes within LINK_S of [lo, hi): (device, start_s, end_s).
    Their own index holds them alone: normally none."""
    return list(
        TrailBlock.objects.filter(placed=False, start_s__lt=hi + LINK_S, end_s__gte=lo - LINK_S)
        .order_by()
        .values_list("device", "start_s", "end_s")
    )


def _stretch_blocks(
    devices: list[str], first_start: np.ndarray, end: np.ndarray, after: np.ndarray
) -> list[tuple[int, str, float, bytes]]:
    """Every block of ``devices[k]`` starting in [first_start[k], end[k]) and ending at or after
    ``after[k]``: (id, device, start_s, data), in one statement (a range of the (device, start) index each)."""
    table = TrailBlock._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"SELECT b.id, b.device, b.start_s, b.data FROM unnest(%s::text[], %s::float8[], %s::float8[], "
                f"%s::float8[]) AS q(device, first_start, before, after) JOIN {table} AS b "
                "ON b.device = q.device AND b.start_s >= q.first_start AND b.start_s < q.before "
                "AND b.end_s >= q.after",
                [devices, first_start.tolist(), end.tolist(), after.tolist()],
            )
        else:
            stretches = zip(devices, first_start.tolist(), end.tolist(), after.tolist(), strict=True)
            cursor.execute(
                f"SELECT b.id, b.device, b.start_s, b.data FROM json_each(%s) AS q CROSS JOIN {table} AS b "
                "WHERE b.device = q.value ->> 0 AND b.start_s >= q.value ->> 1 AND b.start_s < q.value ->> 2 "
                "AND b.end_s >= q.value ->> 3",
                [json.dumps(list(stretches))],
            )
        return cursor.fetchall()


def meeting(boxes: np.ndarray, devices_only: bool = False) -> list[tuple[Any, ...]]:
    """The slots whose box meets one of ``boxes`` (rows of t_lo, t_hi, lat_min, lat_max, lon_min,
    lon_max) in their time: (device, slot, first_start), a slot once for each box it meets; with
    ``devices_only``, the devices alone, once each. In one statement, through the slot index."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 6)
    if not len(boxes):
        return []
    table = TrailSlot._meta.db_table
    what = "DISTINCT s.device" if devices_only else "s.device, s.slot, s.first_start"
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"SELECT {what} FROM unnest(%s::float8[], %s::float8[], %s::float8[], %s::float8[], "
                f"%s::float8[], %s::float8[]) AS q(t0, t1, y0, y1, x0, x1) JOIN {table} AS s ON {_PG_SLOT[0]} "
                f"&& box(point(q.t0, q.y0), point(q.t1, q.y1)) "
                f"AND {_PG_SLOT[1]} && box(point(q.x0, 0), point(q.x1, 0))",
                [boxes[:, k].tolist() for k in range(6)],
            )
        else:
            cursor.execute(
                f"SELECT {what} FROM json_each(%s) AS q CROSS JOIN {SLOT_INDEX} AS r CROSS JOIN {table} AS s "
                "ON s.id = r.id WHERE r.t_hi >= q.value ->> 0 AND r.t_lo <= q.value ->> 1 "
                "AND r.lat_hi >= q.value ->> 2 AND r.lat_lo <= q.value ->> 3 "
                "AND r.lon_hi >= q.value ->> 4 AND r.lon_lo <= q.value ->> 5",
                [json.dumps(boxes.tolist())],
            )
        return cursor.fetchall()


def devices_meeting(boxes: np.ndarray, lo: float, hi: float) -> set[str]:
    """The devices with a slot meeting one of ``boxes`` in its time, or a block not placed within LINK_S of
    [lo, hi)."""
    return {row[0] for row in meeting(boxes, devices_only=True)} | {d for d, _, _ in _not_placed(lo, hi)}


# The slot index. SQLite: an R*Tree over (time, latitude, longitude), its 32-bit floats rounded outwards,
# kept by triggers so that every writer keeps it. PostgreSQL: a GiST index on two boxes, (time,
# latitude) first (the period and the band of latitude narrow it most, whatever the years stored) and
# longitude beside it, both built in (no extension).
SLOT_INDEX = "telemetry_trailslot_box"
_SLOTS = "telemetry_trailslot"
_PG_SLOT = (
    f"box(point(s.slot * {SLOT_S}, s.lat_min), point((s.slot + 1) * {SLOT_S}, s.lat_max))",
    "box(point(s.lon_min, 0), point(s.lon_max, 0))",
)
SQLITE_SLOT_TRIGGERS = {
    f"{SLOT_INDEX}_insert": f"""CREATE TRIGGER IF NOT EXISTS {SLOT_INDEX}_insert AFTER INSERT ON {_SLOTS} BEGIN
        INSERT INTO {SLOT_INDEX} VALUES (NEW.id, NEW.slot * {SLOT_S}, (NEW.slot + 1) * {SLOT_S}, NEW.lat_min,
        NEW.lat_max, NEW.lon_min, NEW.lon_max); END""",
    f"{SLOT_INDEX}_update": f"""CREATE TRIGGER IF NOT EXISTS {SLOT_INDEX}_update
        AFTER UPDATE OF lat_min, lat_max, lon_min, lon_max ON {_SLOTS} BEGIN
        UPDATE {SLOT_INDEX} SET lat_lo = NEW.lat_min, lat_hi = NEW.lat_max, lon_lo = NEW.lon_min,
        lon_hi = NEW.lon_max WHERE id = NEW.id; END""",
    f"{SLOT_INDEX}_delete": f"""CREATE TRIGGER IF NOT EXISTS {SLOT_INDEX}_delete AFTER DELETE ON {_SLOTS} BEGIN
        DELETE FROM {SLOT_INDEX} WHERE id = OLD.id; END""",
}


def ensure_slot_index(conn: Any = None) -> None:
    """Make the slot index if it is missing (the migration that made slots, and after every ``migrate``:
    on SQLite a migration that rebuilds the slot table drops its triggers, and the R*Tree is then filled
    again from the table)."""
    conn = conn or connection
    if _SLOTS not in conn.introspection.table_names():
        return
    with conn.cursor() as cursor:
        if conn.vendor == "postgresql":
            plain = [e.replace("s.", "") for e in _PG_SLOT]
            cursor.execute(
                f"CREATE INDEX IF NOT EXISTS {SLOT_INDEX} ON {_SLOTS} USING gist (({plain[0]}), ({plain[1]}))"
            )
            return
        cursor.execute("SELECT name FROM sqlite_master WHERE name = %s OR tbl_name = %s", [SLOT_INDEX, _SLOTS])
        have = {row[0] for row in cursor.fetchall()}
        if SLOT_INDEX in have and set(SQLITE_SLOT_TRIGGERS) <= have:
            return
        cursor.execute(
            f"CREATE VIRTUAL TABLE IF NOT EXISTS {SLOT_INDEX} "
            "USING rtree(id, t_lo, t_hi, lat_lo, lat_hi, lon_lo, lon_hi)"
        )
        cursor.execute(f"DELETE FROM {SLOT_INDEX}")
        # In time order, as ingest adds them: an R*Tree filled a device at a time answers three times slower.
        cursor.execute(
            f"INSERT INTO {SLOT_INDEX} SELECT id, slot * {SLOT_S}, (slot + 1) * {SLOT_S}, lat_min, lat_max, "
            f"lon_min, lon_max FROM {_SLOTS} ORDER BY slot, lat_min"
        )
        for sql in SQLITE_SLOT_TRIGGERS.values():
            cursor.execute(sql)


def remove_slot_index(conn: Any = None) -> None:
    conn = conn or connection
    with conn.cursor() as cursor:
        if conn.vendor == "postgresql":
            cursor.execute(f"DROP INDEX IF EXISTS {SLOT_INDEX}")
            return
        for name in SQLITE_SLOT_TRIGGERS:
            cursor.execute(f"DROP TRIGGER IF EXISTS {name}")
        cursor.execute(f"DROP TABLE IF EXISTS {SLOT_INDEX}")


def window(devices: Iterable[str], lo: float, hi: float) -> dict[str, Fixes]:
    """Many devices' fixes measured in [lo, hi), each in time order (a device with none: no fixes)."""
    given = list(dict.fromkeys(devices))
    names, offsets, a = window_packed(given, lo, hi)
    at = {d: k for k, d in enumerate(names)}
    return {d: Fixes.of(a[offsets[at[d]] : offsets[at[d] + 1]]) for d in given}
