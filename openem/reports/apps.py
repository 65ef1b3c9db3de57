from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "openem.reports"
    label = "reports"
    verbose_name = "Management information and research"
    default_auto_field = "django.db.models.BigAutoField"
