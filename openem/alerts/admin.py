from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from openem.audit.mixins import AuditedAdminMixin

from .models import Channel, Incident, Notification, NotificationRule, Violation


class ReadOnly(AuditedAdminMixin, admin.ModelAdmin):
    """Made by the workers and the portal; the admin only looks (and every look is audited)."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Violation)
class ViolationAdmin(ReadOnly):
    list_display = ("person", "type", "category", "start", "end", "device", "retracted", "incident")
    list_filter = ("type", "category", "retracted")
    search_fields = ("person__name", "person__crn", "device")


@admin.register(Incident)
class IncidentAdmin(ReadOnly):
    list_display = ("pk", "summary", "person", "kind", "severity", "status", "start", "delivery", "escalated_at")
    list_filter = ("kind", "severity", "status", "delivery")
    search_fields = ("person__name", "person__crn", "summary")


@admin.register(Notification)
class NotificationAdmin(ReadOnly):
    list_display = ("created", "kind", "user", "channel", "subject", "status", "attempts", "last_error")
    list_filter = ("status", "kind", "channel__kind")


@admin.register(NotificationRule)
class NotificationRuleAdmin(AuditedAdminMixin):
    audit_views = False  # reference data: nothing about a person
    list_display = ("position", "name", "delivery", "types", "high_risk_only", "min_severity", "enabled")
    list_editable = ("enabled",)
    ordering = ("position",)


@admin.register(Channel)
class ChannelAdmin(AuditedAdminMixin):
    list_display = ("user", "kind", "target", "enabled")
    list_filter = ("kind", "enabled")
    search_fields = ("user__username", "target")
