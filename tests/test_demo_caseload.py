"""The demo caseload: big enough, varied enough, valid, and the same for the same seed."""

from __future__ import annotations

from collections import Counter
from io import StringIO

import pytest
from django.core.management import call_command

from openem.cases.models import Person
from openem.cases.rules import Severity, check_order
from openem.engine import casefile
from openem.engine.enums import ConditionType, OrderType
from openem.simulate.management.commands.demo_setup import demo_case_file

from .conftest import TODAY


@pytest.fixture(scope="module")
def demo():
    return demo_case_file(people=36, seed=1, today=TODAY)


def test_every_order_type_and_condition_kind_is_in_the_demo(demo):
    cf = casefile.parse(demo)
    assert len(cf.people) >= 30
    orders = [o for p in cf.people for o in p.orders]
    assert {o.type for o in orders} == set(OrderType)
    assert {c.type for o in orders for c in o.conditions} == set(ConditionType)
    assert any(c.type.is_zone and not c.monitored for o in orders for c in o.conditions)
    assert len({p.name for p in cf.people}) == len(cf.people), "names must not repeat on a caseload"
    for o in orders:
        assert [f for f in check_order(o) if f.severity == Severity.ERROR] == []
        assert o.start <= TODAY <= o.end, "every demo order is current"


def test_the_same_seed_gives_the_same_caseload(demo):
    assert demo_case_file(people=36, seed=1, today=TODAY) == demo
    assert demo_case_file(people=36, seed=2, today=TODAY) != demo


@pytest.mark.django_db
def test_demo_setup_prints_the_logins_and_is_idempotent():
    out = StringIO()
    # Without the week of readings here: loading and evaluating them is measured by the benchmarks.
    call_command("demo_setup", "--no-history", stdout=out)
    call_command("demo_setup", "--no-history", stdout=StringIO())
    text = out.getvalue()
    assert "Demo logins (password for all: openem-demo-2026)" in text
    assert "alex.practitioner" in text and "priya.police" in text
    assert Person.objects.count() == 36
    counts = Counter(Person.objects.values_list("practitioner__username", flat=True))
    assert counts == {"alex.practitioner": 18, "bea.practitioner": 18}


@pytest.mark.django_db
def test_demo_setup_loads_and_evaluates_the_week_so_far(settings, tmp_path):
    from openem.telemetry.models import Reading

    settings.DATA_DIR = tmp_path
    out = StringIO()
    call_command("demo_setup", "--people", "4", stdout=out)
    assert Reading.objects.count() > 5000
    assert "Loaded" in out.getvalue() and (tmp_path / "demo-history-until").exists()
    # Everything loaded was evaluated: the worker's cursor is at the end.
    from openem.telemetry.models import EngineCursor

    assert EngineCursor.objects.get().last_reading_id == Reading.objects.order_by("-id").first().id


@pytest.mark.django_db
def test_the_demos_reviews_say_what_the_record_says(settings, tmp_path):
    """No start-of-monitoring review before any tag was fitted; no "no concerns" after repeated breaches."""
    from datetime import timedelta

    from openem.alerts.models import Violation
    from openem.cases.models import Review

    settings.DATA_DIR = tmp_path
    call_command("demo_setup", "--people", "8", stdout=StringIO())
    reviews = list(Review.objects.select_related("order__person"))
    assert reviews
    for r in reviews:
        first = r.order.person.fittings.order_by("fitted_at").first()
        assert first is not None and first.fitted_at.date() <= r.held_on, r
        since = r.held_on - timedelta(days=28)
        breaches = Violation.objects.filter(
            person=r.order.person, category="behaviour", retracted=False, start__date__gt=since,
            start__date__lte=r.held_on,
        ).count()  # fmt: skip
        if breaches >= 2:
            assert "no concerns" not in r.summary, r.summary


@pytest.mark.django_db
def test_the_demo_has_assessments_at_every_stage():
    from openem.assessments.models import Assessment, Check

    call_command("demo_setup", "--no-history", stdout=StringIO())
    stages = sorted(Assessment.objects.values_list("status", flat=True))
    assert stages == ["decided", "draft", "draft"]
    from openem.cases.models import local_today

    assert Check.objects.overdue(local_today()).count() == 1  # the police check nobody has answered
    assert Assessment.objects.filter(addresses__suitability="not_suitable").exists()
    decided = Assessment.objects.get(status="decided", order__isnull=False)
    assert decided.chosen() and decided.rationale  # each suggestion answered, with the rationale
    # The victim liaison officer has a case: the victim's home and what she asked for are recorded.
    refused = Assessment.objects.get(addresses__suitability="not_suitable")
    assert refused.victim_views and refused.person.victim_places.count() == 1
