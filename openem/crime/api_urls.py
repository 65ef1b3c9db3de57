from django.urls import path

from . import api

app_name = "crime-api"

urlpatterns = [
    path("batches", api.batches, name="batches"),
    path("batches/<int:pk>", api.batch, name="batch"),
]
