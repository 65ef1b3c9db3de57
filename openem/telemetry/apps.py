from typing import Any

from django.apps import AppConfig


class TelemetryConfig(AppConfig):
    name = "openem.telemetry"
    label = "telemetry"
    verbose_name = "Telemetry"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from . import changes

        changes.connect()
        post_migrate.connect(_ensure_slot_index, sender=self, dispatch_uid="telemetry-ensure-slot-index")


def _ensure_slot_index(sender: AppConfig, using: str = "default", **kwargs: Any) -> None:
    from django.db import connections

    from .trail import ensure_slot_index

    ensure_slot_index(connections[using])
