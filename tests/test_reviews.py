"""Supervision prompts at the start, during and at the end of monitoring, recorded as reviews."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.urls import reverse

from openem.cases.models import MonitoringStatus, Review, ReviewStage, monitoring_statuses, reviews_due
from tests.helpers import PERSONAS, client_for


@pytest.mark.django_db
def test_a_new_order_asks_for_the_start_review_then_one_every_four_weeks(personas, case):
    order = case.orders.get()  # 1 November 2026 to 30 April 2027
    (due,) = reviews_due(order, date(2026, 11, 3))
    assert due.stage == ReviewStage.START and due.due == date(2026, 11, 8)
    assert due.overdue(date(2026, 11, 23)) and "what counts as a breach" in due.prompts[0][1]
    Review.objects.create(order=order, stage=ReviewStage.START, held_on=date(2026, 11, 5), summary="s",
                          by=personas["practitioner"])  # fmt: skip
    (due,) = reviews_due(order, date(2026, 11, 23))
    assert due.stage == ReviewStage.DURING and due.due == date(2026, 12, 3)


@pytest.mark.django_db
def test_an_order_ending_soon_with_nothing_arranged_shows_on_my_cases(personas, case):
    from openem.telemetry.ingest import ingest_jsonl

    order = case.orders.get()
    order.end = date.today() + timedelta(days=10)
    order.save()
    order.conditions.filter(type="alcohol").update(removed_in_version=2)  # no alcohol tag needed
    stamp = f"{date.today().isoformat()}T00:00:00Z"
    ingest_jsonl(
        f'{{"device": "RF-0001", "time": "{stamp}", "type": "rf", "in_range": true}}\n'
        f'{{"device": "GPS-0001", "time": "{stamp}", "type": "fix", "lat": 52.67, "lon": -0.73, "accuracy_m": 5}}'
    )
    status, why = monitoring_statuses([case])[case.pk]
    assert status == MonitoringStatus.ENDING and why == ["O0001 ends in 10 days: end-of-monitoring review not recorded"]
    page = client_for(personas["practitioner"]).get(reverse("portal:cases"), {"status": "ending"}).content.decode()
    assert "Sam Example" in page and "Ending: nothing arranged" in page
    # The end-of-monitoring review is what was missing.
    Review.objects.create(order=order, stage=ReviewStage.END, held_on=date.today(), summary="Removal booked",
                          by=personas["practitioner"])  # fmt: skip
    assert monitoring_statuses([case])[case.pk][0] == MonitoringStatus.COMPLIANT


@pytest.mark.django_db
@pytest.mark.parametrize("persona", PERSONAS)
def test_who_may_record_a_review(persona, personas, case):
    expected = {"practitioner": 200, "other": 404, "manager": 200, "other_manager": 404,
                "operator": 403, "police": 403, "vlo": 403,
            "hub": 403, "hub_manager": 403, "analyst": 403, "admin": 403}  # fmt: skip
    url = reverse("portal:review-create", args=[case.orders.get().pk, "start"])
    assert client_for(personas[persona]).get(url).status_code == expected[persona]


@pytest.mark.django_db
def test_recording_the_start_review_from_the_person_page(personas, case):
    c = client_for(personas["practitioner"])
    person_page = c.get(reverse("portal:person", args=[case.pk])).content.decode()
    assert "Start of monitoring review" in person_page and "overdue since" in person_page
    url = reverse("portal:review-create", args=[case.orders.get().pk, "start"])
    r = c.post(url, {"held_on": "2099-01-01", "summary": ""})
    body = r.content.decode()
    assert r.status_code == 200 and "cannot be in the future" in body and "This field is required" in body
    r = c.post(
        url,
        {"held_on": "2026-11-04", "summary": "Explained the tag; curfew fits his shifts.",
         "note_impact": "Partner worried about visitors after 7pm.", "risk_plan_updated": "on"},
    )  # fmt: skip
    assert r.status_code == 302
    review = Review.objects.get()
    assert review.stage == "start" and review.notes == {"impact": "Partner worried about visitors after 7pm."}
    assert review.risk_plan_updated and not review.sentence_plan_updated
    page = c.get(reverse("portal:person", args=[case.pk])).content.decode()
    assert "Partner worried about visitors" in page and "During supervision review" in page
    assert "Start of monitoring review" in page  # in the timeline now
