"""Supervision reviews dated as they could have been held: within the order's dates and not in the
future, tried by posting the dates a careless or dishonest record would carry."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.urls import reverse

from openem.cases.models import Review, local_today
from tests.helpers import client_for


@pytest.mark.django_db
def test_a_review_dated_outside_the_order_or_in_the_future_is_refused(personas, case):
    order = case.orders.get()  # 1 November 2026 to 30 April 2027
    url = reverse("portal:review-create", args=[order.pk, "start"])
    c = client_for(personas["practitioner"])
    tomorrow = local_today() + timedelta(days=1)
    refused = {
        "1900-01-01": f"The review (1 January 1900) is before the order {order.ref} started on 1 November 2026",
        "2026-10-31": f"The review (31 October 2026) is before the order {order.ref} started on 1 November 2026",
        tomorrow.isoformat(): "The review cannot be in the future",
        "2099-01-01": "The review cannot be in the future",
    }
    for held_on, message in refused.items():
        r = c.post(url, {"held_on": held_on, "summary": "Went through the conditions."})
        assert r.status_code == 200 and message in r.content.decode(), held_on
    assert not Review.objects.exists()
    # The order's first day is a good date, and so is today.
    for held_on in ("2026-11-01", local_today().isoformat()):
        assert c.post(url, {"held_on": held_on, "summary": "Went through the conditions."}).status_code == 302
    assert sorted(r.held_on for r in Review.objects.all()) == sorted({date(2026, 11, 1), local_today()})


@pytest.mark.django_db
def test_a_review_after_the_order_ended_is_refused(personas, case):
    order = case.orders.get()
    order.end = date(2026, 11, 20)
    order.save()
    url = reverse("portal:review-create", args=[order.pk, "end"])
    c = client_for(personas["practitioner"])
    r = c.post(url, {"held_on": "2026-11-21", "summary": "Tag removed."})
    ended = f"The review (21 November 2026) is after the order {order.ref} ended on 20 November 2026"
    assert r.status_code == 200 and ended in r.content.decode()
    assert c.post(url, {"held_on": "2026-11-20", "summary": "Tag removed."}).status_code == 302
    assert Review.objects.get().held_on == date(2026, 11, 20)
