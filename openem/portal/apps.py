from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "openem.portal"
    label = "portal"
    verbose_name = "Portal"
