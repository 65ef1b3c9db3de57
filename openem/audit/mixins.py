"""Changes made in the Django admin go to the audit log too, with who made them."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from .models import AuditAction, AuditEvent


class AuditedAdminMixin(admin.ModelAdmin):
    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        fields = ", ".join(form.changed_data) if change else "created"
        AuditEvent.record(
            request.user if request.user.is_authenticated else None,
            AuditAction.CHANGE if change else AuditAction.CREATE,
            person=_person_of(obj),
            obj=obj,
            summary=f"admin: {type(obj).__name__} {obj}: {fields}",
        )

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        AuditEvent.record(
            request.user if request.user.is_authenticated else None,
            AuditAction.CHANGE,
            person=_person_of(obj),
            obj=obj,
            summary=f"admin: deleted {type(obj).__name__} {obj}",
        )
        super().delete_model(request, obj)


def _person_of(obj: Any) -> Any:
    from openem.cases.models import Person

    if isinstance(obj, Person):
        return obj
    return getattr(obj, "person", None)
