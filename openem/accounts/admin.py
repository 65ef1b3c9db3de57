from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest

from openem.audit.mixins import AuditedAdminMixin
from openem.audit.models import AuditAction, AuditEvent

from .models import Team, User


@admin.register(User)
class OpenEMUserAdmin(AuditedAdminMixin, UserAdmin):
    list_display = ("username", "first_name", "last_name", "role", "team", "is_active")
    list_filter = ("role", "team", "is_active")
    fieldsets = (*(UserAdmin.fieldsets or ()), ("OpenEM", {"fields": ("role", "team")}))
    actions = ["reset_two_factor", "unlock_sign_in"]

    @admin.action(description="Reset two-factor sign-in (they set up a new authenticator app at next sign-in)")
    def reset_two_factor(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        from django_otp import devices_for_user

        for user in queryset:
            removed = 0
            for device in devices_for_user(user, confirmed=None):
                device.delete()
                removed += 1
            _audit(request, user, f"two-factor sign-in reset by an administrator ({removed} device(s) removed)")
        self.message_user(request, f"Two-factor sign-in reset for {queryset.count()} user(s).", messages.SUCCESS)

    @admin.action(description="Unlock sign-in (clear failed sign-ins for these accounts)")
    def unlock_sign_in(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        from axes.utils import reset

        for user in queryset:
            cleared = reset(username=user.username)
            _audit(request, user, f"sign-in unlocked by an administrator ({cleared} failed-attempt record(s) cleared)")
        self.message_user(request, f"Sign-in unlocked for {queryset.count()} user(s).", messages.SUCCESS)


def _audit(request: HttpRequest, user: User, summary: str) -> None:
    actor: Any = request.user if request.user.is_authenticated else None
    AuditEvent.record(actor, AuditAction.CREDENTIAL, obj=user, summary=f"{user.username}: {summary}")


@admin.register(Team)
class TeamAdmin(AuditedAdminMixin, admin.ModelAdmin):
    audit_views = False  # reference data: nothing about a person
    list_display = ("name", "region")
