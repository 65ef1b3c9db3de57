from django.urls import path

from . import views

app_name = "crime"

# Distinct first path segments: the navigation marks the section a page is in by its path's start.
urlpatterns = [
    path("batches/", views.batches, name="batches"),
    path("batches/<int:pk>/", views.batch, name="batch"),
    path("batches/<int:pk>/matches.csv", views.matches_csv, name="matches-csv"),
    path("batches/crimes/<int:pk>/", views.crime, name="crime"),
    path("searches/", views.searches, name="search"),
    path("searches/<int:pk>/", views.search_detail, name="search-detail"),
    path("hub/", views.queue, name="queue"),
    path("hub/matches/<int:pk>/", views.match, name="match"),
    path("hub/matches/<int:pk>/review/", views.review, name="review"),
    path("hub/matches/<int:pk>/release/", views.release, name="release"),
    path("hub/matches/<int:pk>/report.pdf", views.report, name="report"),
    path("hub/matches/<int:pk>/positions.csv", views.positions_csv, name="positions-csv"),
    path("verify/", views.verify, name="verify"),
]
