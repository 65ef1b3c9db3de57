"""Every delete of a person, an order, a violation or an incident leaves an audit event, however it
happens: the admin, a cascade from deleting a person, a bulk ``QuerySet.delete()`` (Django collects
the rows of a model with delete signals and sends one per row) or a shell.

Readings and trail blocks have no signal on purpose: a receiver would stop Django's fast bulk delete
and make retention, which deletes millions of them, load and signal each row. Their deletes are
recorded by whoever deletes them (retention, the admin), one event per person or device with counts.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.db.models.signals import post_delete

from .models import AuditAction, AuditEvent

# The models whose every deleted row is recorded.
AUDITED_DELETES = ("cases.Person", "cases.Order", "alerts.Violation", "alerts.Incident")


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


def describe(instance: Any) -> str:
    """What was deleted, by reference rather than by name (the event outlives the record)."""
    name = type(instance)._meta.verbose_name
    refs = [getattr(instance, attr, None) for attr in ("ref", "key")]
    ref = next((r for r in refs if isinstance(r, str) and r), instance.pk)
    return f"{name} {ref}"


def person_of(instance: Any) -> Any:
    person_model = apps.get_model("cases", "Person")
    if isinstance(instance, person_model):
        return instance
    return getattr(instance, "person", None)


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
