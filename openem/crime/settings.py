"""The matcher's parameters from Django settings (``OPENEM_CRIME_*``, openem/settings.py): kept apart so
records.py, batches.py and matching.py need no Django."""

from __future__ import annotations

from django.conf import settings

from .records import MatchParams


def from_settings() -> MatchParams:
    d = MatchParams.default()
    return MatchParams(
        distance_m=float(getattr(settings, "OPENEM_CRIME_DISTANCE_M", d.distance_m)),
        buffer_min=float(getattr(settings, "OPENEM_CRIME_BUFFER_MIN", d.buffer_min)),
        max_speed_kmh=float(getattr(settings, "OPENEM_CRIME_MAX_SPEED_KMH", d.max_speed_kmh)),
        max_gap_min=float(getattr(settings, "OPENEM_CRIME_MAX_GAP_MIN", d.max_gap_min)),
        version=str(getattr(settings, "OPENEM_CRIME_PARAMS_VERSION", d.version)),
        max_accuracy_m=float(getattr(settings, "OPENEM_CRIME_MAX_ACCURACY_M", d.max_accuracy_m)),
        unreported_accuracy_m=d.unreported_accuracy_m,
    )
