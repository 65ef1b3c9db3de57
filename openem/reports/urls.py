from django.urls import path

from . import views

app_name = "reports"

urlpatterns = [
    path("statistics/", views.statistics, name="statistics"),
    path("statistics/measures/<str:code>/", views.measure_page, name="measure"),
    path("statistics/download.<str:fmt>", views.download, name="download"),
    path("research/", views.research, name="research"),
    path("research/<int:pk>/", views.research_project, name="research-project"),
    path("research/<int:pk>/extract/", views.research_extract, name="research-extract"),
    path("people/<int:pk>/equality/", views.equality, name="equality"),
]
