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
class GatewayAdmin(AuditedAdminMixin, admin.ModelAdmin):
    """Deactivate or rename gateways here; tokens are issued and rotated with `openem gateway`, which
    prints a token once (the admin would have to carry it through a message or a page it keeps)."""

    list_display = ("name", "active", "device_count", "created")
    exclude = ("token_hash",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(description="devices it may send for")
    def device_count(self, obj: Gateway) -> int:
        return obj.devices.count()


@admin.register(RejectedReading)
class RejectedReadingAdmin(ReadOnly):
    list_display = ("received", "kind", "source", "gateway", "line", "field", "reason")
    list_filter = ("kind", "source", "field")
    search_fields = ("reason", "raw")


@admin.register(Reading)
class ReadingAdmin(ReadOnly):
    list_display = ("device", "t", "type", "seq", "source", "received")
    list_filter = ("type", "source")
    search_fields = ("device",)
