"""Every delete of a person, an order (its versions, conditions and reviews), a fitting, a violation, an
incident or an enforcement decision leaves an audit event, however it happens: the admin, a cascade from
deleting a person, a bulk ``QuerySet.delete()`` (Django collects the rows of a model with delete signals
and sends one per row) or a shell.

Readings and trail blocks have no signal on purpose: a receiver would stop Django's fast bulk delete
and make retention, which deletes millions of them, load and signal each row. Their querysets record
one summary event per delete instead (``record_bulk_delete``), unless the caller records its own
(retention, the admin: ``audited_deletes(..., summarised=True)``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.apps import apps
from django.core.exceptions import ObjectDoesNotExist
from django.db.models.signals import post_delete

from .models import AuditAction, AuditEvent

# The models whose every deleted row is recorded.
AUDITED_DELETES = (
    "cases.Person",
    "cases.Order",
    "cases.OrderVersion",
    "cases.Condition",
    "cases.Review",
    "devices.Fitting",
    "alerts.Violation",
    "alerts.Incident",
    "alerts.EnforcementDecision",
    "assessments.Assessment",
)


@dataclass(frozen=True, slots=True)
class DeleteContext:
    user: Any
    via: str
    reason: str = ""
    summarised: bool = False  # the caller records one event for the whole delete (retention)


_context: ContextVar[DeleteContext | None] = ContextVar("openem_audit_delete_context", default=None)


@contextmanager
def audited_deletes(user: Any, via: str, *, reason: str = "", summarised: bool = False) -> Iterator[None]:
    """Deletes inside are recorded as this user's, through ``via`` (e.g. "admin"); with ``summarised``,
    the caller records one event itself and the rows are not recorded one by one."""
    token = _context.set(DeleteContext(user, via, reason, summarised))
    try:
        yield
    finally:
        _context.reset(token)


def current() -> DeleteContext | None:
    """The ``audited_deletes`` block a delete runs in, if any."""
    return _context.get()


def describe(instance: Any) -> str:
    """What was deleted, by reference rather than by name (the event outlives the record)."""
    name = type(instance)._meta.verbose_name
    refs = [getattr(instance, attr, None) for attr in ("ref", "key")]
    ref = next((r for r in refs if isinstance(r, str) and r), instance.pk)
    return f"{name} {ref}"


def person_of(instance: Any) -> Any:
    """The person a record is about: itself, its person, or its order's, incident's or crime finding's person."""
    person_model = apps.get_model("cases", "Person")
    if isinstance(instance, person_model):
        return instance
    try:
        if hasattr(type(instance), "person"):
            return instance.person
        for parent in ("order", "incident", "finding"):  # an order version, condition, review; a decision; a report
            if hasattr(type(instance), parent):
                return getattr(getattr(instance, parent), "person", None)
    except ObjectDoesNotExist:  # its parent went first in the same delete
        pass
    return None


def person_wearing(device: str, t: datetime) -> Any:
    """Whose reading a device's reading at ``t`` was (readings name a device, not a person)."""
    fitting = (
        apps.get_model("devices", "Fitting")
        .objects.in_force(t)
        .filter(device__ref=device)
        .select_related("person")
        .first()
    )
    return fitting.person if fitting is not None else None


def record_bulk_delete(what: str, devices: list[str], period: tuple[datetime, datetime] | None) -> None:
    """One event for a bulk delete of readings or trail blocks: how many (``what``), of which devices,
    over which period; the person's, when it is one device worn by one person at the end of it."""
    ctx = _context.get()
    shown = ", ".join(devices[:20]) + (f" and {len(devices) - 20} more" if len(devices) > 20 else "")
    person = person_wearing(devices[0], period[1]) if len(devices) == 1 and period else None
    AuditEvent.record(
        ctx.user if ctx is not None else None,
        AuditAction.DELETE,
        person=person,
        summary=f"{ctx.via if ctx is not None else 'ORM'}: deleted {what} of device{'s' if len(devices) > 1 else ''} "
        f"{shown}",
        reason=ctx.reason if ctx is not None else "",
        period=period,
    )


def record_delete(sender: Any, instance: Any, **kwargs: Any) -> None:
    ctx = _context.get()
    if ctx is not None and ctx.summarised:
        return
    via = ctx.via if ctx is not None else "ORM"
    AuditEvent.record(
        ctx.user if ctx is not None else None,
        AuditAction.DELETE,
        person=person_of(instance),
        obj=instance,
        summary=f"{via}: deleted {describe(instance)}",
        reason=ctx.reason if ctx is not None else "",
    )


def connect() -> None:
    for label in AUDITED_DELETES:
        post_delete.connect(record_delete, sender=apps.get_model(label), dispatch_uid=f"audit-delete-{label}")
