from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from openem.audit.mixins import AuditedAdminMixin

from .models import Condition, Order, OrderVersion, Person


class OrderInline(admin.TabularInline):
    model = Order
    extra = 0
    fields = ("ref", "type", "start", "end", "version")
    readonly_fields = fields  # orders are made and varied in the portal, where the rules run
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Person)
class PersonAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ("name", "crn", "ref", "rosh", "practitioner", "team")
    list_filter = ("rosh", "team")
    search_fields = ("name", "crn", "ref", "pnc", "nomis")
    inlines = [OrderInline]


class ReadOnlyAdmin(AuditedAdminMixin, admin.ModelAdmin):
    """Made and varied in the portal, where the rules run and every change becomes an order version: the
    admin only reads them (and deletes, which are audited). An order or a version added or edited here
    would bypass both."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ConditionInline(admin.TabularInline):
    model = Condition
    extra = 0
    fields = ("ref", "type", "start", "end", "monitored", "added_in_version", "removed_in_version")
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Order)
class OrderAdmin(ReadOnlyAdmin):
    """Orders are set up and varied in the portal, where the statutory checks run; here they are read."""

    list_display = ("ref", "person", "type", "start", "end", "version")
    list_filter = ("type",)
    search_fields = ("ref", "person__name", "person__crn")
    readonly_fields = (
        "person",
        "ref",
        "type",
        "start",
        "end",
        "licence_kind",
        "convicted_before_pcsc_act",
        "audit_score",
        "alcohol_treatment_requirement",
        "version",
    )
    inlines = [ConditionInline]


@admin.register(OrderVersion)
class OrderVersionAdmin(ReadOnlyAdmin):
    list_display = ("order", "number", "changed_at", "changed_by", "reason")
    readonly_fields = ("order", "number", "changed_at", "changed_by", "reason", "changes", "snapshot")
