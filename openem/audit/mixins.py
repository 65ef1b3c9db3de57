"""The Django admin goes to the audit log like the portal does: every list, search and record it shows
of people and their data, every change and every delete (single or bulk), with who did it."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.db.models import Count, Max, Min, Model, QuerySet
from django.http import HttpRequest, HttpResponse

from .models import AuditAction, AuditEvent
from .signals import AUDITED_DELETES, audited_deletes, describe, person_of, person_wearing


def _user(request: HttpRequest) -> Any:
    return request.user if request.user.is_authenticated else None


class AuditedAdminMixin(admin.ModelAdmin):
    # False for reference data with nothing about a person in it (teams, notification rules).
    audit_views = True

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        fields = ", ".join(form.changed_data) if change else "created"
        AuditEvent.record(
            _user(request),
            AuditAction.CHANGE if change else AuditAction.CREATE,
            person=_person_of(obj),
            obj=obj,
            summary=f"admin: {type(obj).__name__} {obj}: {fields}",
        )

    # Deletes. Persons, orders, violations and incidents (and whatever a delete cascades to among them)
    # are recorded row by row by the delete signal, as the admin user's; the rest are recorded here.

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        with audited_deletes(_user(request), "admin", summarised=_self_audited(obj)):
            if not _signal_audited(obj):
                self._record_deleted(request, [obj])
            super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        # Readings would record one summary event themselves; the admin's, one per device, name the person.
        with audited_deletes(_user(request), "admin", summarised=_self_audited(queryset.model)):
            if queryset.model._meta.label == "telemetry.Reading":
                _record_readings_deleted(_user(request), queryset, "admin")
            elif queryset.model._meta.label == "telemetry.RejectedReading":
                _record_rejected_deleted(_user(request), queryset, "admin")
            elif not _signal_audited(queryset.model):
                self._record_deleted(request, list(queryset))
            super().delete_queryset(request, queryset)

    def _record_deleted(self, request: HttpRequest, objs: list[Any]) -> None:
        for obj in objs:
            AuditEvent.record(
                _user(request),
                AuditAction.DELETE,
                person=_person_of(obj),
                obj=obj,
                summary=f"admin: deleted {describe(obj)}",
            )

    # Looks: a list is one event (a search with what was searched for), a record one event with its person.

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        response = super().changelist_view(request, extra_context)
        cl = getattr(response, "context_data", {}).get("cl") if response.status_code == 200 else None
        if self.audit_views and request.method == "GET" and cl is not None:
            plural = self.model._meta.verbose_name_plural
            filters = {k: ",".join(v) for k, v in cl.get_filters_params().items()}
            if cl.query or filters:
                searched = [f'"{cl.query}"'] if cl.query else []
                searched += [f"{k}={v}" for k, v in sorted(filters.items())]
                action, summary = AuditAction.SEARCH, f"admin: {plural} where {', '.join(searched)}"
            else:
                action, summary = AuditAction.VIEW, f"admin: list of {plural}"
            AuditEvent.record(_user(request), action, summary=f"{summary}: {cl.result_count} found")
        return response

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        response = super().change_view(request, object_id, form_url, extra_context)
        self._record_look(request, object_id, response, "")
        return response

    def delete_view(self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None) -> Any:
        # The confirmation page lists the record and everything its delete would take with it.
        response = super().delete_view(request, object_id, extra_context)
        self._record_look(request, object_id, response, ", delete confirmation")
        return response

    def _record_look(self, request: HttpRequest, object_id: str, response: HttpResponse, what: str) -> None:
        """A record shown (a GET answered 200) is a look at it: audited with its person."""
        if self.audit_views and request.method == "GET" and response.status_code == 200:
            obj = self.get_object(request, unquote(object_id))
            if obj is not None:
                AuditEvent.record(
                    _user(request),
                    AuditAction.VIEW,
                    person=_person_of(obj),
                    obj=obj,
                    summary=f"admin: {describe(obj)}{what}",
                )


def _signal_audited(model_or_obj: Any) -> bool:
    return bool(model_or_obj._meta.label in AUDITED_DELETES)


def _self_audited(model_or_obj: Any) -> bool:
    """Readings and trail blocks record their own deletes (one event per delete), unless told not to."""
    return model_or_obj._meta.label in ("telemetry.Reading", "telemetry.TrailBlock")


def _person_of(obj: Any) -> Any:
    if obj._meta.label in ("telemetry.Reading",):
        return person_wearing(obj.device, obj.t)
    return person_of(obj)


def _record_readings_deleted(user: Any, readings: QuerySet[Model], via: str) -> None:
    """One event per device, with how many and the period, not one per reading."""
    per_device = readings.order_by().values("device").annotate(n=Count("pk"), first=Min("t"), last=Max("t"))
    for row in per_device:
        AuditEvent.record(
            user,
            AuditAction.DELETE,
            person=person_wearing(row["device"], row["last"]),
            summary=f"{via}: deleted {row['n']} readings of device {row['device']}",
            period=(row["first"], row["last"]),
        )


def _record_rejected_deleted(user: Any, rejected: QuerySet[Model], via: str) -> None:
    """Rejected readings are not attributed to anyone: one event with how many and when they came."""
    span = rejected.aggregate(n=Count("pk"), first=Min("received"), last=Max("received"))
    if span["n"]:
        AuditEvent.record(
            user,
            AuditAction.DELETE,
            summary=f"{via}: deleted {span['n']} rejected readings",
            period=(span["first"], span["last"]),
        )
