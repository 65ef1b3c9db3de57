from django.apps import AppConfig


class HealthConfig(AppConfig):
    name = "openem.health"
    label = "health"
    verbose_name = "Health of the service"
