"""My cases says "Compliant" only when it is: a breach that has ended, but that nobody has acknowledged or
decided on, keeps the case at the top of the list with the reason on the row."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from openem.alerts.models import ClearReason, Incident, Violation
from openem.alerts.worker import AlertsWorker
from openem.cases.models import MonitoringStatus, monitoring_statuses
from openem.devices.models import Device, Fitting
from openem.uktime import duration, when

from .helpers import client_for


@pytest.fixture
def fitted(case):
    """Sam Example with every tag the order needs fitted, and recent data from each."""
    tag = Device.objects.create(ref="ALC-0001", kind="alcohol")
    Fitting.objects.create(device=tag, person=case, fitted_at=timezone.now() - timedelta(days=30))
    Violation.objects.filter(person=case).delete()
    from openem.telemetry import deadlines
    from openem.telemetry.models import Reading

    for ref, kind in (("RF-0001", "rf"), ("GPS-0001", "gps"), ("ALC-0001", "alcohol")):
        Reading.objects.create(device=ref, t=timezone.now(), type="power", payload={}, digest=ref, source="file")
        deadlines.touch({ref: (timezone.now().timestamp(), kind)})  # as ingest does with what it stores
    return case


def zone_entry(person, minutes_ago: int, lasted: int = 3) -> Violation:
    start = timezone.now() - timedelta(minutes=minutes_ago)
    return Violation.objects.create(
        key=f"ez-{minutes_ago}", person=person, order_ref="O0001", condition_ref="C2", device="GPS-0001",
        type="exclusion_zone_entry", category="behaviour", start=start, end=start + timedelta(minutes=lasted),
    )  # fmt: skip


def status(person) -> tuple[MonitoringStatus, list[str]]:
    return monitoring_statuses([person])[person.pk]


@pytest.mark.django_db
def test_a_breach_that_ended_minutes_ago_is_not_compliant_until_dealt_with(fitted, personas) -> None:
    assert status(fitted)[0] == MonitoringStatus.COMPLIANT
    v = zone_entry(fitted, minutes_ago=8)
    # Stored moments ago, not yet an incident: already not "Compliant".
    assert status(fitted) == (
        MonitoringStatus.NOT_ACKNOWLEDGED, [f"Exclusion zone entry {when(v.start)}, not acknowledged"]
    )  # fmt: skip
    AlertsWorker("t").cycle()
    incident = Incident.objects.get(person=fitted, kind="behaviour")
    state, why = status(fitted)
    assert state == MonitoringStatus.NOT_ACKNOWLEDGED and why[0].endswith(f"{when(v.start)}, not acknowledged")

    page = client_for(personas["practitioner"]).get(reverse("portal:cases"), {"attention": "1"}).content.decode()
    assert "Sam Example" in page and "Breach not acknowledged" in page and "not acknowledged" in page
    compliant = client_for(personas["practitioner"]).get(reverse("portal:cases"), {"status": "compliant"})
    assert "Sam Example" not in compliant.content.decode()

    incident.acknowledge(personas["practitioner"])
    state, why = status(fitted)
    assert state == MonitoringStatus.INCIDENT_OPEN and why[0].endswith("acknowledged: no decision recorded")

    incident.refresh_from_db()
    incident.clear(personas["practitioner"], ClearReason.DEALT_WITH, "spoken to")
    assert status(fitted) == (MonitoringStatus.RECENT_VIOLATIONS, [f"Exclusion zone entry {when(v.start)}"])


@pytest.mark.django_db
def test_breaches_dealt_with_over_a_week_ago_leave_the_case_compliant(fitted) -> None:
    zone_entry(fitted, minutes_ago=60 * 24 * 8)  # eight days ago, dealt with: not recent any more
    Violation.objects.update(triage_pending=False)
    assert status(fitted)[0] == MonitoringStatus.COMPLIANT


def test_durations_and_times_read_as_people_write_them() -> None:
    assert duration(59) == "0 minutes"
    assert duration(60) == "1 minute"
    assert duration(3600) == "1 hour"
    assert duration(9 * 3600 + 5 * 60) == "9 hours 5 minutes"
    assert duration(2 * 86400 + 3600) == "2 days 1 hour"
    now = timezone.now()
    assert when(now, now) == timezone.localtime(now).strftime("%H:%M")
    assert when(now - timedelta(days=400), now).endswith(
        timezone.localtime(now - timedelta(days=400)).strftime("%Y %H:%M")
    )
