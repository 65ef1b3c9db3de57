"""The health endpoints by name (the middleware answers them before the URL resolver is reached; these
entries give them names and keep them answering if the middleware is ever left out)."""

from django.urls import path

from . import views

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    path("metrics", views.metrics, name="metrics"),
]
