from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.utils import timezone

from openem.audit.models import AuditAction, AuditEvent

from .models import MiRun, ProjectStatus, ResearchExtract, ResearchProject


@admin.register(ResearchProject)
class ResearchProjectAdmin(admin.ModelAdmin):
    list_display = ("title", "organisation", "status", "requested_by", "approved_by", "approved_at", "ends_on")
    list_filter = ("status",)
    readonly_fields = ("requested_by", "requested_at", "status", "approved_by", "approved_at")
    actions = ["approve", "close"]

    @admin.action(description="Approve the selected projects (you are recorded as the approver)")
    def approve(self, request: Any, queryset: Any) -> None:
        for project in queryset.exclude(status=ProjectStatus.APPROVED):
            # Conditional: two administrators approving at once record one approver.
            done = (
                ResearchProject.objects.filter(pk=project.pk)
                .exclude(status=ProjectStatus.APPROVED)
                .update(status=ProjectStatus.APPROVED, approved_by=request.user, approved_at=timezone.now())
            )
            if done:
                AuditEvent.record(request.user, AuditAction.CHANGE, obj=project,
                                  summary=f"research project approved: {project.title}")  # fmt: skip
        messages.success(request, "Approved.")

    @admin.action(description="Close the selected projects (no more extracts)")
    def close(self, request: Any, queryset: Any) -> None:
        for project in queryset:
            ResearchProject.objects.filter(pk=project.pk).update(status=ProjectStatus.CLOSED)
            AuditEvent.record(request.user, AuditAction.CHANGE, obj=project,
                              summary=f"research project closed: {project.title}")  # fmt: skip


@admin.register(ResearchExtract)
class ResearchExtractAdmin(admin.ModelAdmin):
    list_display = ("project", "made_by", "made_at", "start", "end", "order_rows", "incident_rows", "sha256")

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_add_permission(self, request: Any) -> bool:
        return False


@admin.register(MiRun)
class MiRunAdmin(admin.ModelAdmin):
    list_display = ("period", "started_at", "status", "seconds", "cells")

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_add_permission(self, request: Any) -> bool:
        return False
