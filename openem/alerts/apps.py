from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "openem.alerts"
    label = "alerts"
    verbose_name = "Violations and alerts"
