"""A tag taken off one person and fitted to another is routine: each wearer is evaluated in their own
period, and nothing one wearer did or left open is put on, or hides anything from, the other."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from openem.alerts.models import Violation
from openem.cases.casefile_io import import_casefile
from openem.cases.models import Person
from openem.devices.models import Fitting
from openem.engine import casefile
from openem.health.models import Fault, FaultKind
from openem.telemetry.ingest import ingest_jsonl
from openem.telemetry.worker import EngineWorker

from ..conftest import example
from ..helpers import second_postgresql_connection


def at(day: int, h: int, m: int = 0) -> datetime:
    return datetime(2026, 11, day, h, m, tzinfo=UTC)


def rf(day: int, h: int, in_range: bool) -> str:
    return json.dumps(
        {"device": "RF-0001", "time": f"2026-11-{day:02d}T{h:02d}:00:00Z", "type": "rf", "in_range": in_range}
    )


def out_from_20(day: int) -> str:
    """Home at 18:00 and 19:00, out from 20:00 to 22:00 (a curfew from 19:00)."""
    return "\n".join(rf(day, h, h < 20) for h in range(18, 23))


@pytest.fixture
def two_people(personas: dict[str, Any]) -> tuple[Person, Person]:
    """Ann wears RF-0001 from 1 November; Bo has the same curfew and no tag yet."""
    data = example()
    ann = data["people"][0]
    ann["name"] = "Ann First"
    ann["devices"] = [{"id": "RF-0001", "kind": "rf", "fitted": "2026-11-01T15:00:00Z", "removed": None}]
    bo = json.loads(json.dumps(ann))
    bo.update(id="P0002", name="Bo Second", devices=[])
    bo["orders"][0]["id"] = "O0002"
    data["people"].append(bo)
    import_casefile(casefile.parse(data), None, "test")
    return Person.objects.get(ref="P0001"), Person.objects.get(ref="P0002")


def stored(type_: str) -> set[tuple[str, datetime, datetime | None]]:
    return {
        (v.person.ref, v.start, v.end)
        for v in Violation.objects.filter(type=type_, retracted=False).select_related("person")
    }


@pytest.mark.django_db
def test_a_tag_handed_on_is_evaluated_for_each_wearer_in_their_own_period(two_people) -> None:
    _ann, bo = two_people
    worker = EngineWorker("t")
    ingest_jsonl(out_from_20(4))
    worker.cycle(now=at(4, 23))
    # The tag comes off Ann on the 5th at 10:00 and goes on Bo the same morning.
    fitting = Fitting.objects.get(device__ref="RF-0001")
    fitting.removed_at = at(5, 10)
    fitting.save()
    Fitting.objects.create(device=fitting.device, person=bo, fitted_at=at(5, 10, 30))
    worker.cases_changed()
    ingest_jsonl(out_from_20(10))
    worker.cycle(now=at(10, 23))

    absences = stored("curfew_absence")
    assert ("P0001", at(4, 20), at(4, 22)) in absences  # Ann's night out stays Ann's
    assert ("P0002", at(10, 20), None) in absences  # Bo's night out is Bo's
    silences = stored("no_signal")
    # Ann's tag went quiet at 22:00 on the 4th and was taken off at 10:00 on the 5th: her silence ends
    # with her fitting, and nothing after it is hers.
    assert ("P0001", at(4, 22), at(5, 10)) in silences
    assert not any(who == "P0001" and (end is None or end > at(5, 10)) for who, _s, end in silences)

    # Bo's tag goes quiet after 22:00 on the 10th: the deadline check finds it, though Ann had a
    # silence on the same tag (an open one for an earlier wearer once hid the new wearer's).
    worker.cycle(now=at(11, 3))
    assert ("P0002", at(10, 22), None) in stored("no_signal")


@pytest.mark.django_db
def test_overlapping_fitting_records_do_not_stop_evaluation(two_people) -> None:
    """The tag is recorded on Bo from 09:30 while Ann's removal is recorded at 10:00 (or not at all): the
    records disagree, an operational alert says so, and both are evaluated as if it was handed on at
    09:30. Everyone else's monitoring goes on (once, every cycle failed)."""
    _ann, bo = two_people
    fitting = Fitting.objects.get(device__ref="RF-0001")
    fitting.removed_at = at(5, 10)
    fitting.save()
    Fitting.objects.create(device=fitting.device, person=bo, fitted_at=at(5, 9, 30))
    ingest_jsonl(out_from_20(4) + "\n" + out_from_20(10))
    EngineWorker("t").cycle(now=at(10, 23))

    absences = stored("curfew_absence")
    assert ("P0001", at(4, 20), at(4, 22)) in absences
    assert ("P0002", at(10, 20), None) in absences
    fault = Fault.objects.open().get(kind=FaultKind.FITTINGS_OVERLAP.value)
    assert fault.device == "RF-0001"
    assert "Ann First" in fault.summary and "Bo Second" in fault.summary
    assert "handed on" in fault.summary

    # Corrected, the alert closes by itself.
    fitting.removed_at = at(5, 9, 30)
    fitting.save()
    EngineWorker("t").cycle(now=at(10, 23))
    assert not Fault.objects.open().filter(kind=FaultKind.FITTINGS_OVERLAP.value).exists()


@pytest.mark.django_db
def test_no_silence_is_judged_while_the_receivers_have_just_restarted(two_people) -> None:
    """After the receiver restarts, the gateways' buffered readings are still on their way: a tag last
    heard two hours ago is not taken for silent (once, a whole area's tags were, and an area outage was
    raised from a backlog being caught up) until the receiver has been listening longer than the limit."""
    from datetime import timedelta

    from django.utils import timezone

    from openem.health.models import Component, Heartbeat

    now = timezone.now().replace(microsecond=0)
    heard = now - timedelta(hours=2)
    ingest_jsonl(
        json.dumps({"device": "RF-0001", "time": heard.isoformat().replace("+00:00", "Z"), "type": "rf",
                    "in_range": True})
    )  # fmt: skip
    beat = Heartbeat.objects.create(
        name="ingest 1", component=Component.INGEST.value, started_at=now - timedelta(minutes=10), beat_at=now
    )
    worker = EngineWorker("t")
    assert worker.silent_devices(now.timestamp(), exclude=set()) == []
    # Listening for longer than the limit (75 minutes for a home unit) and still nothing: silent.
    Heartbeat.objects.filter(pk=beat.pk).update(started_at=now - timedelta(minutes=80))
    assert worker.silent_devices(now.timestamp(), exclude=set()) == ["RF-0001"]


@pytest.mark.django_db(transaction=True)
def test_a_reading_that_commits_after_a_later_one_is_still_evaluated(two_people) -> None:
    """PostgreSQL hands out ids before commit: a slow transaction's reading can commit after a later id
    has been read. The engine worker watches the ids it skipped and evaluates what commits in them."""

    from openem.telemetry.models import Reading

    other = second_postgresql_connection()
    try:
        # The slow sender's reading: Ann out at 20:00 (a curfew absence), id taken, not yet committed.
        other.execute(
            f"INSERT INTO {Reading._meta.db_table} (device, t, type, seq, payload, digest, received, source, batch) "
            "VALUES ('RF-0001', %s, 'rf', NULL, %s::jsonb, 'slow', now(), 'http', 'slow')",
            [at(4, 20), json.dumps({"device": "RF-0001", "time": "2026-11-04T20:00:00Z", "type": "rf",
                                    "in_range": False})],
        )  # fmt: skip
        # Later ids, committed first: home every half hour from 19:00 to 23:00 except at 20:00.
        ingest_jsonl(
            "\n".join(
                json.dumps({"device": "RF-0001", "time": f"2026-11-04T{h:02d}:{m:02d}:00Z", "type": "rf",
                            "in_range": True})
                for h in range(19, 23) for m in (0, 30) if (h, m) != (20, 0)
            )
        )  # fmt: skip
        worker = EngineWorker("t")
        worker.cycle(now=at(4, 22, 45))
        assert not stored("curfew_absence")
        other.commit()
        worker.cycle(now=at(4, 22, 46))
        assert [(who, start) for who, start, _end in stored("curfew_absence")] == [("P0001", at(4, 20))]
    finally:
        other.close()
