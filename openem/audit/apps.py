from typing import Any

from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "openem.audit"
    label = "audit"
    verbose_name = "Audit log"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from . import signals

        signals.connect()
        post_migrate.connect(_ensure_triggers, sender=self, dispatch_uid="audit-ensure-triggers")


def _ensure_triggers(sender: AppConfig, using: str = "default", **kwargs: Any) -> None:
    from django.db import connections

    from .triggers import ensure

    ensure(connections[using])
