from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from .models import Violation


@admin.register(Violation)
class ViolationAdmin(admin.ModelAdmin):
    list_display = ("person", "type", "category", "start", "end", "device", "retracted")
    list_filter = ("type", "category", "retracted")
    search_fields = ("person__name", "person__crn", "device")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
