"""The audit log in the admin: read-only, searchable, filtered by action and by person ref, and still
readable for people and users who have since been deleted (their ids are kept without a constraint)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from .models import AuditEvent


class PersonRefFilter(admin.SimpleListFilter):
    """A text box, not a list: there is a choice per person ever monitored. Matches the kept ref, so a
    deleted person's history is found too."""

    title = "person (case file id)"
    parameter_name = "person_ref"
    template = "admin/audit/text_filter.html"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return []

    def has_output(self) -> bool:
        return True

    def queryset(self, request: HttpRequest, queryset: QuerySet[AuditEvent]) -> QuerySet[AuditEvent]:
        ref = (self.value() or "").strip()
        return queryset.filter(person_ref=ref) if ref else queryset

    def choices(self, changelist: Any) -> Iterator[Any]:  # one "choice": what the text box needs
        keep = [(k, v) for k, v in changelist.params.items() if k != self.parameter_name]
        yield {"parameter_name": self.parameter_name, "value": self.value() or "", "keep": keep}


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Read-only: the log is append-only, administrators can search it but not change it."""

    list_display = ("at", "actor_name", "action", "person_ref", "object_type", "summary")
    list_filter = ("action", PersonRefFilter)
    search_fields = ("actor_name", "person_ref", "summary", "reason")
    fields = (
        "at",
        "actor_shown",
        "action",
        "person_shown",
        "object_type",
        "object_id",
        "summary",
        "reason",
        "period_start",
        "period_end",
    )
    readonly_fields = fields

    @admin.display(description="who")
    def actor_shown(self, event: AuditEvent) -> str:
        from openem.accounts.models import User

        if event.actor_id is None:
            return event.actor_name
        if not User.objects.filter(pk=event.actor_id).exists():
            return f"{event.actor_name} (user {event.actor_id}, since deleted)"
        url = reverse("admin:accounts_user_change", args=[event.actor_id])
        return format_html('<a href="{}">{}</a>', url, event.actor_name)

    @admin.display(description="person")
    def person_shown(self, event: AuditEvent) -> str:
        from openem.cases.models import Person

        if event.person_id is None:
            return event.person_ref or "-"
        if not Person.objects.filter(pk=event.person_id).exists():
            return f"{event.person_ref} (record since deleted)"
        url = reverse("admin:cases_person_change", args=[event.person_id])
        return format_html('<a href="{}">{}</a>', url, event.person_ref)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
