from django.apps import AppConfig


class AssessmentsConfig(AppConfig):
    name = "openem.assessments"
    label = "assessments"
    verbose_name = "Assessments before the order"
