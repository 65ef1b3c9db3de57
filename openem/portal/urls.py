from django.urls import path

from . import basemap, centre, orders, reviews, trail, views

app_name = "portal"

urlpatterns = [
    path("cases/", views.case_list, name="cases"),
    path("centre/", centre.centre, name="centre"),
    path("centre/faults/<int:pk>/resolve/", centre.fault_resolve, name="fault-resolve"),
    path("map/roads.geojson", basemap.roads, name="roads"),
    path("people/<int:pk>/", views.person_detail, name="person"),
    path("people/<int:pk>/trail/", trail.trail, name="trail"),
    path("people/<int:pk>/information-sheet/", views.information_sheet, name="information-sheet"),
    path("people/<int:pk>/trail.<str:fmt>", trail.trail_export, name="trail-export"),
    path("people/<int:pk>/orders/new/", orders.order_create, name="order-create"),
    path("orders/<int:pk>/", orders.order_detail, name="order"),
    path("orders/<int:pk>/vary/", orders.order_vary, name="order-vary"),
    path("orders/<int:pk>/reviews/<str:stage>/", reviews.review_create, name="review-create"),
    path("orders/<int:pk>/conditions/new/<str:ctype>/", orders.condition_edit, name="condition-add"),
    path("orders/<int:pk>/conditions/<int:cpk>/vary/", orders.condition_edit, name="condition-vary"),
    path("orders/<int:pk>/conditions/<int:cpk>/remove/", orders.condition_remove, name="condition-remove"),
]
