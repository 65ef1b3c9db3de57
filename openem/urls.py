from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from openem.accounts import views as account_views
from openem.telemetry import views as telemetry_views

urlpatterns = [
    path("", account_views.home, name="home"),
    path("sign-in/", account_views.SignInView.as_view(), name="login"),
    path("sign-in/code/", account_views.two_factor_code, name="two-factor-code"),
    path("sign-out/", auth_views.LogoutView.as_view(), name="logout"),
    path("account/", account_views.account, name="account"),
    path("account/password/", account_views.PasswordChangeView.as_view(), name="password-change"),
    path("account/two-factor/", account_views.two_factor_setup, name="two-factor-setup"),
    path("", include("openem.health.urls")),
    path("admin/", admin.site.urls),
    path("ingest/v1/telemetry", telemetry_views.telemetry_batch, name="ingest-telemetry"),
    path("osmand/", telemetry_views.osmand, name="osmand"),
    path("osmand/<str:key>", telemetry_views.osmand, name="osmand-key"),
    path("api/v1/crime/", include("openem.crime.api_urls")),
    path("api/v1/", include("openem.api.urls")),
    path("alerts/", include("openem.alerts.urls")),
    path("devices/", include("openem.devices.urls")),
    path("assessments/", include("openem.assessments.urls")),
    path("", include("openem.crime.urls")),
    path("", include("openem.reports.urls")),
    path("", include("openem.portal.urls")),
]
