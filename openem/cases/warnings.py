"""Keeps ``Order.warning_count`` right: every save or delete of an order, a condition, an assessment or a
proposed address counts again the warnings of the orders it can change (the order's own; every order of the
person whose assessed addresses changed), in the same transaction. Bulk inserts and queryset updates of
orders and conditions count them in their querysets (``OrderQuerySet``, ``ConditionQuerySet``).
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.db.models.signals import post_delete, post_save


def _going_too(kwargs: dict[str, Any], *models: type) -> bool:
    """Deleted along with one of ``models`` (a person, an order): nothing of theirs is left to count."""
    origin = kwargs.get("origin")
    model = origin.model if isinstance(origin, QuerySet) else type(origin)
    return model in models


def _order_changed(sender: Any, instance: Any, **kwargs: Any) -> None:
    from .models import Order, Person, refresh_warnings

    if kwargs.get("raw"):  # loading fixtures: its related rows may not be there yet
        return
    if _going_too(kwargs, Person, Order):
        return
    if isinstance(instance, Order):
        refresh_warnings([instance.pk])
    else:
        refresh_warnings([instance.order_id])


def _addresses_changed(sender: Any, instance: Any, **kwargs: Any) -> None:
    from openem.assessments.models import Assessment

    from .models import Person, refresh_warnings_of_people

    if kwargs.get("raw") or _going_too(kwargs, Person):
        return
    person: int | None
    if isinstance(instance, Assessment):
        person = instance.person_id
    else:
        person = Assessment.objects.filter(pk=instance.assessment_id).values_list("person_id", flat=True).first()
    refresh_warnings_of_people([person])


def connect() -> None:
    from openem.assessments.models import Assessment, ProposedAddress

    from .models import Condition, Order

    for model in (Order, Condition):
        post_save.connect(_order_changed, sender=model, dispatch_uid=f"warnings-{model.__name__}")
        post_delete.connect(_order_changed, sender=model, dispatch_uid=f"warnings-delete-{model.__name__}")
    for held in (Assessment, ProposedAddress):
        post_save.connect(_addresses_changed, sender=held, dispatch_uid=f"warnings-{held.__name__}")
        post_delete.connect(_addresses_changed, sender=held, dispatch_uid=f"warnings-delete-{held.__name__}")
