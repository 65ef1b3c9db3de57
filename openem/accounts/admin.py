from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from openem.audit.mixins import AuditedAdminMixin

from .models import Team, User


@admin.register(User)
class OpenEMUserAdmin(AuditedAdminMixin, UserAdmin):
    list_display = ("username", "first_name", "last_name", "role", "team", "is_active")
    list_filter = ("role", "team", "is_active")
    fieldsets = (*(UserAdmin.fieldsets or ()), ("OpenEM", {"fields": ("role", "team")}))


@admin.register(Team)
class TeamAdmin(AuditedAdminMixin, admin.ModelAdmin):
    audit_views = False  # reference data: nothing about a person
    list_display = ("name", "region")
