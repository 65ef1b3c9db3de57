"""`openem bench trail`: a practitioner's 30-day trail page, with its data, from a fixes table holding
tens of millions of fixes (bar: p95 under 300 ms with at least 50 million stored).

The database is built once and kept (``var/bench/trail-blocks-N.sqlite3``, or ``$OPENEM_BENCH_DIR``):
the person's GPS tag with a fix a minute for 30 days, and many other tags' fixes around it, in blocks
of a quarter of an hour's fixes as tags upload them. Only the trail table is filled: trail queries never
read the readings table. Each
request is the real view through Django's test client, signed in, with a reason, audited.
"""

from __future__ import annotations

import os
import sqlite3
import statistics
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
PERSON_DEVICE = "GPS-TRAIL"
OTHER_DEVICES = 2_000
INSERT = "INSERT INTO telemetry_trailblock (device, start_s, end_s, n, data) VALUES (?,?,?,?,?)"
UPLOAD_S = 900  # a tag's fixes arrive a quarter of an hour at a time: a block each


def _db_path(total: int) -> Path:
    base = Path(os.environ.get("OPENEM_BENCH_DIR", ROOT / "var" / "bench"))
    base.mkdir(parents=True, exist_ok=True)
    return base / f"trail-blocks-{total}.sqlite3"


def stored_fixes(path: Path) -> int:
    """How many fixes a bench's trail-block database holds (0 if none, or not built)."""
    if not path.exists():
        return 0
    con = sqlite3.connect(path)
    try:
        return int(con.execute("SELECT sum(n) FROM telemetry_trailblock").fetchone()[0] or 0)
    except sqlite3.OperationalError:
        return 0
    finally:
        con.close()


def _fill(path: Path, total: int, end: datetime) -> None:
    """The person's 43,200 fixes over the last 30 days, then everyone else's up to ``total``."""
    from openem.telemetry.trail import FIX

    con = sqlite3.connect(path)
    con.executescript("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;")
    found = con.execute(
        "SELECT sql FROM sqlite_master WHERE type='index' AND tbl_name='telemetry_trailblock' AND sql NOT NULL"
    )
    indexes = [row[0] for row in found.fetchall()]
    for sql in indexes:  # build them once at the end: far faster than row by row
        con.execute(f"DROP INDEX {sql.split()[2]}")
    t_end = end.timestamp()
    rng = np.random.default_rng(1)
    own = t_end - np.arange(30 * 1440, 0, -1) * 60.0
    chunks: list[tuple[str, np.ndarray]] = [(PERSON_DEVICE, own)]
    per_device = (total - len(own)) // OTHER_DEVICES
    step_s = max(1.0, 60 * 86400 / max(per_device, 1))  # spread over the last 60 days
    for k in range(OTHER_DEVICES):
        n = per_device + (1 if k < (total - len(own)) % OTHER_DEVICES else 0)
        chunks.append((f"GPS-{k:05d}", t_end - np.arange(n, 0, -1) * step_s))
    for device, ts in chunks:
        packed = np.empty(len(ts), dtype=FIX)
        packed["t"] = ts
        packed["lat"] = (52.67 + rng.normal(0, 0.01, len(ts)).cumsum() * 0.01).round(6)
        packed["lon"] = (-0.73 + rng.normal(0, 0.01, len(ts)).cumsum() * 0.01).round(6)
        packed["acc"] = 8.0
        bounds = [0, *(np.flatnonzero(np.diff(np.floor(ts / UPLOAD_S))) + 1).tolist(), len(ts)]
        start, stop = ts[bounds[:-1]].tolist(), ts[np.array(bounds[1:]) - 1].tolist()
        spans = zip(bounds[:-1], bounds[1:], start, stop, strict=True)
        con.executemany(INSERT, [(device, s, e, b - a, packed[a:b].tobytes()) for a, b, s, e in spans])
    con.commit()
    for sql in indexes:
        con.execute(sql)
    con.execute("PRAGMA journal_mode=WAL")
    con.commit()
    con.close()


def bench_trail(quick: bool) -> dict[str, Any]:
    total = 2_000_000 if quick else 50_000_000
    runs = 10 if quick else 30
    path = _db_path(total)
    if stored_fixes(path) < total:
        for p in path.parent.glob(path.name + "*"):
            p.unlink()  # a partial or older build: start again
    os.environ["OPENEM_SQLITE_PATH"] = str(path)
    os.environ.setdefault("OPENEM_DATA_DIR", str(path.parent))
    os.environ.pop("DATABASE_URL", None)
    os.environ["DJANGO_SETTINGS_MODULE"] = "openem.settings"
    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client
    from django.test.utils import setup_test_environment

    from openem.telemetry.models import TrailBlock

    setup_test_environment()  # keeps the response's context for the count of positions
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    built = 0.0
    call_command("migrate", verbosity=0)
    if not TrailBlock.objects.exists():
        from django.db import connections

        connections.close_all()  # the fill needs the file to itself
        began = time.perf_counter()
        _fill(path, total, end)
        built = time.perf_counter() - began
    stored = stored_fixes(path)
    person, user = _case(end)
    client = Client()
    client.force_login(user)
    newest = (
        TrailBlock.objects.filter(device=PERSON_DEVICE).order_by("-start_s").values_list("end_s", flat=True).first()
    )
    last = datetime.fromtimestamp(newest, UTC) if newest is not None else end
    period = {
        "start": (last - timedelta(days=30)).strftime("%Y-%m-%dT%H:%M"),
        "end": (last + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M"),
        "reason": "supervision",
    }
    url = f"/people/{person.pk}/trail/"
    client.get(url, period)  # warm: templates, connection, page cache
    times, positions = [], 0
    for _ in range(runs):
        began = time.perf_counter()
        r = client.get(url, period)
        times.append((time.perf_counter() - began) * 1000)
        assert r.status_code == 200 and b'<script id="trail-data"' in r.content, "the page must carry the trail"
        positions = r.context["fix_count"]
    times.sort()
    return {
        "benchmark": "trail",
        "fixes_stored": stored,
        "positions_in_30_days": positions,
        "requests": runs,
        "p50_ms_30_days": round(statistics.median(times), 1),
        "p95_ms_30_days": round(times[int(0.95 * (len(times) - 1))], 1),
        "database_build_s": round(built, 1),
    }


def _case(end: datetime) -> tuple[Any, Any]:
    from openem.accounts.personas import create_personas
    from openem.cases.casefile_io import import_casefile
    from openem.cases.models import Person
    from openem.engine import casefile

    users = create_personas("bench")
    if not Person.objects.filter(ref="B0001").exists():
        start = (end - timedelta(days=40)).date().isoformat()
        stop = (end + timedelta(days=60)).date().isoformat()
        data = {
            "format": "openem-cases/1",
            "people": [
                {
                    "id": "B0001", "name": "Trail Bench", "practitioner": "alex.practitioner",
                    "orders": [{"id": "O1", "type": "community_order", "start": start, "end": stop,
                                "conditions": [{"id": "C1", "type": "trail"}]}],
                    "devices": [{"id": PERSON_DEVICE, "kind": "gps", "fitted": f"{start}T09:00:00Z"}],
                }
            ],
        }  # fmt: skip
        import_casefile(casefile.parse(data), None, "bench")
    return Person.objects.get(ref="B0001"), users["alex.practitioner"]
