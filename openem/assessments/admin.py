from django.contrib import admin

from .models import Assessment, Check, Occupant, ProposedAddress


class CheckInline(admin.TabularInline):
    model = Check
    extra = 0


class OccupantInline(admin.TabularInline):
    model = Occupant
    extra = 0


@admin.register(Assessment)
class AssessmentAdmin(admin.ModelAdmin):
    list_display = ("person", "proposal", "status", "decision", "recommends_curfew", "created")
    list_filter = ("proposal", "status")


@admin.register(ProposedAddress)
class ProposedAddressAdmin(admin.ModelAdmin):
    list_display = ("label", "assessment", "suitability")
    inlines = [OccupantInline, CheckInline]
