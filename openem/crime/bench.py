"""`openem bench crime`: 1,000 crimes spread over a day against a day of 10,000 wearers' trails (about
14 million fixes), read through the trail service and matched, beside the same question put to PostGIS
(bars: matching under 1 s; faster than PostGIS; the same answers). docs/crime.md, "Speed".

The trails are random walks around Rutland and Leicestershire, a fix a minute (a tenth of the tags
dropping out for an hour, 2% of fixes without an accuracy), stored as tags upload them: a block of a
quarter of an hour's fixes per tag in OpenEM's trail table (``telemetry_trailblock``), in a SQLite file
kept between runs (``var/bench/crime-trails-N.sqlite3``, or ``$OPENEM_BENCH_DIR``). Half the crimes are
placed where someone's trail goes, half anywhere in the area.

PostGIS holds the same fixes as a PostGIS user would: a row per fix with a geography point, a GiST index
on it and a B-tree on the time, loaded with COPY, in the table ``fixes_N`` (N wearers) of the database
``openem_bench_postgis`` (kept between
runs; PostgreSQL at ``$OPENEM_BENCH_PG``, default 127.0.0.1:5432 as postgres). Its query is the crime
against each fix (within the distance plus the fix's confidence radius, in the widened window): the
matcher answers the same question with ``fixes_only`` for the comparison, and the full one (with the
lines between fixes) for the time reported. Without PostGIS the bench says how to install it and
reports the matcher alone.
"""

from __future__ import annotations

import gc
import itertools
import os
import resource
import sqlite3
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from openem.portal.bench import stored_fixes

from .records import CrimeRow, CrimeType, MatchParams

ROOT = Path(__file__).resolve().parents[2]
DAY0 = datetime(2026, 11, 10, tzinfo=UTC)
UPLOAD_S = 900
SEED = 18
INSERT = "INSERT INTO telemetry_trailblock (device, start_s, end_s, n, data, placed) VALUES (?,?,?,?,?,1)"
INSERT_SLOT = (
    "INSERT INTO telemetry_trailslot (device, slot, lat_min, lat_max, lon_min, lon_max, first_start) "
    "VALUES (?,?,?,?,?,?,?)"
)
PG_DB = "openem_bench_postgis"
INSTALL = (
    "PostGIS is not installed: as root, `apt-get install postgresql-15-postgis-3` "
    "(`make system-packages` does it), then run the bench again"
)


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def wearers(n: int, seed: int = SEED) -> tuple[list[str], list[np.ndarray]]:
    """A day of each wearer's fixes (trail FIX records), generated a thousand wearers at a time."""
    from openem.telemetry.trail import FIX

    rng = np.random.default_rng(seed)
    names, days = [], []
    t0 = DAY0.timestamp()
    per = 1440
    for first in range(0, n, 1000):
        k = min(1000, n - first)
        t = t0 + np.arange(per) * 60.0 + rng.uniform(0, 5, (k, per))
        lat = rng.uniform(52.45, 52.80, (k, 1)) + np.cumsum(rng.normal(0, 0.00025, (k, per)), axis=1)
        lon = rng.uniform(-1.35, -0.45, (k, 1)) + np.cumsum(rng.normal(0, 0.0004, (k, per)), axis=1)
        acc = rng.gamma(2.0, 6.0, (k, per)).astype(np.float32) + 3
        acc[rng.random((k, per)) < 0.02] = np.nan
        keep = np.ones((k, per), dtype=bool)
        drop = rng.random(k) < 0.1  # an hour without a fix
        at = rng.integers(0, per - 60, k)
        for row in np.flatnonzero(drop).tolist():
            keep[row, at[row] : at[row] + 60] = False
        for row in range(k):
            rec = np.empty(int(keep[row].sum()), dtype=FIX)
            rec["t"], rec["lat"], rec["lon"] = (
                t[row][keep[row]],
                lat[row][keep[row]].round(6),
                lon[row][keep[row]].round(6),
            )
            rec["acc"] = acc[row][keep[row]]
            names.append(f"GPS-{first + row:05d}")
            days.append(rec)
    return names, days


def crimes_for(names: list[str], days: list[np.ndarray], n: int, seed: int = SEED) -> list[CrimeRow]:
    rng = np.random.default_rng(seed + 1)
    out = []
    types = list(CrimeType)
    for c in range(n):
        hours = float(rng.uniform(0.25, 6))
        if c % 2 == 0:  # where someone was, a little before or after
            day = days[int(rng.integers(len(days)))]
            i = int(rng.integers(len(day)))
            lat, lon = float(day["lat"][i]) + rng.normal(0, 0.0008), float(day["lon"][i]) + rng.normal(0, 0.0012)
            start = datetime.fromtimestamp(float(day["t"][i]), UTC) - timedelta(hours=hours * float(rng.uniform(0, 1)))
        else:
            lat, lon = float(rng.uniform(52.45, 52.80)), float(rng.uniform(-1.35, -0.45))
            start = DAY0 + timedelta(seconds=float(rng.uniform(0, 86_400 - hours * 3600)))
        start = start.replace(microsecond=0)
        out.append(
            CrimeRow(c + 2, "Leicestershire Police", "BENCH", f"BENCH/{c:04d}", types[c % len(types)], "",
                     start, start + timedelta(hours=hours), round(lat, 6), round(lon, 6), None, None, "WGS84", "")
        )  # fmt: skip
    return out


# ------------------------------------------------------------------ OpenEM's trail store


def _db_path(n: int) -> Path:
    base = Path(os.environ.get("OPENEM_BENCH_DIR", ROOT / "var" / "bench"))
    base.mkdir(parents=True, exist_ok=True)
    return base / f"crime-trails-{n}.sqlite3"


def _fill(path: Path, names: list[str], days: list[np.ndarray]) -> None:
    """Every tag's day as the tag uploads it: a block of a quarter of an hour's fixes at a time, and the
    slots ``trail.store`` would write (their index is made afterwards, ``trail.ensure_slot_index``)."""
    from openem.telemetry.trail import SQLITE_SLOT_TRIGGERS, slot_rows

    con = sqlite3.connect(path)
    con.executescript("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;")
    for trigger in SQLITE_SLOT_TRIGGERS:  # the R*Tree is filled afterwards, at once
        con.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    con.executescript("DELETE FROM telemetry_trailblock; DELETE FROM telemetry_trailslot;")
    found = con.execute(
        "SELECT sql FROM sqlite_master WHERE type='index' AND tbl_name='telemetry_trailblock' AND sql NOT NULL"
    )
    indexes = [row[0] for row in found.fetchall()]
    for sql in indexes:  # built once at the end: far faster than row by row
        con.execute(f"DROP INDEX {sql.split()[2]}")
    for device, rec in zip(names, days, strict=True):
        ts = rec["t"]
        bounds = [0, *(np.flatnonzero(np.diff(np.floor(ts / UPLOAD_S))) + 1).tolist(), len(ts)]
        rows = [
            (device, float(ts[a]), float(ts[b - 1]), b - a, rec[a:b].tobytes()) for a, b in itertools.pairwise(bounds)
        ]
        con.executemany(INSERT, rows)
        con.executemany(INSERT_SLOT, slot_rows(rows))
    con.commit()
    for sql in indexes:
        con.execute(sql)
    con.execute("PRAGMA journal_mode=WAL")
    con.commit()
    con.close()


def _django(path: Path) -> None:
    os.environ["OPENEM_SQLITE_PATH"] = str(path)
    os.environ.setdefault("OPENEM_DATA_DIR", str(path.parent))
    os.environ.pop("DATABASE_URL", None)
    os.environ["DJANGO_SETTINGS_MODULE"] = "openem.settings"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", "telemetry", verbosity=0)


# ------------------------------------------------------------------ PostGIS


def _pg(dbname: str = "postgres") -> Any:
    import psycopg

    where = os.environ.get("OPENEM_BENCH_PG", "host=127.0.0.1 port=5432 user=postgres")
    return psycopg.connect(f"{where} dbname={dbname}", autocommit=True, connect_timeout=5)


def postgis_ready() -> str | None:
    """None when PostGIS can be used, else what is missing and how to install it."""
    try:
        with _pg() as con:
            have = con.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'postgis'").fetchone()
            if not have:
                return INSTALL
            if not con.execute("SELECT 1 FROM pg_database WHERE datname = %s", [PG_DB]).fetchone():
                con.execute(f"CREATE DATABASE {PG_DB}")
        with _pg(PG_DB) as con:
            con.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    except Exception as exc:  # no server, no rights: the bench reports the matcher alone
        return f"PostgreSQL with PostGIS is not available ({str(exc).strip().splitlines()[0]}); {INSTALL}"
    return None


def _pg_load(names: list[str], days: list[np.ndarray], tag: str) -> float:
    """The fixes into ``fixes_N`` (N wearers: person, t, acc, geography point) with COPY, then the indexes;
    skipped when the same data is there already. Seconds taken."""
    fixes = f"fixes_{len(names)}"
    with _pg(PG_DB) as con:
        con.execute("CREATE TABLE IF NOT EXISTS bench_meta (name text, tag text)")
        if con.execute("SELECT 1 FROM bench_meta WHERE name = %s AND tag = %s", [fixes, tag]).fetchone():
            return 0.0
        began = time.perf_counter()
        con.execute(f"DROP TABLE IF EXISTS {fixes}; DROP TABLE IF EXISTS staging")
        con.execute("DELETE FROM bench_meta WHERE name = %s", [fixes])
        con.execute("CREATE UNLOGGED TABLE staging (person int, t float8, lat float8, lon float8, acc float4)")
        with con.cursor() as cur, cur.copy("COPY staging FROM STDIN (FORMAT BINARY)") as copy:
            for first in range(0, len(days), 500):
                copy.write(_binary_rows(days[first : first + 500], first))
        con.execute(
            f"CREATE TABLE {fixes} AS SELECT person, to_timestamp(t) AS t, "
            "CASE WHEN acc = 'NaN' THEN NULL ELSE acc END AS acc, "
            "ST_SetSRID(ST_MakePoint(lon, lat), 4326)::geography AS geog FROM staging"
        )
        con.execute("DROP TABLE staging")
        con.execute(f"CREATE INDEX {fixes}_geog ON {fixes} USING gist (geog)")
        con.execute(f"CREATE INDEX {fixes}_t ON {fixes} (t)")
        con.execute(f"ANALYZE {fixes}")
        con.execute("INSERT INTO bench_meta VALUES (%s, %s)", [fixes, tag])
        return time.perf_counter() - began


def _binary_rows(days: list[np.ndarray], first: int) -> bytes:
    """PostgreSQL's binary COPY rows (after the header on the first call) for these wearers' fixes."""
    row = np.dtype(
        [("n", ">i2"), ("l0", ">i4"), ("person", ">i4"), ("l1", ">i4"), ("t", ">f8"), ("l2", ">i4"),
         ("lat", ">f8"), ("l3", ">i4"), ("lon", ">f8"), ("l4", ">i4"), ("acc", ">f4")]
    )  # fmt: skip
    total = sum(len(d) for d in days)
    out = np.empty(total, dtype=row)
    out["n"], out["l0"], out["l1"], out["l2"], out["l3"], out["l4"] = 5, 4, 8, 8, 8, 4
    out["person"] = np.repeat(np.arange(first, first + len(days)), [len(d) for d in days])
    cat = np.concatenate(days)
    out["t"], out["lat"], out["lon"], out["acc"] = cat["t"], cat["lat"], cat["lon"], cat["acc"]
    head = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00" if first == 0 else b""
    return head + out.tobytes()


def _pg_match(crimes: list[CrimeRow], params: MatchParams, wearers: int) -> tuple[set[tuple[int, int]], float, float]:
    """The crimes and people whose fixes came near, as a PostGIS user would ask it: the crimes in a table,
    joined to the fixes within the distance plus the largest usable radius (the GiST index), then each
    fix's own radius, in the widened window (the time index)."""
    pad = params.buffer_min * 60
    rows = [(k, c.lon, c.lat, c.start.timestamp() - pad, c.end.timestamp() + pad) for k, c in enumerate(crimes)]
    with _pg(PG_DB) as con:
        con.execute("DROP TABLE IF EXISTS crimes")
        con.execute("CREATE TEMP TABLE crimes (k int, geog geography, w0 timestamptz, w1 timestamptz)")
        with con.cursor() as cur:
            cur.executemany(
                "INSERT INTO crimes VALUES (%s, ST_SetSRID(ST_MakePoint(%s, %s), 4326)::geography, "
                "to_timestamp(%s), to_timestamp(%s))",
                rows,
            )
        con.execute("ANALYZE crimes")
        sql = (
            f"SELECT DISTINCT c.k, f.person FROM crimes c JOIN fixes_{wearers} f "
            "ON ST_DWithin(f.geog, c.geog, %(reach)s) AND f.t BETWEEN c.w0 AND c.w1 "
            "AND coalesce(f.acc, %(unreported)s) <= %(max_acc)s "
            "AND ST_Distance(f.geog, c.geog) - coalesce(f.acc, %(unreported)s) <= %(d)s"
        )
        args = {
            "reach": params.distance_m + params.max_accuracy_m,
            "unreported": params.unreported_accuracy_m,
            "max_acc": params.max_accuracy_m,
            "d": params.distance_m,
        }
        # With both indexes, PostgreSQL 15's planner ANDs a bitmap of the time index (a quarter of the
        # table for a crime of a few hours) with the spatial one, crime after crime: minutes. A PostGIS user
        # who saw that would steer it to the spatial index and filter on time, as here (a few ms a crime).
        con.execute("SET enable_bitmapscan = off")
        con.execute("SET max_parallel_workers_per_gather = 0")  # one core, as the matcher
        con.execute(sql, args).fetchall()  # warm: the pages the query reads, as the matcher's are read
        backend = con.execute("SELECT pg_backend_pid()").fetchone()[0]
        cpu0, began = _cpu_of(backend), time.perf_counter()
        found = con.execute(sql, args).fetchall()
        wall, cpu1 = time.perf_counter() - began, _cpu_of(backend)
        cpu = wall if cpu0 is None or cpu1 is None else cpu1 - cpu0
        return {(int(k), int(p)) for k, p in found}, cpu, wall


def _cpu_of(pid: int) -> float | None:
    """The CPU seconds a process has used (PostgreSQL's backend, on this machine), or None if unreadable."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# ------------------------------------------------------------------ the bench


def bench_crime(quick: bool) -> dict[str, Any]:
    from .matching import PackedTrails, near_pairs

    n_wearers, n_crimes = (1_000, 200) if quick else (10_000, 1_000)
    params = MatchParams.default()
    path = _db_path(n_wearers)
    _django(path)  # first: the trail store's record layout is the model's module's
    names, days = wearers(n_wearers)
    fixes = sum(len(d) for d in days)
    crimes = crimes_for(names, days, n_crimes)
    built = 0.0
    if stored_fixes(path) != fixes:
        from django.db import connections

        connections.close_all()
        began = time.perf_counter()
        _fill(path, names, days)
        from openem.telemetry.trail import ensure_slot_index

        ensure_slot_index()  # the slots' R*Tree, made once from the table: far faster than row by row
        built = time.perf_counter() - began
    missing = postgis_ready()
    pg_built = 0.0
    if missing is None:
        pg_built = _pg_load(names, days, f"{n_wearers}-{SEED}-{fixes}")
    del days
    gc.collect()

    from openem.telemetry import trail

    from .matching import read_boxes

    pad = (params.buffer_min + params.max_gap_min) * 60
    lo = min(c.start.timestamp() for c in crimes) - pad
    hi = max(c.end.timestamp() for c in crimes) + pad
    lead_s = params.max_gap_min * 60
    trail.window_packed(names[:50], lo, hi, read_boxes(crimes[:5], params), lead_s)  # warm: connection, statements
    # CPU seconds of this process (one core), so that other work on the machine does not count; the
    # wall-clock time is reported beside it.
    runs = []
    for _ in range(2 if quick else 3):
        cpu, wall = time.process_time(), time.perf_counter()
        people, offsets, rec = trail.window_packed(names, lo, hi, read_boxes(crimes, params), lead_s)
        read = time.process_time() - cpu
        cpu, wall_read = time.process_time(), time.perf_counter() - wall
        packed = PackedTrails.from_columns(people, offsets, rec["t"], rec["lat"], rec["lon"], rec["acc"], params)
        hits = near_pairs(crimes, packed, params)
        matching, wall_all = time.process_time() - cpu, time.perf_counter() - wall
        cpu = time.process_time()
        fixes_hits = near_pairs(crimes, packed, params, fixes_only=True)  # PostGIS's question
        fixes_only = time.process_time() - cpu
        runs.append((read + matching, read, matching, wall_all - wall_read, hits, fixes_only, fixes_hits))
        fixes_read = len(rec)
        del rec, packed
        gc.collect()
    _, read_s, matching_s, matching_wall_s, hits, fixes_only_s, fixes_hits = min(runs, key=lambda r: r[0])
    fixes_only_s = min(r[5] for r in runs)
    # Every tag's whole window, as read before slots: its time, and whether the matcher finds the same.
    cpu = time.process_time()
    names_all, offsets_all, rec = trail.window_packed(names, lo, hi)
    read_whole_s = time.process_time() - cpu
    packed = PackedTrails.from_columns(names_all, offsets_all, rec["t"], rec["lat"], rec["lon"], rec["acc"], params)
    same_as_whole = all(
        _pairs(near_pairs(crimes, packed, params, fixes_only=f)) == _pairs(ours)
        for f, ours in ((False, hits), (True, fixes_hits))
    )
    del rec, packed
    gc.collect()
    hit_c = hits[0]
    fc, fp = fixes_hits
    number = {d: k for k, d in enumerate(names)}  # PostGIS's person: the wearer's number as generated
    ours_fix_only = {(c, number[people[k]]) for c, k in zip(fc.tolist(), fp.tolist(), strict=True)}
    result: dict[str, Any] = {
        "benchmark": "crime",
        "crimes": n_crimes,
        "wearers": n_wearers,
        "fixes": fixes,
        "fixes_read": fixes_read,
        "read_s": round(read_s, 3),
        "read_whole_s": round(read_whole_s, 3),
        "same_as_whole_read": same_as_whole,
        "matching_s": round(matching_s, 3),
        "matching_wall_s": round(matching_wall_s, 3),
        "matching_fixes_only_s": round(fixes_only_s, 3),
        "matches": len(hit_c),
        "matches_fixes_only": len(ours_fix_only),
    }
    if missing is None:
        theirs, postgis_s, postgis_wall_s = _pg_match(crimes, params, n_wearers)
        result.update(
            postgis_s=round(postgis_s, 3),
            postgis_wall_s=round(postgis_wall_s, 3),
            ratio_vs_postgis=round(postgis_s / fixes_only_s, 2),
            ratio_lines_vs_postgis=round(postgis_s / matching_s, 2),
            ratio_with_read=round(postgis_s / (read_s + matching_s), 2),
            same_answers=theirs == ours_fix_only,
            only_postgis=len(theirs - ours_fix_only),
            only_openem=len(ours_fix_only - theirs),
        )
    else:
        result.update(postgis_s=None, ratio_vs_postgis=None, same_answers=None, postgis=missing)
    result.update(
        trail_store_build_s=round(built, 1),
        postgis_build_s=round(pg_built, 1),
        peak_rss_mb=round(_rss_mb()),
    )
    return result


def _pairs(found: tuple[np.ndarray, np.ndarray]) -> set[tuple[int, int]]:
    return set(zip(found[0].tolist(), found[1].tolist(), strict=True))


def show(r: dict[str, Any]) -> str:
    from openem.bench import _table

    title = (
        f"Crime matching: {r['crimes']:,} crimes against {r['wearers']:,} wearers' day ({r['fixes']:,} fixes) "
        "(bars: matching_s under 1; ratio_vs_postgis above 1; same answers. Times: CPU seconds on one core)"
    )
    text = _table([(k, v) for k, v in r.items() if k not in ("benchmark", "postgis") and v is not None], title)
    if r.get("postgis"):
        text += f"\n\nPostGIS half skipped: {r['postgis']}"
    return text
