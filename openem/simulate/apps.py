from django.apps import AppConfig


class SimulateConfig(AppConfig):
    name = "openem.simulate"
    label = "simulate"
    verbose_name = "Simulator"
