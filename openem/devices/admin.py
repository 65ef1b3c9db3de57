from django.contrib import admin

from openem.audit.mixins import AuditedAdminMixin

from .models import Device, Fitting


class FittingInline(admin.TabularInline):
    model = Fitting
    extra = 0


@admin.register(Device)
class DeviceAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ("ref", "kind", "faulty", "retired")
    list_filter = ("kind", "faulty", "retired")
    search_fields = ("ref",)
    inlines = [FittingInline]
