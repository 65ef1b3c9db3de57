from django.apps import AppConfig


class TelemetryConfig(AppConfig):
    name = "openem.telemetry"
    label = "telemetry"
    verbose_name = "Telemetry"

    def ready(self) -> None:
        from . import changes

        changes.connect()
