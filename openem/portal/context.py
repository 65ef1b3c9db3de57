from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.urls import reverse

from openem.accounts.models import Role


def portal(request: HttpRequest) -> dict[str, Any]:
    user = request.user
    nav: list[tuple[str, str]] = []
    if user.is_authenticated and user.sees_case_records:
        label = {Role.PRACTITIONER: "My cases", Role.MANAGER: "Team cases"}.get(Role(user.role), "All cases")
        nav.append((label, reverse("portal:cases")))
        nav.append(("Alerts", reverse("alerts:queue")))
        if user.can_set_up_orders:
            nav.append(("Assessments", reverse("assessments:index")))
        if user.sees_centre:
            nav.append(("Monitoring centre", reverse("portal:centre")))
    if user.is_authenticated and user.liaises_with_victims:
        nav.append(("Victims", reverse("assessments:victims")))
    if user.is_authenticated and user.sends_crime_batches:
        nav.append(("Crime batches", reverse("crime:batches")))
        nav.append(("Search", reverse("crime:search")))
        nav.append(("Verify a report", reverse("crime:verify")))
    if user.is_authenticated and user.works_crime_hub:
        nav.append(("Matches to review", reverse("crime:queue")))
        nav.append(("Verify a report", reverse("crime:verify")))
    if user.is_authenticated and user.sees_statistics:
        nav.append(("Statistics", reverse("reports:statistics")))
    if user.is_authenticated and user.analyses_nationally:
        nav.append(("Research extracts", reverse("reports:research")))
    if user.is_authenticated and user.manages_devices:
        nav.append(("Devices", reverse("devices:list")))
    if user.is_authenticated and user.is_staff:
        nav.append(("Administration", reverse("admin:index")))
    return {
        "nav_items": nav,
        "hours": range(24),
        "tile_url": settings.OPENEM_TILE_URL,
        "tile_attribution": settings.OPENEM_TILE_ATTRIBUTION,
    }
