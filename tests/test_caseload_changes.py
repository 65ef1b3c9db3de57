"""The engine worker follows case changes one person at a time: an order varied, a fitting edited or a case
imported is recompiled alone, and that person's devices are evaluated again with it at once."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import transaction

from openem.alerts.models import Violation
from openem.devices.models import Device, Fitting
from openem.telemetry.models import CaseChange
from openem.telemetry.worker import EngineWorker
from tests.conftest import NIGHT

pytestmark = pytest.mark.django_db


def _absences(device: str = "RF-0001") -> list[Violation]:
    return list(Violation.objects.filter(device=device, type="curfew_absence", retracted=False).order_by("start"))


@pytest.fixture
def compiled(monkeypatch):
    """Which people each compile was asked for (None: everyone)."""
    calls: list[set[int] | None] = []
    real = EngineWorker._compile

    def spy(self, only=None):
        calls.append(None if only is None else set(only))
        return real(self, only)

    monkeypatch.setattr(EngineWorker, "_compile", spy)
    return calls


def test_an_edited_fitting_time_is_applied_and_only_that_person_recompiled(night, compiled):
    from openem.cases.models import Person

    other = Person.objects.create(ref="P0099", name="Another Person")
    worker = EngineWorker("t")
    worker.cycle(now=NIGHT)
    assert compiled == [None]
    assert [v.start for v in _absences()] == [datetime(2026, 11, 10, 20, 0, tzinfo=UTC)]
    # The fitting was recorded wrongly: the home unit was in fact fitted at 21:10 that evening.
    fitting = Fitting.objects.get(device__ref="RF-0001")
    fitting.fitted_at = datetime(2026, 11, 10, 21, 10, tzinfo=UTC)
    fitting.save()
    worker.cases_changed()
    worker.cycle(now=NIGHT)  # no new reading: the change alone has the device evaluated again
    assert compiled[1] == {night.pk} and other.pk not in compiled[1]
    assert worker.model().fittings["RF-0001"][0].fitted == fitting.fitted_at.timestamp()
    # Its first reading after the fitting (every half hour) is where the absence now starts.
    assert [v.start for v in _absences()] == [datetime(2026, 11, 10, 21, 30, tzinfo=UTC)]


def test_a_device_handed_on_recompiles_both_wearers(night, compiled):
    from openem.cases.models import Person

    worker = EngineWorker("t")
    worker.cycle(now=NIGHT)
    second = Person.objects.create(ref="P0100", name="Second Wearer")
    tag = Device.objects.get(ref="ALC-0001")
    first = Fitting.objects.get(device=tag)
    first.removed_at = datetime(2026, 11, 10, 22, 50, tzinfo=UTC)
    first.save()
    Fitting.objects.create(device=tag, person=second, fitted_at=datetime(2026, 11, 10, 23, tzinfo=UTC))
    worker.cases_changed()
    worker.model()
    assert compiled[-1] == {night.pk, second.pk}
    assert {f.subject.id for f in worker.model().fittings["ALC-0001"]} == {"P0001", "P0100"}


def test_a_change_rolled_back_is_never_seen(night):
    before = CaseChange.objects.count()
    with pytest.raises(RuntimeError), transaction.atomic():
        night.name = "Renamed"
        night.save()
        raise RuntimeError("the request failed")
    assert CaseChange.objects.count() == before


def test_a_person_deleted_leaves_the_model(night):
    worker = EngineWorker("t")
    worker.cycle(now=NIGHT)
    assert "P0001" in worker.model().subjects
    night.delete()
    worker.cases_changed()
    model = worker.model()
    assert "P0001" not in model.subjects and "RF-0001" not in model.fittings


@pytest.mark.django_db
def test_a_worker_process_collects_its_frozen_caseload_again_after_many_recompiles(case, monkeypatch):
    """The worker process freezes its compiled caseload (full collections walked it all, a second's pause);
    people recompiled leave frozen cycles behind, so after enough of them it is collected and frozen again."""
    import gc

    from openem.cases.models import Person
    from openem.telemetry import worker as worker_module

    monkeypatch.setattr(worker_module, "SETTLE_AFTER_RECOMPILING", 2)
    w = EngineWorker("t")
    w.settle_memory = True
    try:
        w.model()
        assert gc.get_freeze_count() > 0  # frozen after the first compile
        collected: list[int] = []
        monkeypatch.setattr(gc, "unfreeze", lambda: collected.append(1))
        Person.objects.filter(pk=case.pk).update(name="Sam Changed")
        w._recompile({case.pk})
        assert not collected  # one person: not yet
        w._recompile({case.pk})
        assert collected == [1] and w._recompiled == 0
    finally:
        monkeypatch.undo()
        gc.unfreeze()
