"""Append-only log of every view of a person's record and every change: who, what, when, why.

Append-only three times over: the model refuses to save an existing event or delete one, its queryset
refuses ``update()``, ``delete()`` and ``bulk_update()``, and the database itself refuses UPDATE, DELETE
and TRUNCATE with triggers (see ``triggers.py`` and migration 0003)."""

from __future__ import annotations

import getpass
import os
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import models
from django.utils import timezone

from openem.engine.enums import LabelledEnum

if TYPE_CHECKING:
    from openem.accounts.models import User


class AuditAction(LabelledEnum):
    VIEW = "view"
    SEARCH = "search"
    CREATE = "create"
    CHANGE = "change"
    DELETE = "delete"
    IMPORT = "import"
    EXPORT = "export"
    CREDENTIAL = "credential"  # an API token or a device or gateway secret issued, rotated or revoked
    SIGN_IN = "sign_in"
    SIGN_IN_FAILED = "sign_in_failed"
    SIGN_OUT = "sign_out"
    DENIED = "denied"  # a refusal: a role without access, or a record not on the caller's caseload


class AppendOnlyError(RuntimeError):
    pass


def os_user() -> str:
    """Who ran a command: the command line has no signed-in user, so events name the system account."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid {os.getuid()}"


def _type_name(obj: Any) -> str:
    """The model's name, also through a lazy wrapper (``request.user`` is a SimpleLazyObject)."""
    meta = getattr(obj, "_meta", None)
    return str(meta.object_name) if meta is not None else type(obj).__name__


class AuditEventQuerySet(models.QuerySet["AuditEvent"]):
    """Bulk writes would bypass the model's refusals; refuse them here too (the database would as well)."""

    def update(self, **kwargs: Any) -> int:
        raise AppendOnlyError("audit events cannot be changed")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError("audit events cannot be deleted")

    def bulk_update(self, objs: Any, fields: Any, batch_size: int | None = None) -> int:
        raise AppendOnlyError("audit events cannot be changed")

    def _raw_delete(self, using: Any) -> int:
        raise AppendOnlyError("audit events cannot be deleted")

    _raw_delete.queryset_only = True  # type: ignore[attr-defined]


class AuditEvent(models.Model):
    at = models.DateTimeField(default=timezone.now, db_index=True)
    # The actor and the person are kept as bare ids with no database constraint and no cascade: deleting a
    # user or a person must not touch their events (SET_NULL would be an UPDATE, which the trigger refuses),
    # and their history stays findable by id, person_ref and actor_name after they are gone.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
    )
    actor_name = models.CharField(max_length=150, help_text="Kept even if the user is later removed.")
    action = models.CharField(max_length=16, choices=AuditAction.choices())
    person = models.ForeignKey(
        "cases.Person",
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="audit_events",
    )
    person_ref = models.CharField(max_length=40, blank=True)
    object_type = models.CharField(max_length=40, blank=True)
    object_id = models.CharField(max_length=40, blank=True)
    summary = models.TextField(blank=True)
    reason = models.TextField(blank=True)
    period_start = models.DateTimeField(null=True, blank=True)
    period_end = models.DateTimeField(null=True, blank=True)
    elapsed_ms = models.PositiveIntegerField(
        null=True, blank=True, help_text="how long a look at location data took to answer (the statistics' measure)"
    )

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["person", "-at"])]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_name} {self.action} {self.person_ref} {self.summary}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise AppendOnlyError("audit events cannot be changed")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise AppendOnlyError("audit events cannot be deleted")

    @classmethod
    def record(
        cls,
        user: User | None,
        action: AuditAction,
        *,
        person: Any = None,
        obj: Any = None,
        summary: str = "",
        reason: str = "",
        period: tuple[datetime, datetime] | None = None,
        elapsed_ms: int | None = None,
    ) -> AuditEvent:
        signed_in = user is not None and user.is_authenticated
        # Ids, not instances: the person may be one being deleted in this very transaction.
        return cls.objects.create(
            actor_id=user.pk if signed_in else None,  # type: ignore[union-attr]
            actor_name=user.get_username() if signed_in else "system",  # type: ignore[union-attr]
            action=action.value,
            person_id=person.pk if person is not None else None,
            person_ref=getattr(person, "ref", "") if person is not None else "",
            object_type=_type_name(obj) if obj is not None else "",
            object_id=str(obj.pk) if obj is not None else "",
            summary=summary,
            reason=reason,
            period_start=period[0] if period else None,
            period_end=period[1] if period else None,
            elapsed_ms=elapsed_ms,
        )
