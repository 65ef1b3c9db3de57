"""`openem bench caselist`: the case list and the monitoring centre at the national caseload.

A caseload of N people is written straight into a fresh database with bulk inserts (fast: no import, no
engine): each with an order (community order or HDC, some ended, some ending within a fortnight), an RF
curfew, for some a GPS-monitored exclusion zone or an alcohol condition, the tags those need fitted (a few
missing), a reading from each (a few silent), supervision reviews, and for a few people violations and
incidents (open, recent, awaiting a decision, equipment). The pages are then requested through Django's test
client, signed in, as the people who use them: a practitioner's caseload of 50 (``case_list_ms``), the
operator's first page of every case (``operator_list_ms``), the monitoring centre (``centre_ms``), and a
person page; p50 and p95 over several requests, and the number of queries each page makes.

The sizes grow in one database (1,000 then 50,000 people; ``--quick``: 300 then 3,000), so the figures for
the small caseload are printed beside the large one and the growth is visible. SQLite by default (a file in
a temporary directory); ``DATABASE_URL=postgres://...`` runs it on PostgreSQL (the database is dropped and
made again). ``OPENEM_BENCH_SIZES=1000,5000`` and ``OPENEM_BENCH_RUNS=3`` set the sizes and the requests per
page (to measure an older, slower page).
"""

from __future__ import annotations

import os
import random
import statistics
import tempfile
import time
from datetime import datetime, timedelta
from typing import Any

PRACTITIONER = "alex.practitioner"
OPERATOR = "omar.operator"
CASELOAD = 50  # the practitioner's own people
PER_PRACTITIONER = 50  # everyone else's caseload size, shared among made-up practitioners


def _database(tmp: str) -> None:
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith("postgres"):
        import psycopg

        name = url.rsplit("/", 1)[1].split("?")[0]
        admin = url.rsplit("/", 1)[0] + "/postgres"
        with psycopg.connect(admin, autocommit=True) as con:
            con.execute(f'DROP DATABASE IF EXISTS "{name}"')
            con.execute(f'CREATE DATABASE "{name}"')
        return
    os.environ.pop("DATABASE_URL", None)
    os.environ["OPENEM_SQLITE_PATH"] = os.path.join(tmp, "caselist.sqlite3")


def _specs() -> dict[str, dict[str, Any]]:
    from openem.engine.casefile import parse_condition

    shapes: dict[str, dict[str, Any]] = {
        "curfew": {
            "id": "C1", "type": "curfew", "technology": "rf",
            "address": {"lat": 52.6702, "lon": -0.7321, "radius_m": 30},
            "windows": [{"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "start": "19:00", "end": "07:00"}],
        },
        "zone": {
            "id": "C2", "type": "exclusion_zone", "monitored": True, "name": "Victim's street",
            "area": {"lat": 52.66, "lon": -0.74, "radius_m": 400},
        },
        "alcohol": {"id": "C3", "type": "alcohol", "mode": "abstinence"},
        "trail": {"id": "C4", "type": "trail"},  # a monitored zone needs location monitoring
    }  # fmt: skip
    return {k: parse_condition(v).to_json() for k, v in shapes.items()}


def _grow(first: int, last: int, users: dict[str, Any], today: Any, now: datetime) -> None:
    """People ``first`` to ``last - 1``, with everything the pages show, in bulk."""
    from openem.accounts.models import Role, Team, User
    from openem.alerts.models import Incident, Violation
    from openem.cases.models import Condition, Order, OrderVersion, Person, Review
    from openem.devices.models import Device, Fitting
    from openem.engine.enums import Rosh
    from openem.telemetry import deadlines
    from openem.telemetry.models import Reading

    specs = _specs()
    teams = list(Team.objects.order_by("pk"))
    me = users[PRACTITIONER]
    practitioners: dict[int, Any] = {}
    wanted = {(i - CASELOAD) // PER_PRACTITIONER for i in range(max(first, CASELOAD), last)}
    have = {u.username: u for u in User.objects.filter(username__startswith="bench.p")}
    new = [
        User(username=f"bench.p{k:05d}", first_name="Bench", last_name=f"P{k}", role=Role.PRACTITIONER.value,
             team=teams[k % len(teams)], password="!")
        for k in sorted(wanted) if f"bench.p{k:05d}" not in have
    ]  # fmt: skip
    User.objects.bulk_create(new, batch_size=2000)
    have = {u.username: u for u in User.objects.filter(username__startswith="bench.p")}
    for k in wanted:
        practitioners[k] = have[f"bench.p{k:05d}"]
    rosh = [r.value for r in Rosh]
    people = []
    for i in range(first, last):
        who = me if i < CASELOAD else practitioners[(i - CASELOAD) // PER_PRACTITIONER]
        people.append(
            Person(ref=f"B{i:06d}", crn=f"B{i:06d}", name=f"Person {i:06d}", rosh=rosh[i % len(rosh)],
                   practitioner=who, team=who.team)
        )  # fmt: skip
    Person.objects.bulk_create(people, batch_size=2000)
    people = list(Person.objects.filter(ref__gte=f"B{first:06d}", ref__lt=f"B{last:06d}").order_by("ref"))
    orders: list[Any] = []
    plans: list[tuple[Any, int, random.Random, list[str]]] = []
    for p in people:
        i = int(p.ref[1:])
        rng = random.Random(i)
        ends_in = rng.choice([-20, 5, 10, *range(20, 200, 7)])  # some ended, some ending within a fortnight
        start = today - timedelta(days=rng.randint(20, 150))
        hdc = rng.random() < 0.4
        kinds = ["curfew"] + (["zone", "trail"] if rng.random() < 0.4 else [])
        kinds += ["alcohol"] if not hdc and rng.random() < 0.15 else []
        orders.append(
            Order(person=p, ref="O1", type="hdc" if hdc else "community_order", start=start,
                  end=today + timedelta(days=ends_in))
        )  # fmt: skip
        plans.append((p, i, rng, kinds))
    Order.objects.bulk_create(orders, batch_size=2000)
    orders = list(Order.objects.filter(person__in=people).order_by("person__ref"))
    conditions, versions, reviews, devices, fittings, readings = [], [], [], [], [], []
    violations, incidents = [], []
    fitted_at = now - timedelta(days=20)
    for order, (p, i, rng, kinds) in zip(orders, plans, strict=True):
        for pos, name in enumerate(kinds):
            spec = specs[name]
            conditions.append(
                Condition(order=order, ref=spec["id"], type=spec["type"], spec=spec, position=pos,
                          monitored=bool(spec.get("monitored", True)))
            )  # fmt: skip
        versions.append(
            OrderVersion(order=order, number=1, changed_at=now - timedelta(days=20), reason="bench",
                         changes=[f"Order made with {len(kinds)} condition(s)"], snapshot={})
        )  # fmt: skip
        if rng.random() < 0.5:
            reviews.append(
                Review(order=order, stage="start", held_on=order.start, summary="Explained", by=p.practitioner)
            )
        needs = {"rf"} | ({"gps"} if "zone" in kinds else set()) | ({"alcohol"} if "alcohol" in kinds else set())
        for kind in sorted(needs):
            if rng.random() < 0.03:
                continue  # not fitted
            ref = f"{kind.upper()}-{i:06d}"
            devices.append(Device(ref=ref, kind=kind))
            fittings.append((ref, p))
            if rng.random() > 0.02:  # a few never heard from
                readings.append(
                    Reading(device=ref, t=now - timedelta(minutes=rng.randint(1, 50)), type="power",
                            payload={"battery_pct": 80}, digest="bench", source="file")
                )  # fmt: skip
        roll = rng.random()
        start = now - timedelta(hours=rng.randint(2, 100))
        if roll < 0.01:
            violations.append(
                Violation(key=f"b{i}-open", person=p, order_ref="O1", condition_ref="C1", device=f"RF-{i:06d}",
                          type="curfew_absence", category="behaviour", start=start, triage_pending=False)
            )  # fmt: skip
        elif roll < 0.02:
            violations.append(
                Violation(key=f"b{i}-eq", person=p, order_ref="O1", device=f"RF-{i:06d}", type="no_signal",
                          category="equipment", start=start, triage_pending=False)
            )  # fmt: skip
        elif roll < 0.06:
            violations.append(
                Violation(key=f"b{i}-past", person=p, order_ref="O1", condition_ref="C1", device=f"RF-{i:06d}",
                          type="curfew_absence", category="behaviour", start=start,
                          end=start + timedelta(minutes=40), triage_pending=False)
            )  # fmt: skip
            if roll < 0.04:
                incidents.append(
                    Incident(person=p, kind="behaviour", severity="high", start=start,
                             status="open" if roll < 0.03 else "acknowledged", summary="Curfew absence")
                )  # fmt: skip
    Condition.objects.bulk_create(conditions, batch_size=2000)
    OrderVersion.objects.bulk_create(versions, batch_size=2000)
    Review.objects.bulk_create(reviews, batch_size=2000)
    Device.objects.bulk_create(devices, batch_size=2000)
    by_ref = dict(Device.objects.filter(ref__in=[d.ref for d in devices]).values_list("ref", "pk"))
    Fitting.objects.bulk_create(
        [Fitting(device_id=by_ref[ref], person=p, fitted_at=fitted_at) for ref, p in fittings], batch_size=2000
    )
    Reading.objects.bulk_create(readings, batch_size=2000)
    # What ingest keeps beside the readings it stores: each device's last reading and silence deadline.
    kind_of = {d.ref: d.kind for d in devices}
    for k in range(0, len(readings), 5000):
        deadlines.touch({r.device: (r.t.timestamp(), kind_of[r.device]) for r in readings[k : k + 5000]})
    Violation.objects.bulk_create(violations, batch_size=2000)
    Incident.objects.bulk_create(incidents, batch_size=2000)


def _time(client: Any, url: str, runs: int) -> tuple[float, float, int, int]:
    """p50 and p95 in ms, the queries of one request, and the page's size in bytes."""
    from django.db import connection

    queries = []

    def count(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        queries.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        r = client.get(url)  # also warms the templates and the connection
    assert r.status_code == 200, (url, r.status_code)
    size = len(r.content)
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        r = client.get(url)
        times.append((time.perf_counter() - began) * 1000)
    times.sort()
    return statistics.median(times), times[int(0.95 * (len(times) - 1))], len(queries), size


def _measure(people: int, runs: int, users: dict[str, Any]) -> dict[str, Any]:
    from django.test import Client

    from openem.cases.models import Person

    out: dict[str, Any] = {"people": people}
    pages = {
        "case_list": (PRACTITIONER, "/cases/"),
        "operator_list": (OPERATOR, "/cases/"),
        "operator_status_filter": (OPERATOR, "/cases/?status=not_fitted&sort=status"),
        "operator_attention": (OPERATOR, "/cases/?attention=1"),
        "centre": (OPERATOR, "/centre/"),
        "person": (PRACTITIONER, f"/people/{Person.objects.get(ref='B000007').pk}/"),
    }
    for name, (login, url) in pages.items():
        client = Client()
        client.force_login(users[login])
        p50, p95, queries, size = _time(client, url, runs)
        out[f"{name}_ms"] = round(p50, 1)
        out[f"{name}_p95_ms"] = round(p95, 1)
        out[f"{name}_queries"] = queries
        out[f"{name}_kb"] = round(size / 1024)
    return out


def bench_caselist(quick: bool) -> dict[str, Any]:
    sizes = [300, 3_000] if quick else [1_000, 50_000]
    if os.environ.get("OPENEM_BENCH_SIZES"):
        sizes = [int(s) for s in os.environ["OPENEM_BENCH_SIZES"].split(",")]
    runs = int(os.environ.get("OPENEM_BENCH_RUNS", 5 if quick else 15))
    with tempfile.TemporaryDirectory() as tmp:
        _database(tmp)
        os.environ.setdefault("OPENEM_DATA_DIR", tmp)
        os.environ["DJANGO_SETTINGS_MODULE"] = "openem.settings"
        import django

        django.setup()
        from django.conf import settings
        from django.core.management import call_command
        from django.db import connection
        from django.test.utils import setup_test_environment
        from django.utils import timezone

        from openem.accounts.personas import create_personas
        from openem.cases.models import local_today

        setup_test_environment()
        settings.OPENEM_OTP_REQUIRED_ROLES = ()  # signed in with force_login, as the tests are
        call_command("migrate", verbosity=0)
        users = create_personas("bench")
        today, now = local_today(), timezone.now()
        results, built, build_s = [], 0, 0.0
        for n in sizes:
            began = time.perf_counter()
            _grow(built, n, users, today, now)
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute("ANALYZE")  # as autovacuum would after a load: plans need the row counts
            build_s += time.perf_counter() - began
            built = n
            results.append(_measure(n, runs, users))
        engine = connection.vendor
        connection.close()
    last = results[-1]
    return {
        "benchmark": "caselist",
        "database": engine,
        "people": last["people"],
        "case_list_ms": last["case_list_ms"],
        "centre_ms": last["centre_ms"],
        "operator_list_ms": last["operator_list_ms"],
        "queries": {k[: -len("_queries")]: v for k, v in last.items() if k.endswith("_queries")},
        "build_s": round(build_s, 1),
        "sizes": results,
    }


def show(r: dict[str, Any]) -> str:
    sizes = r["sizes"]
    title = (
        f"Case list and monitoring centre on {r['database']} (bars at 50,000 people: a caseload of 50 under "
        "100 ms, the centre's first page under 300 ms; p50 with p95 after it)"
    )
    head = f"{'':<28}" + "".join(f"{s['people']:>18,}" for s in sizes)
    lines = [title, "-" * len(title), head + "  people"]
    for page, label in (
        ("case_list", "case_list_ms (caseload 50)"),
        ("operator_list", "operator_list_ms"),
        ("operator_status_filter", "  status filter, sorted"),
        ("operator_attention", "  needs attention"),
        ("centre", "centre_ms"),
        ("person", "person page ms"),
    ):
        lines.append(
            f"{label:<28}" + "".join(f"{s[page + '_ms']:>10,.1f} ({s[page + '_p95_ms']:>5,.0f})" for s in sizes)
        )
        lines.append(
            f"{'  queries, kB':<28}" + "".join(f"{s[page + '_queries']:>10,} {s[page + '_kb']:>6,}" for s in sizes)
        )
    lines.append(f"{'database built in':<28}{r['build_s']:>18,.1f} s")
    return "\n".join(lines)
