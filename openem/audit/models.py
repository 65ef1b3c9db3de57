"""Append-only log of every view of a person's record and every change: who, what, when, why."""

from __future__ import annotations

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


class AuditEvent(models.Model):
    at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    actor_name = models.CharField(max_length=150, help_text="Kept even if the user is later removed.")
    action = models.CharField(max_length=16, choices=AuditAction.choices())
    person = models.ForeignKey(
        "cases.Person", null=True, blank=True, on_delete=models.SET_NULL, related_name="audit_events"
    )
    person_ref = models.CharField(max_length=40, blank=True)
    object_type = models.CharField(max_length=40, blank=True)
    object_id = models.CharField(max_length=40, blank=True)
    summary = models.TextField(blank=True)
    reason = models.TextField(blank=True)
    period_start = models.DateTimeField(null=True, blank=True)
    period_end = models.DateTimeField(null=True, blank=True)

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
    ) -> AuditEvent:
        return cls.objects.create(
            actor=user if user is not None and user.is_authenticated else None,
            actor_name=user.get_username() if user is not None and user.is_authenticated else "system",
            action=action.value,
            person=person,
            person_ref=getattr(person, "ref", "") if person is not None else "",
            object_type=type(obj).__name__ if obj is not None else "",
            object_id=str(obj.pk) if obj is not None else "",
            summary=summary,
            reason=reason,
            period_start=period[0] if period else None,
            period_end=period[1] if period else None,
        )
