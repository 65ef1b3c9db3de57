from django.urls import path

from . import liaison, views

app_name = "assessments"
urlpatterns = [
    path("", views.index, name="index"),
    path("new/<int:pk>/", views.create, name="create"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/report.pdf", views.report, name="report"),
    path("victims/", liaison.index, name="victims"),
    path("victims/<int:pk>/", liaison.detail, name="victim"),
]
