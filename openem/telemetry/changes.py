"""Which people's cases changed: the engine worker recompiles them alone, not the whole caseload.

Every save or delete of a person, an order, an order version, a condition or a fitting writes a
``CaseChange`` row naming the person, in the same transaction (so a change the worker sees has committed,
and one rolled back is never seen). Writes that bypass the ORM's signals (a queryset ``update``) call
``note`` themselves. The worker keeps the id of the last row it applied.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import Max
from django.db.models.signals import post_delete, post_save

from .models import CaseChange


def note(person_ids: Iterable[int | None]) -> None:
    """These people's case records changed."""
    ids = sorted({int(p) for p in person_ids if p is not None})
    if ids:
        CaseChange.objects.bulk_create([CaseChange(person_id=p) for p in ids])


def latest() -> int:
    return CaseChange.objects.aggregate(m=Max("id"))["m"] or 0


def since(last_id: int) -> tuple[set[int], set[str], int]:
    """The people changed after change ``last_id``, the references of those deleted, and the id of the
    newest change read."""
    rows = list(CaseChange.objects.filter(id__gt=last_id).values_list("id", "person_id", "deleted_ref"))
    return {p for _i, p, _r in rows}, {r for _i, _p, r in rows if r}, max((i for i, _p, _r in rows), default=last_id)


def _person_of(instance: Any) -> int | None:
    from openem.cases.models import Condition, Order, OrderVersion, Person
    from openem.devices.models import Fitting

    if isinstance(instance, Person):
        return int(instance.pk)
    if isinstance(instance, Order | Fitting):
        return instance.person_id
    if isinstance(instance, Condition | OrderVersion):
        order = Order.objects.filter(pk=instance.order_id).values_list("person_id", flat=True).first()
        return order
    return None


def _changed(sender: Any, instance: Any, **kwargs: Any) -> None:
    from openem.devices.models import Fitting

    if kwargs.get("raw"):  # loading fixtures: no case is being changed
        return
    note([_person_of(instance)])
    if isinstance(instance, Fitting):
        # A device fitted, or its fitting corrected: its silence is looked at afresh for its wearer.
        from .deadlines import reopen

        reopen([instance.device.ref])


def _deleted(sender: Any, instance: Any, **kwargs: Any) -> None:
    from openem.cases.models import Person

    if isinstance(instance, Person):  # gone from the database: only its reference says whose model to drop
        CaseChange.objects.create(person_id=instance.pk, deleted_ref=instance.ref)
    else:
        note([_person_of(instance)])


def connect() -> None:
    from openem.cases.models import Condition, Order, OrderVersion, Person
    from openem.devices.models import Fitting

    for model in (Person, Order, OrderVersion, Condition, Fitting):
        post_save.connect(_changed, sender=model, dispatch_uid=f"case-change-{model.__name__}")
        post_delete.connect(_deleted, sender=model, dispatch_uid=f"case-change-delete-{model.__name__}")
