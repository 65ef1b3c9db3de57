""" "Needs attention" reads each order's warnings from the count kept on it (``Order.warning_count``), in SQL:
the same people as working the warnings out afresh in Python for everyone, and kept right when a condition
is edited, an assessment or an address is added, changed or deleted, and when orders and conditions are
loaded in bulk."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from openem.assessments import services
from openem.assessments.models import Assessment, ProposalType, ProposedAddress
from openem.cases.models import Condition, MonitoringStatus, Order, Person, local_today, monitoring_statuses
from openem.cases.rules import Severity
from openem.portal import paging
from tests.helpers import client_for
from tests.test_caselist_scale import fit, names

HOME = (52.6702, -0.7321)
ELSEWHERE = (52.70, -0.70)  # a few km away
WINDOWS = [{"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "start": "19:00", "end": "07:00"}]


def curfew(at: tuple[float, float]) -> dict:
    return {"id": "C1", "type": "curfew", "technology": "rf", "windows": WINDOWS,
            "address": {"lat": at[0], "lon": at[1], "radius_m": 30}}  # fmt: skip


UNMONITORED_ZONE = {"id": "C2", "type": "exclusion_zone", "monitored": False, "name": "Town centre",
                    "area": {"lat": 52.63, "lon": -1.13, "radius_m": 200}}  # fmt: skip


def monitored_person(name: str, personas, *extra: dict) -> Person:
    """Someone with a curfew at HOME, their tag fitted and heard from: "Compliant", so only a warning can
    put them on the list."""
    p = Person.objects.create(ref=name, name=name, practitioner=personas["practitioner"])
    today = local_today()
    o = Order.objects.create(
        person=p, ref="O1", type="community_order", start=today - timedelta(days=10), end=today + timedelta(days=100)
    )
    for pos, spec in enumerate([curfew(HOME), *extra]):
        Condition.objects.create(order=o, ref=spec["id"], type=spec["type"], spec=spec, position=pos)
    fit(p, "rf")
    return p


def assess(person: Person, personas, at: tuple[float, float], suitability: str = "suitable") -> ProposedAddress:
    a = services.start(person, ProposalType.COMMUNITY_ORDER, "Assault", personas["practitioner"])
    return ProposedAddress.objects.create(
        assessment=a, label="14 Mill Lane", lat=at[0], lon=at[1], suitability=suitability,
        not_suitable_reason="children in the household" if suitability == "not_suitable" else "",
    )  # fmt: skip


def expected_by_python() -> list[str]:
    """The list as "Needs attention" used to work it out: everyone's findings, in Python."""
    today = local_today()
    people = list(Person.objects.prefetch_related("orders__conditions", "assessments__addresses"))
    statuses = monitoring_statuses(people)

    def needs(p: Person) -> bool:
        current = sorted((o for o in p.orders.all() if o.end >= today), key=lambda o: o.end)
        ending = bool(current) and (current[0].end - today).days <= 14
        warned = any(f.severity == Severity.WARNING for o in current for f in o.findings())
        return statuses[p.pk][0] != MonitoringStatus.COMPLIANT or ending or warned

    return sorted(p.name for p in people if needs(p))


def attention(personas) -> list[str]:
    return names(client_for(personas["operator"]).get("/cases/?attention=1").content.decode())


@pytest.fixture
def people(personas, monkeypatch):
    monkeypatch.setattr(paging, "PER_PAGE", 100)
    out = {
        "unassessed": monitored_person("Ann Unassessed", personas),
        "unsuitable": monitored_person("Ben Unsuitable", personas),
        "rule": monitored_person("Cal Zone", personas, UNMONITORED_ZONE),
        "fine": monitored_person("Dee Fine", personas),
        "fine2": monitored_person("Eve Fine", personas),
    }
    assess(out["unassessed"], personas, ELSEWHERE)
    assess(out["unsuitable"], personas, HOME, "not_suitable")
    assess(out["fine"], personas, HOME)
    return out


@pytest.mark.django_db
def test_needs_attention_is_who_has_each_kind_of_warning_as_worked_out_afresh(people, personas):
    shown = attention(personas)
    assert shown == expected_by_python()
    assert {"Ann Unassessed", "Ben Unsuitable", "Cal Zone"} <= set(shown)
    assert "Dee Fine" not in shown and "Eve Fine" not in shown  # compliant, no warning
    counts = dict(Order.objects.values_list("person__name", "warning_count"))
    assert counts["Ann Unassessed"] == counts["Ben Unsuitable"] == counts["Cal Zone"] == 1
    page = client_for(personas["operator"]).get("/cases/").content.decode()
    assert page.count("1 to check") == 3  # the rows' counts are the stored ones


@pytest.mark.django_db
def test_editing_a_condition_or_an_assessment_moves_people_on_and_off_the_list(people, personas):
    # The curfew moved to the unassessed address: flagged; back home: not.
    cond = Condition.objects.get(order__person=people["fine"], ref="C1")
    cond.spec = curfew(ELSEWHERE)
    cond.save()
    assert "Dee Fine" in attention(personas)
    cond.spec = curfew(HOME)
    cond.save()
    assert "Dee Fine" not in attention(personas)
    # The unmonitored zone removed from the order: no warning left.
    Condition.objects.get(order__person=people["rule"], ref="C2").delete()
    assert "Cal Zone" not in attention(personas)
    # An assessment of somewhere else, added for someone never assessed: their curfew's address was not.
    assert "Eve Fine" not in attention(personas)
    address = assess(people["fine2"], personas, ELSEWHERE)
    assert "Eve Fine" in attention(personas)
    # Found the curfew's address after all, not suitable: still flagged; suitable: not.
    address.lat, address.lon, address.suitability = *HOME, "not_suitable"
    address.save()
    assert "Eve Fine" in attention(personas)
    address.suitability = "suitable"
    address.save()
    assert "Eve Fine" not in attention(personas)
    # The not-suitable assessment deleted: nothing on record to compare with, no warning.
    Assessment.objects.filter(person=people["unsuitable"]).delete()
    assert "Ben Unsuitable" not in attention(personas)
    people["unassessed"].delete()  # with their orders, conditions and assessments
    assert "Ann Unassessed" not in attention(personas)
    assert attention(personas) == expected_by_python()


@pytest.mark.django_db
def test_orders_and_conditions_loaded_in_bulk_are_counted(personas):
    p = Person.objects.create(ref="bulk", name="Fay Bulk")
    assess(p, personas, ELSEWHERE)
    today = local_today()
    [o] = Order.objects.bulk_create([Order(person=p, ref="O1", type="community_order", start=today, end=today)])
    Condition.objects.bulk_create([Condition(order=o, ref="C1", type="curfew", spec=curfew(HOME))])
    o.refresh_from_db()
    print([f.message for f in o.findings()])
    assert o.warning_count == 1 == o.count_warnings()
    Condition.objects.filter(order=o).update(spec=curfew(ELSEWHERE))
    o.refresh_from_db()
    assert o.warning_count == 0 == o.count_warnings()  # the curfew is now at the assessed address
    # Location monitoring ending with the order; the order extended by a queryset update: it now lapses.
    Condition.objects.filter(order=o).update(type="trail", spec={"id": "C1", "type": "trail", "end": str(today)})
    o.refresh_from_db()
    assert o.warning_count == 0 == o.count_warnings()
    Order.objects.filter(pk=o.pk).update(end=today + timedelta(days=30))
    o.refresh_from_db()
    assert o.warning_count == 1 == o.count_warnings()


@pytest.mark.django_db
def test_needs_attention_makes_as_many_queries_for_50_people_as_for_5(personas, monkeypatch):
    monkeypatch.setattr(paging, "PER_PAGE", 100)
    for i in range(5):
        p = monitored_person(f"Small {i:02d}", personas, UNMONITORED_ZONE)
    c = client_for(personas["operator"])

    def cost() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert c.get("/cases/?attention=1").status_code == 200
        return len(ctx.captured_queries)

    small = cost()
    for i in range(5, 50):
        p = monitored_person(f"Big {i:02d}", personas, UNMONITORED_ZONE if i % 2 else curfew(HOME) | {"id": "C2"})
        if i % 3 == 0:
            assess(p, personas, ELSEWHERE)
    assert cost() == small


@pytest.mark.django_db
def test_the_migration_counts_the_warnings_of_orders_already_made(people):
    """Orders made before the count was kept get it from the data migration."""
    import importlib

    from django.apps import apps

    fill = importlib.import_module("openem.cases.migrations.0005_order_warning_count").fill
    before = dict(Order.objects.values_list("pk", "warning_count"))
    Order.objects.bulk_update([Order(pk=pk, warning_count=0) for pk in before], ["warning_count"])
    assert not Order.objects.filter(warning_count__gt=0).exists()
    fill(apps, None)
    assert dict(Order.objects.values_list("pk", "warning_count")) == before
    assert sum(before.values()) == 3
