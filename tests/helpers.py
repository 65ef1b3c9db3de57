"""Small helpers shared by the test modules."""

from __future__ import annotations

from typing import Any

from django.test import Client

# The test personas by short name, and the demo login each one is. ``PERSONAS`` is the one list
# every access test iterates over.
PERSONA_LOGINS = {
    "practitioner": "alex.practitioner",  # owns the test case
    "other": "bea.practitioner",  # same team, not her case
    "manager": "morgan.manager",  # the case's team
    "other_manager": "nadia.manager",  # manager of another team
    "operator": "omar.operator",
    "police": "priya.police",
    "vlo": "vera.liaison",  # victim liaison officer
    "hub": "hana.caseworker",  # crime matching hub caseworker
    "hub_manager": "hugo.hubmanager",
    "analyst": "nina.analyst",  # national analyst: statistics, no personal records
    "admin": "admin",
}
PERSONAS = tuple(PERSONA_LOGINS)


def client_for(user: Any) -> Client:
    """A test client signed in as ``user``."""
    c = Client()
    c.force_login(user)
    return c


def zone_crossing(person: Any, key: str = "ez-entry-1") -> Any:
    """An hour of GPS fixes on 10 November from 09:00 walking south through Sam Example's exclusion zone
    C2, stored as a trusted file would be, and the zone entry the engine found there (09:30-09:40)."""
    import json
    from datetime import UTC, datetime, timedelta

    from openem.alerts.models import Violation
    from openem.telemetry.ingest import ingest_jsonl

    t0 = datetime(2026, 11, 10, 9, 0, tzinfo=UTC)
    ingest_jsonl(
        "\n".join(
            json.dumps(
                {
                    "device": "GPS-0001",
                    "time": (t0 + timedelta(minutes=i)).isoformat().replace("+00:00", "Z"),
                    "type": "fix",
                    "lat": 52.6702 - i * 0.0002,
                    "lon": -0.7351,
                    "accuracy_m": 8,
                }
            )
            for i in range(60)
        )
    )
    return Violation.objects.create(
        key=key,
        person=person,
        order_ref="O0001",
        condition_ref="C2",
        device="GPS-0001",
        type="exclusion_zone_entry",
        category="behaviour",
        start=t0 + timedelta(minutes=30),
        end=t0 + timedelta(minutes=40),
    )


def run_async(coro: Any) -> Any:
    """``asyncio.run`` on a thread of its own: the browser tests' Playwright keeps an event loop running
    in the main thread for the whole session, where ``asyncio.run`` refuses to start another."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def second_postgresql_connection() -> Any:
    """A connection of its own to the test database, for a transaction that commits out of id order (a
    slow sender's); the calling test is skipped on SQLite, which commits one writer at a time, in order."""
    import pytest
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("SQLite commits one writer at a time, in id order (DATABASE_URL=postgres://... to run)")
    import psycopg

    s = connection.settings_dict
    return psycopg.connect(
        dbname=s["NAME"], user=s["USER"], password=s["PASSWORD"] or None, host=s["HOST"], port=s["PORT"] or None
    )
