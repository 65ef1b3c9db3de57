"""Curfew absences in full: what kind of absence it was and how long it lasted, in the same words on the
person page, the incident page and the trail."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.urls import reverse

from openem.alerts.models import Violation
from openem.telemetry.ingest import ingest_jsonl
from openem.telemetry.worker import EngineWorker

from .conftest import rf
from .helpers import client_for, zone_crossing


@pytest.mark.django_db
def test_an_absence_says_what_kind_and_how_long_everywhere(personas, incident) -> None:
    """Sam left at 20:00 during his 19:00 curfew; at 22:35 he is not back. Then he comes home at 23:00."""
    v = Violation.objects.get(type="curfew_absence")
    assert v.detail == "left during the curfew, not back yet"
    assert v.lasted.startswith("ongoing, ")
    ingest_jsonl("\n".join(rf(23, m, True) for m in (0, 30)))
    EngineWorker("t").cycle(now=datetime(2026, 11, 10, 23, 35, tzinfo=UTC))
    v.refresh_from_db()
    assert (v.detail, v.lasted) == ("left and came back during the curfew", "3 hours")
    c = client_for(personas["practitioner"])
    person = c.get(reverse("portal:person", args=[incident.person.pk])).content.decode()
    assert "left and came back during the curfew" in person and "3 hours" in person
    page = c.get(reverse("alerts:incident", args=[incident.pk])).content.decode()
    assert "left and came back during the curfew" in page and "3 hours" in page


@pytest.mark.django_db
def test_the_trail_lists_pass_throughs_as_the_person_page_does(personas, case) -> None:
    v = zone_crossing(case)
    Violation.objects.filter(pk=v.pk).update(evidence={"device": "GPS-0001", "pass_through": True})
    c = client_for(personas["practitioner"])
    person = c.get(reverse("portal:person", args=[case.pk])).content.decode()
    assert "passed through without stopping" in person
    trail = c.get(
        reverse("portal:trail", args=[case.pk]),
        {"start": "2026-11-10T08:00", "end": "2026-11-10T11:00", "reason": "supervision"},
    ).content.decode()
    assert "passed through without stopping" in trail and "10 minutes" in trail


@pytest.mark.django_db
def test_the_timeline_is_in_the_order_things_happened(personas, incident) -> None:
    """The absence began at 20:00 on 10 November; the alerts worker opened its incident later (history
    loaded at once is triaged long after). The alert sits with the absence, not at the time of triage."""
    from django.utils import timezone

    from openem.alerts.models import Incident
    from openem.portal.presenters import timeline

    Incident.objects.filter(pk=incident.pk).update(opened=timezone.now())
    events = timeline(incident.person)
    titles = [e["title"] for e in events]
    absence = titles.index("Curfew absence")
    alert = next(i for i, t in enumerate(titles) if t.startswith("Alert: Curfew absence"))
    assert alert == absence - 1  # newest first: the alert it raised just above the absence
    times = [e["at"] for e in events]
    assert times == sorted(times, reverse=True)


@pytest.mark.django_db
def test_the_alcohol_chart_has_axes_day_ticks_and_a_mark_for_each_day(personas, case) -> None:
    """Three days of half-hourly readings from Sam's alcohol tag with a drinking episode on the second
    evening: the chart marks day one sober, day two drinking, and labels the days and the scale."""
    import json
    from datetime import timedelta

    from openem.devices.models import Device, Fitting

    tag = Device.objects.create(ref="ALC-0001", kind="alcohol")
    Fitting.objects.create(device=tag, person=case, fitted_at=datetime(2026, 11, 1, 23, tzinfo=UTC))
    t0 = datetime(2026, 11, 2, 0, 0, tzinfo=UTC)
    lines = []
    for k in range(3 * 48):
        t = t0 + timedelta(minutes=30 * k)
        tac = 0.05 if 48 + 38 <= k <= 48 + 44 else 0.0  # 19:00-22:00 on 3 November
        lines.append(json.dumps({"device": "ALC-0001", "time": t.isoformat().replace("+00:00", "Z"),
                                 "type": "alcohol", "tac_g_dl": tac}))  # fmt: skip
    ingest_jsonl("\n".join(lines))
    Violation.objects.create(
        key="drink", person=case, order_ref="O0001", condition_ref="C6", device="ALC-0001",
        type="alcohol_confirmed", category="behaviour", start=datetime(2026, 11, 3, 19, tzinfo=UTC),
        end=datetime(2026, 11, 3, 22, tzinfo=UTC), evidence={"device": "ALC-0001", "peak_g_dl": 0.05},
    )  # fmt: skip
    from openem.portal.presenters import alcohol_charts

    (chart,) = alcohol_charts(case)
    states = {d["label"]: d["state"] for d in chart["days"]}
    assert states["Mon 2"] == "sober" and states["Tue 3"] == "drinking"
    page = client_for(personas["practitioner"]).get(reverse("portal:person", args=[case.pk])).content.decode()
    assert "app-chart__day--drinking" in page and "app-chart__day--sober" in page
    assert ">Tue 3<" in page and "g/dl" in page and "0.02 g/dl: drinking" in page
