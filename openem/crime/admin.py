"""Crime matching in the admin: read only. Batches, crimes and searches are what police sent, runs and
findings what the matcher found (with the positions it was made on), reports what was handed out: evidence,
changed only by the pages and workers that record why. Nothing is deleted here either: ``openem retention``
deletes crime data at the end of its period and keeps each proximity report's digest, so a copy still
verifies (a delete here would lose that). Every list and record shown is audited as the rest of the admin
is, with the person a finding, its positions or a report is about."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from openem.audit.mixins import AuditedAdminMixin

from .models import (
    AdHocSearch,
    Crime,
    CrimeBatch,
    Finding,
    FindingEvidence,
    IssuedReport,
    MatchRun,
    ProximityReport,
    RowProblem,
)


class ReadOnly(AuditedAdminMixin, admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class RowProblemInline(admin.TabularInline):
    model = RowProblem
    extra = 0
    fields = ("row", "column", "message")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(CrimeBatch)
class CrimeBatchAdmin(ReadOnly):
    list_display = ("__str__", "uploaded_at", "uploaded_by", "source", "status", "rows_accepted", "rows_read")
    list_filter = ("status", "source", "force")
    list_select_related = ("uploaded_by",)
    search_fields = ("batch_ref", "force", "filename", "sha256")
    inlines = [RowProblemInline]


@admin.register(Crime)
class CrimeAdmin(ReadOnly):
    list_display = ("reference", "version", "force", "crime_type", "window_start", "window_end", "state", "batch")
    list_filter = ("crime_type", "state", "force")
    list_select_related = ("batch",)
    search_fields = ("reference", "batch__batch_ref")


@admin.register(MatchRun)
class MatchRunAdmin(ReadOnly):
    audit_views = False  # parameters and code versions: nothing about a person
    list_display = ("__str__", "started", "finished", "params_version", "code_version", "people_considered")
    list_select_related = ("batch",)


@admin.register(Finding)
class FindingAdmin(ReadOnly):
    list_display = ("crime", "person", "verdict", "review", "closest_m", "minutes_near", "at_home")
    list_filter = ("verdict", "review", "at_home")
    list_select_related = ("crime", "person")
    search_fields = ("crime__reference", "person__name", "person__crn", "person__ref")


@admin.register(FindingEvidence)
class FindingEvidenceAdmin(ReadOnly):
    """The positions a match was made on (compressed: the match page shows them); a look is a look at the
    person's, audited with them."""

    list_display = ("finding", "source", "captured_at", "count", "near", "sha256")
    list_filter = ("source",)
    list_select_related = ("finding__crime", "finding__person")
    search_fields = ("sha256", "finding__crime__reference")


@admin.register(ProximityReport)
class ProximityReportAdmin(ReadOnly):
    list_display = ("sha256", "finding", "pages", "made_by", "made_at")
    list_select_related = ("finding__crime", "made_by")
    search_fields = ("sha256",)


@admin.register(IssuedReport)
class IssuedReportAdmin(ReadOnly):
    audit_views = False  # a digest and the force's references: no personal data
    list_display = ("sha256", "made_at", "force", "batch_ref", "crime_reference", "data_deleted_at")
    search_fields = ("sha256", "crime_reference")


@admin.register(AdHocSearch)
class AdHocSearchAdmin(ReadOnly):
    list_display = ("__str__", "at", "user", "force", "radius_m", "start", "end")
    list_filter = ("force",)
    list_select_related = ("user",)
    search_fields = ("place", "force")
