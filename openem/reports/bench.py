"""`openem bench mi`: a national caseload (50,000 people with a year of orders, fittings, violations,
incidents and decisions, made as records with bulk_create, not from telemetry), the quarter's refresh
timed, and every Statistics page requested as the national analyst (bars: refresh under a minute, page
p95 under a second). SQLite in a throwaway file by default; DATABASE_URL=postgres://.../NAME builds in
NAME_bench_mi on that server instead (created afresh)."""

from __future__ import annotations

import os
import random
import statistics
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

REGIONS = ["North East", "North West", "Yorkshire and the Humber", "Greater Manchester", "East Midlands",
           "West Midlands", "East of England", "Wales", "South West", "South Central", "Kent, Surrey and Sussex",
           "London"]  # fmt: skip
ORDER_TYPES = [("community_order", 30), ("suspended_sentence_order", 15), ("hdc", 25), ("licence", 20),
               ("post_sentence_supervision", 5), ("bail", 5)]  # fmt: skip
BEHAVIOUR = ["curfew_absence", "exclusion_zone_entry", "inclusion_zone_exit", "alcohol_confirmed", "tamper"]
EQUIPMENT = ["no_signal", "battery_depleted", "home_unit_power", "location_failure"]
CURFEW = {"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "start": "19:00", "end": "07:00"}


def generate(people: int, end: date, seed: int = 1, batch: int = 5000) -> dict[str, int]:
    """``people`` people with a year of monitoring up to ``end``, as records. Returns what was made."""
    from openem.accounts.models import Role, Team, User
    from openem.alerts.models import EnforcementDecision, Incident, Violation
    from openem.cases.models import Condition, Order, Person, Review
    from openem.devices.models import Device, Fitting

    from .demo import answers
    from .models import EqualityRecord

    rng = random.Random(seed)
    teams = [Team.objects.get_or_create(name=f"{r} delivery unit", defaults={"region": r})[0] for r in REGIONS]
    officer, _ = User.objects.get_or_create(username="bench.practitioner", defaults={"role": Role.PRACTITIONER})
    first = (end - timedelta(days=365)).toordinal()
    base = Person.objects.count()
    made = dict.fromkeys(("people", "orders", "fittings", "violations", "incidents", "decisions"), 0)
    for start in range(0, people, batch):
        n = min(batch, people - start)
        ps = [
            Person(ref=f"N{base + start + i:07d}", name=f"Person {base + start + i}", team=rng.choice(teams),
                   date_of_birth=date(rng.randint(1950, 2006), rng.randint(1, 12), rng.randint(1, 28)),
                   rosh=rng.choice(["low", "medium", "high", "very_high"]))
            for i in range(n)
        ]  # fmt: skip
        Person.objects.bulk_create(ps)
        EqualityRecord.objects.bulk_create(
            [EqualityRecord(person=p, recorded_by=officer, **answers(rng)) for p in ps if rng.random() < 0.9]
        )
        orders, conds, people_of = [], [], []
        for p in ps:
            for k in range(1 if rng.random() < 0.85 else 2):
                o_start = date.fromordinal(rng.randint(first, end.toordinal()))
                o_end = o_start + timedelta(days=rng.randint(60, 365))
                otype = rng.choices([t for t, _w in ORDER_TYPES], [w for _t, w in ORDER_TYPES])[0]
                orders.append(Order(person=p, ref=f"O{k + 1}", type=otype, start=o_start, end=o_end))
                people_of.append(p)
        Order.objects.bulk_create(orders)
        fittings, devices, violations = [], [], []  # type: list[Fitting], list[Device], list[Violation]
        for o in orders:
            kind = rng.choices(["rf", "gps", "alcohol"], [55, 35, 10])[0]
            ctype = {"rf": "curfew", "gps": "trail", "alcohol": "alcohol"}[kind]
            spec: dict[str, Any] = {"id": "C1", "type": ctype}
            if ctype == "curfew":
                spec.update(technology="rf", windows=[CURFEW])
            conds.append(Condition(order=o, ref="C1", type=ctype, spec=spec))
            if rng.random() < 0.03:
                continue  # never fitted
            at = datetime.combine(o.start, datetime.min.time(), UTC) + timedelta(hours=rng.uniform(2, 72))
            off = datetime.combine(o.end, datetime.min.time(), UTC) + timedelta(hours=12)
            device = Device(ref=f"{kind.upper()}-N{o.person.ref}{o.ref}", kind=kind)
            devices.append(device)
            removed = off if off < datetime.combine(end, datetime.min.time(), UTC) else None
            fittings.append(Fitting(device=device, person=o.person, fitted_at=at, removed_at=removed))
            days = ((removed or datetime.combine(end, datetime.min.time(), UTC)) - at).days
            for _v in range(max(0, int(rng.expovariate(1 / max(days / 60, 0.1))))):
                t = at + timedelta(hours=rng.uniform(0, max(days, 1) * 24))
                behaviour = rng.random() < 0.6
                vtype = rng.choice(BEHAVIOUR if behaviour else EQUIPMENT)
                violations.append(Violation(
                    key=f"N{o.person.ref}{o.ref}-{len(violations)}", person=o.person, order_ref=o.ref,
                    type=vtype, category="behaviour" if behaviour else "equipment", start=t,
                    end=t + timedelta(hours=rng.uniform(0.2, 6)), device=device.ref,
                ))  # fmt: skip
        Condition.objects.bulk_create(conds)
        Device.objects.bulk_create(devices)
        Fitting.objects.bulk_create(fittings)
        incidents = []
        for v in violations:
            if rng.random() < 0.8:
                kind = "behaviour" if v.category == "behaviour" else "equipment"
                incidents.append(Incident(
                    person=v.person, kind=kind, severity=rng.choice(["low", "medium", "high"]), status="cleared",
                    start=v.start, end=v.end, summary=v.type, opened=v.start,
                    acknowledged_at=v.start + timedelta(minutes=rng.expovariate(1 / 40)),
                ))  # fmt: skip
                v.incident = incidents[-1]
        Incident.objects.bulk_create(incidents)
        for v in violations:
            if v.incident is not None:
                v.incident_id = v.incident.pk
        Violation.objects.bulk_create(violations, batch_size=2000)
        decisions = [
            EnforcementDecision(
                incident=i, decision=rng.choices(["no_action", "warning", "breach", "recall"], [30, 45, 15, 10])[0],
                reason="bench", decided_on=(i.start + timedelta(days=rng.randint(0, 5))).date(), by=officer,
            )
            for i in incidents if i.kind == "behaviour" and rng.random() < 0.7
        ]  # fmt: skip
        EnforcementDecision.objects.bulk_create(decisions)
        Review.objects.bulk_create([
            Review(order=o, stage="start", held_on=o.start + timedelta(days=rng.randint(1, 10)), summary="bench",
                   by=officer)
            for o in orders if rng.random() < 0.8
        ])  # fmt: skip
        made["people"] += n
        made["orders"] += len(orders)
        made["fittings"] += len(fittings)
        made["violations"] += len(violations)
        made["incidents"] += len(incidents)
        made["decisions"] += len(decisions)
    return made


def _database(quick: bool) -> tuple[str, Any]:
    """A throwaway database: a SQLite file, or NAME_bench_mi on the PostgreSQL server DATABASE_URL names."""
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith("postgres"):
        import psycopg

        base, _, _name = url.rpartition("/")
        name = f"{_name or 'openem'}_bench_mi{'_quick' if quick else ''}"
        with psycopg.connect(f"{base}/postgres", autocommit=True) as con:
            con.execute(f'DROP DATABASE IF EXISTS "{name}"')
            con.execute(f'CREATE DATABASE "{name}"')
        os.environ["DATABASE_URL"] = f"{base}/{name}"
        return "postgresql", None
    tmp = tempfile.TemporaryDirectory(prefix="openem-bench-mi-")
    os.environ["OPENEM_SQLITE_PATH"] = os.path.join(tmp.name, "bench.sqlite3")
    os.environ.setdefault("OPENEM_DATA_DIR", tmp.name)
    return "sqlite", tmp


def bench_mi(quick: bool) -> dict[str, Any]:
    people = 5_000 if quick else 50_000
    vendor, tmp = _database(quick)
    os.environ["DJANGO_SETTINGS_MODULE"] = "openem.settings"
    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client
    from django.test.utils import setup_test_environment

    from openem.accounts.personas import create_personas

    from .measures import MEASURES, Period
    from .refresh import BREAKDOWNS, refresh

    setup_test_environment()  # the test client's host, as the trail bench does
    call_command("migrate", verbosity=0)
    users = create_personas("bench-pw")
    period = Period.parse("2026Q3")
    began = time.perf_counter()
    made = generate(people, period.last_day)
    built_s = time.perf_counter() - began
    began = time.perf_counter()
    run = refresh(period)
    refresh_s = time.perf_counter() - began
    for p in period.last(3)[:-1]:
        refresh(p)  # the trend pages show the quarters before too (not timed)
    client = Client()
    client.force_login(users["nina.analyst"])
    manager = Client()
    manager.force_login(users["morgan.manager"])
    urls = ["/statistics/?period=2026Q3"]
    codes = [m for m in MEASURES if MEASURES[m].available]
    for i, code in enumerate(codes):
        urls.append(f"/statistics/measures/{code}/?period=2026Q3&by={list(BREAKDOWNS)[i % len(BREAKDOWNS)]}")
    urls += ["/statistics/download.csv?period=2026Q3", "/statistics/download.ods?period=2026Q3"]
    times = []
    for c in (client, manager):
        for url in urls:
            assert c.get(url).status_code == 200, url  # a first request warms the process, as a server's are
    for _round in range(3):
        for c in (client, manager):
            for url in urls:
                t = time.perf_counter()
                response = c.get(url)
                times.append((time.perf_counter() - t) * 1000)
                assert response.status_code == 200, (url, response.status_code)
    times.sort()
    p95 = times[min(len(times) - 1, int(0.95 * len(times)))]
    if tmp is not None:
        from django.db import connections

        connections.close_all()
        tmp.cleanup()
    return {
        "benchmark": "mi",
        "database": vendor,
        "people": made["people"],
        "orders": made["orders"],
        "fittings": made["fittings"],
        "violations": made["violations"],
        "incidents": made["incidents"],
        "decisions": made["decisions"],
        "generate_s": round(built_s, 1),
        "refresh_s": round(refresh_s, 2),
        "cells": run.cells,
        "pages": len(times),
        "page_p50_ms": round(statistics.median(times), 1),
        "page_p95_ms": round(p95, 1),
        "page_max_ms": round(times[-1], 1),
        "refresh_under_60s": refresh_s < 60,
        "pages_under_1s": p95 < 1000,
    }
