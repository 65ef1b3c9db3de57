from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from openem.audit.mixins import AuditedAdminMixin

from .models import Gateway, Reading, RejectedReading


class ReadOnly(AuditedAdminMixin, admin.ModelAdmin):
    """Stored by ingest; the admin only looks (and every look and delete is audited)."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Gateway)
class GatewayAdmin(admin.ModelAdmin):
    list_display = ("name", "active", "created")
    readonly_fields = ("token_hash",)


@admin.register(RejectedReading)
class RejectedReadingAdmin(ReadOnly):
    list_display = ("received", "source", "gateway", "line", "field", "reason")
    list_filter = ("source", "field")
    search_fields = ("reason", "raw")


@admin.register(Reading)
class ReadingAdmin(ReadOnly):
    list_display = ("device", "t", "type", "seq", "source", "received")
    list_filter = ("type", "source")
    search_fields = ("device",)
