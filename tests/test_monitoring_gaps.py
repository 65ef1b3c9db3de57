"""A monitoring gap is a risk, not a chore: a flat battery, lost signal or tag not fitted is rated by
what it stops being monitored, told to the practitioner as well as the centre when it leaves a victim's
protection or a high-risk person's curfew unwatched, and a tag left unfitted escalates day by day."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail

from openem.alerts.models import Incident, Violation
from openem.alerts.worker import AlertsWorker
from openem.cases.models import Condition, Person
from openem.devices.models import Device

T0 = datetime(2026, 11, 10, 10, 15, tzinfo=UTC)


def gap(person: Person, type_: str, device: str, start: datetime, key: str = "gap", **evidence: str) -> Violation:
    return Violation.objects.create(
        key=key, person=person, order_ref="O0001", device=device, type=type_, category="equipment", start=start,
        evidence={"device": device, **evidence},
    )  # fmt: skip


def told(user) -> list[str]:
    return [m.subject for m in mail.outbox if user.email in m.to]


@pytest.mark.django_db
def test_a_high_risk_persons_dead_gps_tag_with_a_victim_zone_is_high_and_goes_to_the_practitioner(case, personas):
    """Sam (RoSH high, domestic abuse) has an exclusion zone round the victim's street: his GPS tag going
    flat leaves it unwatched."""
    Condition.objects.filter(order__person=case, ref="C2").update(
        spec={**Condition.objects.get(order__person=case, ref="C2").spec, "victim_sensitive": True}
    )
    gap(case, "battery_depleted", "GPS-0001", T0, last_battery_pct="2")
    AlertsWorker("t").cycle(now=T0 + timedelta(minutes=5))
    incident = Incident.objects.get(person=case, kind="equipment")
    assert incident.severity == "high" and incident.notified
    assert told(personas["practitioner"]) and told(personas["operator"])
    # How long nobody has seen where he is, in words.
    assert "not monitored since" in incident.headline and incident.headline.endswith(")")
    assert "Battery depleted: not monitored since" in told(personas["practitioner"])[0]


@pytest.mark.django_db
def test_a_low_risk_persons_alcohol_tag_silent_is_the_centres_work_only(case, personas):
    Person.objects.filter(pk=case.pk).update(rosh="low", mappa_level=None, flags=[])
    Device.objects.create(ref="ALC-0001", kind="alcohol")
    gap(case, "no_signal", "ALC-0001", T0)
    AlertsWorker("t").cycle(now=T0 + timedelta(minutes=5))
    incident = Incident.objects.get(person=case, kind="equipment")
    assert incident.severity == "low" and incident.delivery == "queue"
    assert not told(personas["practitioner"])


@pytest.mark.django_db
def test_a_tag_not_fitted_escalates_day_by_day(case, personas):
    """A low-risk person's alcohol tag not fitted: medium on the day, high the next (the practitioner is
    told then, though nothing about the violation changed), critical the day after."""
    Person.objects.filter(pk=case.pk).update(rosh="low", mappa_level=None, flags=[])
    Violation.objects.filter(person=case).delete()
    gap(case, "not_fitted", "", T0, device_kind="alcohol")
    worker = AlertsWorker("t")
    worker.cycle(now=T0 + timedelta(hours=1))
    incident = Incident.objects.get(person=case, kind="equipment")
    assert incident.severity == "medium" and not told(personas["practitioner"])
    worker.cycle(now=T0 + timedelta(days=1, hours=1))
    incident.refresh_from_db()
    assert incident.severity == "high" and len(told(personas["practitioner"])) == 1
    worker.cycle(now=T0 + timedelta(days=2, hours=1))
    incident.refresh_from_db()
    assert incident.severity == "critical"
    assert len(told(personas["practitioner"])) == 1  # told once, not every time it is re-rated


@pytest.mark.django_db
def test_a_tamper_by_a_high_risk_person_is_sent_at_once(case, personas):
    Violation.objects.create(
        key="strap", person=case, order_ref="O0001", device="GPS-0001", type="tamper", category="behaviour",
        start=T0, evidence={"device": "GPS-0001", "kind": "strap"},
    )  # fmt: skip
    AlertsWorker("t").cycle(now=T0 + timedelta(minutes=1))
    incident = Incident.objects.get(person=case, kind="behaviour")
    assert incident.severity == "critical" and incident.delivery == "immediate"
    assert told(personas["practitioner"])


@pytest.mark.django_db
def test_a_tag_fitted_late_keeps_its_not_fitted_violation_after_the_day_is_over(case):
    """Sam's alcohol condition began on 1 November with no tag; one was fitted on the 3rd. The days he was
    not monitored stay on the record: a week later the violation is still there, closed at the fitting, not
    withdrawn because it ended more than a day ago."""
    from openem.devices.models import Fitting
    from openem.telemetry.worker import EngineWorker

    worker = EngineWorker("checks")
    worker.checks(now=datetime(2026, 11, 2, 12, 0, tzinfo=UTC))
    gap_ = Violation.objects.get(person=case, type="not_fitted", evidence__device_kind="alcohol")
    assert gap_.end is None and not gap_.retracted
    fitted = datetime(2026, 11, 3, 10, 0, tzinfo=UTC)
    Fitting.objects.create(device=Device.objects.create(ref="ALC-0001", kind="alcohol"), person=case, fitted_at=fitted)
    worker.cases_changed()  # as after CASE_CHECK_S
    worker.checks(now=datetime(2026, 11, 3, 12, 0, tzinfo=UTC))
    gap_.refresh_from_db()
    assert gap_.end == fitted and not gap_.retracted
    worker.checks(now=datetime(2026, 11, 10, 12, 0, tzinfo=UTC))
    gap_.refresh_from_db()
    assert gap_.end == fitted and not gap_.retracted
