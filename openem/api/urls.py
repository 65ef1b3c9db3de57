from django.urls import path

from . import views

app_name = "api"

urlpatterns = [
    path("openapi.json", views.openapi, name="openapi"),
    path("people", views.people, name="people"),
    path("people/<str:ref>", views.person, name="person"),
    path("people/<str:ref>/violations", views.violations, name="violations"),
    path("people/<str:ref>/incidents", views.incidents, name="incidents"),
    path("people/<str:ref>/reviews", views.reviews, name="reviews"),
    path("people/<str:ref>/assessments", views.assessments, name="assessments"),
    path("people/<str:ref>/trail", views.trail, name="trail"),
    path("devices", views.devices, name="devices"),
]
