from typing import Any

from django.contrib import admin

from openem.audit.mixins import AuditedAdminMixin

from .models import Device, DeviceKey, Fitting


class FittingInline(admin.TabularInline):
    model = Fitting
    extra = 0


class DeviceKeyInline(admin.TabularInline):
    """Keys are issued, rotated and revoked on the device's page in the portal (shown once there)."""

    model = DeviceKey
    extra = 0
    fields = ("hint", "issued_at", "issued_by", "revoked_at", "revoked_by")
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request: Any, obj: Any = None) -> bool:
        return False


@admin.register(Device)
class DeviceAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ("ref", "kind", "gateway", "faulty", "retired")
    list_filter = ("kind", "gateway", "faulty", "retired")
    search_fields = ("ref",)
    inlines = [FittingInline, DeviceKeyInline]
