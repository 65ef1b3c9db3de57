from django.apps import AppConfig


class CasesConfig(AppConfig):
    name = "openem.cases"
    label = "cases"
    verbose_name = "Cases and orders"

    def ready(self) -> None:
        from . import warnings

        warnings.connect()
