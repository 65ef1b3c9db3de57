from django.apps import AppConfig


class DevicesConfig(AppConfig):
    name = "openem.devices"
    label = "devices"
    verbose_name = "Devices"
