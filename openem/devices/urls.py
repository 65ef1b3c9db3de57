from django.urls import path

from . import views

app_name = "devices"

urlpatterns = [
    path("", views.device_list, name="list"),
    path("new/", views.device_add, name="add"),
    path("<int:pk>/", views.device_detail, name="device"),
    path("<int:pk>/key/<str:action>/", views.device_key, name="key"),
    path("<int:pk>/gateway/", views.device_gateway, name="gateway"),
    path("people/<int:pk>/fit/", views.fit_device, name="fit"),
    path("fittings/<int:pk>/remove/", views.remove_device, name="remove"),
    path("fittings/<int:pk>/swap/", views.swap_device, name="swap"),
]
