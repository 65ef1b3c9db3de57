"""Retention: trails go a set time after the last order ends, unless held for proceedings."""

from __future__ import annotations

import json
from datetime import date, timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from openem.audit.models import AuditEvent
from openem.cases.models import Order
from openem.telemetry.ingest import ingest_jsonl
from openem.telemetry.models import Reading, RejectedReading, TrailBlock
from openem.telemetry.retention import enforce


def load(case):
    ingest_jsonl(
        "\n".join(
            [
                json.dumps(
                    {"device": "GPS-0001", "time": "2026-11-10T12:00:00Z", "type": "fix", "lat": 52.67, "lon": -0.73}
                ),
                json.dumps({"device": "RF-0001", "time": "2026-11-10T12:00:00Z", "type": "rf", "in_range": True}),
                "{broken",
            ]
        )
    )


@pytest.mark.django_db
def test_data_of_an_active_order_is_kept(case):
    load(case)
    assert enforce(today=date(2027, 3, 1)).readings == 0
    assert Reading.objects.count() == 2


@pytest.mark.django_db
def test_trails_go_twelve_months_after_the_last_order_ends_unless_held(case):
    load(case)
    Order.objects.filter(person=case).update(end=date(2026, 12, 31))
    assert enforce(today=date(2027, 12, 1)).readings == 0  # eleven months on: kept
    case.held_for_proceedings = True
    case.save()
    held = enforce(today=date(2028, 2, 1))
    assert (held.readings, held.held) == (0, 1)
    case.held_for_proceedings = False
    case.save()
    out = StringIO()
    call_command("retention", "--dry-run", stdout=out)
    assert Reading.objects.count() == 2
    done = enforce(today=date(2028, 2, 1))
    assert done.readings == 2 and Reading.objects.count() == 0 and not TrailBlock.objects.exists()
    assert AuditEvent.objects.filter(summary__startswith="retention: deleted 2 readings,").exists()


@pytest.mark.django_db
def test_rejected_readings_go_after_ninety_days(case):
    load(case)
    RejectedReading.objects.update(received=timezone.now() - timedelta(days=91))
    assert enforce().rejected == 1 and RejectedReading.objects.count() == 0
