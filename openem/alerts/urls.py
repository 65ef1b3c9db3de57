from django.urls import path

from . import views

app_name = "alerts"

urlpatterns = [
    path("", views.queue, name="queue"),
    path("<int:pk>/", views.incident_detail, name="incident"),
    path("<int:pk>/acknowledge", views.acknowledge, name="acknowledge"),
    path("<int:pk>/evidence.pdf", views.evidence_pack, name="evidence"),
]
