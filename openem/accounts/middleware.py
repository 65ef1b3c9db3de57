"""Request-wide sign-in rules, each in one place rather than view by view: no caching of pages, session
limits, two-factor sign-in, and the audit of every refusal."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.urls import ResolverMatch, reverse
from django.utils import timezone

from openem.audit.models import AuditAction, AuditEvent
from openem.portal.live import follow_whole_page, is_refresh

from .signin import LAST_SEEN, SIGN_OUT_REASON, SIGNED_IN_AT

Handler = Callable[[HttpRequest], HttpResponse]

# How often the time of the last request is written to the session (a write per request is not needed).
SEEN_RESOLUTION_S = 60


def no_store(get_response: Handler) -> Handler:
    """Pages and exports hold personal data: no browser or proxy keeps a copy. Static files never reach here
    (whitenoise answers them first, with long caching); a view that sets its own caching keeps it (the
    basemap's roads, which hold no personal data)."""

    def middleware(request: HttpRequest) -> HttpResponse:
        response = get_response(request)
        if "max-age" not in response.get("Cache-Control", "") or "no-store" in response.get("Cache-Control", ""):
            response["Cache-Control"] = "no-store"
            response["Pragma"] = "no-cache"
        return response

    return middleware


def session_limits(get_response: Handler) -> Handler:
    """A session ends after OPENEM_IDLE_MINUTES without a request, and SESSION_COOKIE_AGE after sign-in
    (the cookie's own expiry moves with every save, so the sign-in time is kept in the session). A live page's
    automatic refresh is not a request from the user: it keeps nobody signed in (openem.portal.live)."""

    def middleware(request: HttpRequest) -> HttpResponse:
        response = limits(request)
        if not is_refresh(request):
            return response
        # Messages are shown by the page the user opens next, not lost in a refresh that swaps a region.
        storage = getattr(request, "_messages", None)
        if storage is not None:
            storage.used = False
        return follow_whole_page(response) if response.status_code in (301, 302, 303, 307, 308) else response

    def limits(request: HttpRequest) -> HttpResponse:
        if not request.user.is_authenticated:
            return get_response(request)
        session = request.session
        now = timezone.now().timestamp()
        last, signed_in = session.get(LAST_SEEN), session.get(SIGNED_IN_AT)
        idle_minutes = settings.OPENEM_IDLE_MINUTES
        notice = ""
        if last is not None and now - last > idle_minutes * 60:
            notice = f"You were signed out after {idle_minutes} minutes without activity. Sign in again to continue."
            reason = f"{idle_minutes} minutes without activity"
        elif signed_in is not None and now - signed_in > settings.SESSION_COOKIE_AGE:
            hours = settings.SESSION_COOKIE_AGE // 3600
            notice = f"You were signed out {hours} hours after signing in. Sign in again to continue."
            reason = f"{hours} hours after signing in"
        if notice:
            setattr(request, SIGN_OUT_REASON, reason)
            logout(request)
            messages.info(request, notice)
            return redirect_to_login(request.get_full_path() if request.method == "GET" else "/")
        if (last is None or now - last >= SEEN_RESOLUTION_S) and not is_refresh(request):
            session[LAST_SEEN] = now
            session.setdefault(SIGNED_IN_AT, now)
        return get_response(request)

    return middleware


# Pages an unverified user may reach: signing in with a code, setting one up, signing out. The API and the
# device endpoints authenticate each request themselves and never by session.
TWO_FACTOR_FREE = {"login", "logout", "two-factor-code", "two-factor-setup", "admin:logout"}
TWO_FACTOR_FREE_NAMESPACES = {"api"}
TWO_FACTOR_FREE_PATHS = ("/ingest/", "/osmand/")


class two_factor:
    """After the password, a user with a confirmed device gives a code; a user who must use two-factor sign-in
    and has no device sets one up first. Everything else waits until then."""

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view: Any, args: Any, kwargs: Any) -> HttpResponse | None:
        from django_otp import user_has_device

        user: Any = request.user
        if not user.is_authenticated or user.is_verified():
            return None
        match = request.resolver_match
        if match is not None and (match.view_name in TWO_FACTOR_FREE or match.namespace in TWO_FACTOR_FREE_NAMESPACES):
            return None
        if request.path_info.startswith(TWO_FACTOR_FREE_PATHS):
            return None
        if user_has_device(user):
            return redirect_to_login(request.get_full_path(), reverse("two-factor-code"))
        if user.must_use_two_factor:
            return redirect_to_login(request.get_full_path(), reverse("two-factor-setup"))
        return None


def audit_refusals(get_response: Handler) -> Handler:
    """Every 403, and every 404 on a record URL (portal, alerts, crime, API, admin), answered to a signed-in user or an
    API token goes to the audit log as DENIED with the URL and, when the URL names a person, that person."""

    def middleware(request: HttpRequest) -> HttpResponse:
        response = get_response(request)
        if response.status_code not in (403, 404):
            return response
        user: Any = request.user if request.user.is_authenticated else getattr(request, "api_user", None)
        match = request.resolver_match
        if user is None or match is None:
            return response
        if response.status_code == 404 and match.namespace not in RECORD_NAMESPACES:
            return response
        AuditEvent.record(
            user,
            AuditAction.DENIED,
            person=refused_person(match),
            summary=f"refused ({response.status_code}): {request.method} {request.get_full_path()}"[:2000],
        )
        return response

    return middleware


# Crime batches and matches are police data and trails: a look at another force's is on the record too.
RECORD_NAMESPACES = {"portal", "alerts", "api", "admin", "crime", "crime-api"}
# The portal's and alerts' URLs by what their ``pk`` names.
PERSON_URLS = {
    "portal:person",
    "portal:trail",
    "portal:information-sheet",
    "portal:trail-export",
    "portal:order-create",
}
ORDER_URLS = {
    "portal:order",
    "portal:order-vary",
    "portal:review-create",
    "portal:condition-add",
    "portal:condition-vary",
    "portal:condition-remove",
}
INCIDENT_URLS = {"alerts:incident", "alerts:evidence"}
FINDING_URLS = {"crime:match", "crime:review", "crime:release", "crime:report", "crime:positions-csv"}
ADMIN_OBJECT_VIEWS = ("_change", "_delete", "_history")


def refused_person(match: ResolverMatch) -> Any:
    """The person a refused URL names, if any (looked up without the caller's scope: this is the audit)."""
    from django.apps import apps
    from django.core.exceptions import ObjectDoesNotExist

    from openem.alerts.models import Incident
    from openem.cases.models import Order, Person

    kwargs = match.kwargs
    try:
        if match.view_name in PERSON_URLS:
            return Person.objects.filter(pk=kwargs["pk"]).first()
        if match.view_name in ORDER_URLS:
            order = Order.objects.select_related("person").filter(pk=kwargs["pk"]).first()
            return order.person if order else None
        if match.view_name in INCIDENT_URLS:
            incident = Incident.objects.select_related("person").filter(pk=kwargs["pk"]).first()
            return incident.person if incident else None
        if match.view_name in FINDING_URLS:
            finding = (
                apps.get_model("crime", "Finding").objects.select_related("person").filter(pk=kwargs["pk"]).first()
            )
            return finding.person if finding else None
        if match.namespace == "api" and "ref" in kwargs:
            return Person.objects.filter(ref=kwargs["ref"]).first()
        url_name = match.url_name or ""
        if match.namespace == "admin" and "object_id" in kwargs and url_name.endswith(ADMIN_OBJECT_VIEWS):
            app_label, _, rest = url_name.partition("_")
            model = apps.get_model(app_label, rest.rsplit("_", 1)[0])
            obj = model._default_manager.filter(pk=kwargs["object_id"]).first()
            return obj if isinstance(obj, Person) else getattr(obj, "person", None)
    except (LookupError, ValueError, TypeError, ObjectDoesNotExist):  # a dangling id (an audit row's person)
        return None  # a malformed id or an admin URL of a model we do not know: the URL alone is recorded
    return None
