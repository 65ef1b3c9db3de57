"""The case list, the person page and the monitoring centre at national size: the same number of queries for 5
people as for 50, the lists a page at a time with the search, filters and sort kept across pages, and the
monitoring status worked out in SQL for whole caseloads (``PersonQuerySet.with_monitoring``) agreeing with
the one the rows show (``monitoring_statuses``) in every case."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from openem.alerts.models import Incident, Violation
from openem.cases.models import (
    Condition,
    MonitoringStatus,
    Order,
    Person,
    Review,
    local_today,
    monitoring_statuses,
)
from openem.devices.models import Device, Fitting
from openem.portal import paging
from openem.portal.bench_caselist import _grow, _specs
from openem.telemetry import deadlines
from openem.telemetry.models import Reading
from tests.helpers import client_for


def grow(personas, first: int, last: int) -> None:
    """People ``first`` to ``last - 1`` on the practitioner's caseload, with orders, conditions, reviews,
    tags, readings and some violations and incidents (as the benchmark makes them)."""
    users = {"alex.practitioner": personas["practitioner"]}
    _grow(first, last, users, local_today(), timezone.now())


def queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(ctx.captured_queries)


def something_of_everything() -> None:
    """Among the people so far, one of each thing a page lists (its query runs only when there is something
    to list): a tag not fitted, equipment work, an incident, a critical one."""
    people = list(Person.objects.filter(ref__startswith="B").order_by("-ref")[:3])
    alcohol = _specs()["alcohol"]  # an alcohol condition with no alcohol tag (the other tags fitted)
    order = people[0].orders.get()
    Condition.objects.create(order=order, ref="C9", type="alcohol", spec=alcohol, position=9)
    Order.objects.filter(pk=order.pk).update(
        start=local_today() - timedelta(days=3), end=local_today() + timedelta(days=60)
    )
    Violation.objects.create(
        key=f"eq-{people[1].pk}", person=people[1], order_ref="O1", device="RF", type="no_signal",
        category="equipment", start=timezone.now(),
    )  # fmt: skip
    Incident.objects.create(
        person=people[2], kind="behaviour", severity="critical", start=timezone.now(), summary="Curfew absence"
    )


PAGES = [
    ("practitioner", "/cases/"),
    ("practitioner", "/cases/?sort=status"),
    ("practitioner", "/cases/?attention=1&sort=ends"),
    ("manager", "/cases/?status=compliant&sort=rosh"),
    ("operator", "/cases/?q=Person&type=hdc"),
    ("operator", "/centre/"),
    ("manager", "/centre/"),
    ("practitioner", "person"),
]


@pytest.mark.django_db
def test_each_page_makes_as_many_queries_for_50_people_as_for_5(personas):
    grow(personas, 0, 5)
    something_of_everything()
    person = Person.objects.get(ref="B000001")
    clients = {who: client_for(personas[who]) for who in ("practitioner", "manager", "operator")}

    def count() -> list[int]:
        return [queries(clients[who], f"/people/{person.pk}/" if url == "person" else url) for who, url in PAGES]

    few = count()
    grow(personas, 5, 50)
    something_of_everything()
    assert Person.objects.count() == 50
    # Ten times the people: the same queries, page by page.
    assert count() == few, list(zip(PAGES, few, count(), strict=True))


@pytest.mark.django_db
def test_the_person_page_makes_no_query_per_order_condition_or_review(personas):
    grow(personas, 0, 3)
    person = Person.objects.get(ref="B000001")
    c = client_for(personas["practitioner"])
    one = queries(c, f"/people/{person.pk}/")
    specs = _specs()
    today = local_today()
    for k in range(2, 6):  # four more orders, each with its conditions and a review
        order = Order.objects.create(
            person=person,
            ref=f"O{k}",
            type="community_order",
            start=today - timedelta(days=k),
            end=today + timedelta(days=90),
        )
        for pos, spec in enumerate(specs.values()):
            Condition.objects.create(order=order, ref=spec["id"], type=spec["type"], spec=spec, position=pos)
        Review.objects.create(order=order, stage="start", held_on=today, summary="ok", by=personas["practitioner"])
    assert queries(c, f"/people/{person.pk}/") == one


# ------------------------------------------------------------------ the status in SQL


def agree(now=None) -> dict[MonitoringStatus, int]:
    """Every person's status in SQL and in Python, compared; how many of each."""
    people = list(Person.objects.with_monitoring(now).order_by("pk"))
    python = monitoring_statuses(people)
    seen: dict[MonitoringStatus, int] = {}
    for p in people:
        sql = MonitoringStatus.at_rank(p.monitoring_rank)
        assert sql == python[p.pk][0], (p.ref, sql, python[p.pk])
        seen[sql] = seen.get(sql, 0) + 1
    return seen


def with_condition(person, spec: dict, **order) -> Order:
    today = local_today()
    o = Order.objects.create(
        person=person, ref=f"O{Order.objects.count()}", type="community_order",
        start=order.get("start", today - timedelta(days=10)), end=order.get("end", today + timedelta(days=100)),
    )  # fmt: skip
    Condition.objects.create(
        order=o, ref=spec["id"], type=spec["type"], spec=spec, start=order.get("cstart"), end=order.get("cend"),
        removed_in_version=order.get("removed"),
    )  # fmt: skip
    return o


def fit(person, kind: str, heard: bool = True) -> None:
    device = Device.objects.create(ref=f"{kind}-{person.pk}", kind=kind)
    Fitting.objects.create(device=device, person=person, fitted_at=timezone.now() - timedelta(days=5))
    if heard:
        Reading.objects.create(device=device.ref, t=timezone.now(), type="power", payload={}, digest="x", source="file")
        deadlines.touch({device.ref: (timezone.now().timestamp(), kind)})  # as ingest does


@pytest.mark.django_db
def test_the_status_in_sql_is_the_status_on_the_row_in_every_case(personas, night):
    """Every status, and the edges between them: a GPS curfew needs a GPS tag, a zone that is not monitored
    needs nothing, a removed or finished condition needs nothing, an order not started is not monitored, an
    ending order with its end review recorded is compliant."""
    grow(personas, 0, 300)
    specs = _specs()
    now = timezone.now()
    today = local_today()

    def person(name: str) -> Person:
        return Person.objects.create(ref=name, name=name, practitioner=personas["practitioner"])

    gps_curfew = {**specs["curfew"], "technology": "gps"}
    p = person("gps-curfew-rf-tag")
    with_condition(p, gps_curfew)
    fit(p, "rf")  # the wrong kind: not fitted
    p = person("gps-curfew-gps-tag")
    with_condition(p, gps_curfew)
    fit(p, "gps")
    p = person("unmonitored-zone")
    with_condition(p, {**specs["zone"], "monitored": False})
    p = person("removed-condition")
    with_condition(p, specs["alcohol"], removed=2)
    p = person("condition-finished")
    with_condition(p, specs["alcohol"], cend=today - timedelta(days=1))
    p = person("not-started")
    with_condition(p, specs["alcohol"], start=today + timedelta(days=3))
    p = person("ending")
    with_condition(p, specs["alcohol"], end=today + timedelta(days=5))
    fit(p, "alcohol")
    p = person("ending-reviewed")
    o = with_condition(p, specs["alcohol"], end=today + timedelta(days=5))
    fit(p, "alcohol")
    Review.objects.create(order=o, stage="end", held_on=today, summary="done", by=personas["practitioner"])
    p = person("silent")
    with_condition(p, specs["alcohol"])
    fit(p, "alcohol", heard=False)
    p = person("untriaged")
    with_condition(p, specs["alcohol"])
    fit(p, "alcohol")
    Violation.objects.create(
        key="untriaged", person=p, order_ref="O", type="alcohol_confirmed", category="behaviour",
        start=now - timedelta(hours=3), end=now - timedelta(hours=2),
    )  # fmt: skip
    p = person("old-breach")
    with_condition(p, specs["alcohol"])
    fit(p, "alcohol")
    Violation.objects.create(
        key="old", person=p, order_ref="O", type="alcohol_confirmed", category="behaviour",
        start=now - timedelta(days=9), end=now - timedelta(days=8), triage_pending=False,
    )  # fmt: skip
    p = person("not-fitted-violation")
    with_condition(p, specs["alcohol"])
    fit(p, "alcohol")
    Violation.objects.create(
        key="nf", person=p, order_ref="O", type="not_fitted", category="equipment", start=now - timedelta(hours=3)
    )
    p = person("cleared-incident")
    with_condition(p, specs["alcohol"])
    fit(p, "alcohol")
    Incident.objects.create(person=p, kind="behaviour", severity="low", start=now, summary="x", status="cleared")
    # An area outage's incident names no person: it changes nobody's status, nor the filters' negations.
    Incident.objects.create(person=None, kind="behaviour", severity="low", start=now, summary="area")
    seen = agree()
    for status in MonitoringStatus:
        assert Person.objects.in_status(status).count() == seen.get(status, 0), status
    assert set(seen) == set(MonitoringStatus), set(MonitoringStatus) - set(seen)
    expect = {
        "gps-curfew-rf-tag": MonitoringStatus.NOT_FITTED,
        "gps-curfew-gps-tag": MonitoringStatus.COMPLIANT,
        "unmonitored-zone": MonitoringStatus.NOT_MONITORED,
        "removed-condition": MonitoringStatus.NOT_MONITORED,
        "condition-finished": MonitoringStatus.NOT_MONITORED,
        "not-started": MonitoringStatus.NOT_MONITORED,
        "ending": MonitoringStatus.ENDING,
        "ending-reviewed": MonitoringStatus.COMPLIANT,
        "silent": MonitoringStatus.NO_DATA,
        "untriaged": MonitoringStatus.NOT_ACKNOWLEDGED,
        "old-breach": MonitoringStatus.COMPLIANT,
        "not-fitted-violation": MonitoringStatus.NOT_FITTED,
        "cleared-incident": MonitoringStatus.COMPLIANT,
    }
    got = {
        p.ref: MonitoringStatus.at_rank(p.monitoring_rank)
        for p in Person.objects.with_monitoring().filter(ref__in=expect)
    }
    assert got == expect


# ------------------------------------------------------------------ pages


def names(html: str) -> list[str]:
    return re.findall(r'govuk-!-font-weight-bold" href="/people/\d+/">([^<]+)</a>', html)


@pytest.mark.django_db
def test_the_case_list_comes_a_page_at_a_time_with_filters_and_sort_kept(personas, monkeypatch):
    monkeypatch.setattr(paging, "PER_PAGE", 10)
    grow(personas, 0, 25)
    c = client_for(personas["practitioner"])
    first = c.get("/cases/").content.decode()
    assert "25 people" in first and "Showing 1 to 10 of 25 people" in first
    assert len(names(first)) == 10 and names(first) == sorted(names(first))
    assert 'aria-label="Page 3"' in first and 'rel="next"' in first and 'rel="prev"' not in first
    third = c.get("/cases/?page=3").content.decode()
    assert len(names(third)) == 5 and names(third)[0] > names(first)[-1]
    assert "Showing 21 to 25 of 25 people" in third and 'aria-current="page">3<' in third
    # Nonsense page numbers give the nearest page.
    assert names(c.get("/cases/?page=99").content.decode()) == names(third)
    assert names(c.get("/cases/?page=x").content.decode()) == names(first)

    # Sorted by status: most urgent first, continuing across the pages, and the links keep the sort.
    pages = [c.get(f"/cases/?sort=status&page={n}").content.decode() for n in (1, 2, 3)]
    assert "sort=status&amp;page=2" in pages[0]
    ranks = [MonitoringStatus(label_to_value(label)).rank for page in pages for label in row_statuses(page)]
    assert len(ranks) == 25 and ranks == sorted(ranks)

    # Filtered by status: the count is of everyone matched, not of the page.
    people = list(Person.objects.all())
    statuses = monitoring_statuses(people)
    compliant = sorted(p.name for p in people if statuses[p.pk][0] == MonitoringStatus.COMPLIANT)
    page = c.get("/cases/?status=compliant").content.decode()
    assert f"{len(compliant)} {'person' if len(compliant) == 1 else 'people'}" in page
    assert names(page) == compliant[:10]


def row_statuses(html: str) -> list[str]:
    """The monitoring status of each row, in order (the first tag of the row's second cell)."""
    rows = re.findall(r'<tr class="govuk-table__row" id="case-\d+">(.*?)</tr>', html, re.S)
    return [re.findall(r'<strong class="govuk-tag govuk-tag--\w+">([^<]+)<', row)[0] for row in rows]


def label_to_value(label: str) -> str:
    return {s.label: s.value for s in MonitoringStatus}[label]


@pytest.mark.django_db
def test_needs_attention_is_everyone_not_compliant_ending_soon_or_with_a_warning(personas, monkeypatch):
    monkeypatch.setattr(paging, "PER_PAGE", 10)
    grow(personas, 0, 40)
    today = local_today()
    people = list(Person.objects.prefetch_related("orders__conditions", "assessments__addresses"))
    statuses = monitoring_statuses(people)
    from openem.portal.views import current_orders

    def needs(p) -> bool:
        current = current_orders(p, today)
        ending = bool(current) and (current[0].end - today).days <= 14
        warned = any(o.count_warnings() for o in current)  # worked out afresh, not the stored counts
        return statuses[p.pk][0] != MonitoringStatus.COMPLIANT or ending or warned

    expected = sorted(p.name for p in people if needs(p))
    assert 0 < len(expected) < len(people)
    c = client_for(personas["practitioner"])
    shown = []
    for n in range(1, 6):
        shown += names(c.get(f"/cases/?attention=1&page={n}").content.decode()) if (n - 1) * 10 < len(expected) else []
    assert shown == expected


@pytest.mark.django_db
def test_the_centre_counts_everyone_and_lists_a_page_at_a_time(personas, monkeypatch):
    monkeypatch.setattr(paging, "PER_PAGE", 5)
    grow(personas, 0, 120)
    today = local_today()
    active = [
        p for p in Person.objects.prefetch_related("orders") if any(o.start <= today <= o.end for o in p.orders.all())
    ]
    statuses = monitoring_statuses(active)
    page = client_for(personas["operator"]).get("/centre/").content.decode()
    assert f"{len(active)} active orders" in page
    counts = dict(re.findall(r'href="/cases/\?status=(\w+)"><span class="app-count__n">(\d+)<', page))
    for s in MonitoringStatus:
        assert int(counts[s.value]) == sum(1 for p in active if statuses[p.pk][0] == s), s
    not_fitted = sorted(p.name for p in active if statuses[p.pk][0] == MonitoringStatus.NOT_FITTED)
    assert len(not_fitted) > 5
    section = page.split('id="tags-not-fitted"')[1].split('id="equipment-work"')[0]
    assert re.findall(r'href="/people/\d+/">([^<]+)</a>', section) == not_fitted[:5]
    assert f"Showing 1 to 5 of {len(not_fitted)} people" in section
    assert 'href="?not_fitted_page=2#tags-not-fitted"' in section
    second = client_for(personas["operator"]).get("/centre/?not_fitted_page=2").content.decode()
    section = second.split('id="tags-not-fitted"')[1].split('id="equipment-work"')[0]
    assert re.findall(r'href="/people/\d+/">([^<]+)</a>', section) == not_fitted[5:10]
