from django.contrib import admin

from .models import Condition, Order, OrderVersion, Person


class OrderInline(admin.TabularInline):
    model = Order
    extra = 0
    fields = ("ref", "type", "start", "end", "version")
    readonly_fields = ("version",)


@admin.register(Person)
class PersonAdmin(admin.ModelAdmin):
    list_display = ("name", "crn", "ref", "rosh", "practitioner", "team")
    list_filter = ("rosh", "team")
    search_fields = ("name", "crn", "ref", "pnc", "nomis")
    inlines = [OrderInline]


class ConditionInline(admin.TabularInline):
    model = Condition
    extra = 0
    fields = ("ref", "type", "start", "end", "monitored", "added_in_version", "removed_in_version")
    readonly_fields = fields
    can_delete = False


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
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
class OrderVersionAdmin(admin.ModelAdmin):
    list_display = ("order", "number", "changed_at", "changed_by", "reason")
    readonly_fields = ("order", "number", "changed_at", "changed_by", "reason", "changes", "snapshot")
