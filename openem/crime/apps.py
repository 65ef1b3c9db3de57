from django.apps import AppConfig


class CrimeConfig(AppConfig):
    name = "openem.crime"
    label = "crime"
    verbose_name = "Crime matching"
