"""Signing in: throttling (django-axes), the lockout page, and the audit of every sign-in event.

Failures are counted per account and, separately, per address. Axes compares one count with one limit, so
the address's count is scaled to the account's limit: an address reaches the account limit exactly when
its own failures reach ``OPENEM_SIGNIN_ADDRESS_LIMIT``.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_ip_address, get_client_username, get_cool_off
from axes.models import AccessAttempt
from axes.signals import user_locked_out
from django.conf import settings
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db.models import Sum
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from openem.audit.models import AuditAction, AuditEvent

from .models import User

# Session keys: when the user signed in and when they were last seen (seconds since the epoch).
SIGNED_IN_AT = "openem_signed_in_at"
LAST_SEEN = "openem_last_seen"
# Set on the request before a sign-out that the user did not ask for, so that the audit says why.
SIGN_OUT_REASON = "openem_sign_out_reason"


class SignInAttempts(AxesDatabaseHandler):
    """Axes' database handler with a limit for the account and a (higher) one for the address."""

    def get_failures(self, request: Any, credentials: dict[str, Any] | None = None) -> int:
        counts = dict.fromkeys(settings.AXES_LOCKOUT_PARAMETERS, 0)
        # One query set per lockout parameter, in the order of AXES_LOCKOUT_PARAMETERS.
        for parameter, attempts in zip(
            settings.AXES_LOCKOUT_PARAMETERS, self.get_user_attempts(request, credentials), strict=True
        ):
            counts[parameter] = attempts.aggregate(n=Sum("failures_since_start"))["n"] or 0
        account_limit = settings.OPENEM_SIGNIN_ACCOUNT_LIMIT
        by_address = counts.get("ip_address", 0) * account_limit // settings.OPENEM_SIGNIN_ADDRESS_LIMIT
        return max(counts.get("username", 0), by_address)

    def reset_user_attempts(self, request: Any, credentials: dict[str, Any] | None = None) -> int:
        """A successful sign-in clears only that account's failures from that address. (Axes would clear the
        whole address's too: signing in to one's own account now and then would let an address guess at
        others without end.)"""
        username = get_client_username(request, credentials)
        address = getattr(request, "axes_ip_address", None)  # None (no address known) matches rows without one
        count, _ = AccessAttempt.objects.filter(username=username, ip_address=address).delete()
        return count


def client_ip(request: HttpRequest) -> str | None:
    """The client's address (axes' AXES_CLIENT_IP_CALLABLE). Without OPENEM_BEHIND_PROXY, REMOTE_ADDR only: a
    client can put anything in X-Forwarded-For. Behind OPENEM_PROXY_COUNT proxies of ours, each appends the
    address it saw, so the client's is that many entries from the right; entries further left were sent by
    the client and are not believed. A request that did not pass through them all gives REMOTE_ADDR."""
    remote = request.META.get("REMOTE_ADDR") or None
    if not settings.OPENEM_BEHIND_PROXY:
        return remote
    count = settings.OPENEM_PROXY_COUNT
    entries = [e.strip() for e in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if e.strip()]
    if len(entries) < count:
        return remote
    try:
        return str(ipaddress.ip_address(entries[-count]))
    except ValueError:
        return remote


def client_address(request: HttpRequest) -> str:
    """The client's address as throttling sees it (X-Forwarded-For only behind a proxy we were told of)."""
    return getattr(request, "axes_ip_address", None) or get_client_ip_address(request) or "unknown"


def lockout_message() -> str:
    until = timezone.localtime(timezone.now() + (get_cool_off() or settings.AXES_COOLOFF_TIME))
    return (
        "Too many failed sign-ins for this account or from this address. "
        f"Try again after {until:%H:%M}, or ask your administrator."
    )


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: dict[str, Any] | None = None
) -> HttpResponse:
    """Our sign-in page, with the lockout as its error (the Django admin's sign-in answers the same)."""
    from openem.portal.forms import SignInForm

    form = SignInForm(request, initial={"username": (credentials or {}).get("username", "")})
    context = {"form": form, "lockout": lockout_message(), "next": request.POST.get("next", "")}
    return render(request, "portal/sign_in.html", context, status=429)


@receiver(user_logged_in)
def _signed_in(sender: Any, request: HttpRequest | None, user: User, **kwargs: Any) -> None:
    address = client_address(request) if request is not None else "unknown"
    if request is not None and hasattr(request, "session"):
        now = timezone.now().timestamp()
        request.session[SIGNED_IN_AT] = request.session[LAST_SEEN] = now
    AuditEvent.record(user, AuditAction.SIGN_IN, obj=user, summary=f"signed in from {address}")


@receiver(user_login_failed)
def _sign_in_failed(sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kw: Any) -> None:
    # Django has already masked the password in ``credentials``; only the username is kept.
    username = str(credentials.get("username", ""))[:150]
    address = client_address(request) if request is not None else "unknown"
    account = User.objects.filter(username=username).first()
    AuditEvent.record(
        None, AuditAction.SIGN_IN_FAILED, obj=account, summary=f"failed sign-in: username {username!r} from {address}"
    )


@receiver(user_locked_out)
def _locked_out(sender: Any, request: HttpRequest, username: str | None, ip_address: str, **kwargs: Any) -> None:
    account = User.objects.filter(username=username).first() if username else None
    AuditEvent.record(
        None,
        AuditAction.DENIED,
        obj=account,
        summary=f"sign-in locked: too many failed sign-ins (username {username or ''!r}, address {ip_address})",
    )


@receiver(user_logged_out)
def _signed_out(sender: Any, request: HttpRequest | None, user: User | None, **kwargs: Any) -> None:
    if user is None:
        return
    reason = getattr(request, SIGN_OUT_REASON, "") if request is not None else ""
    AuditEvent.record(user, AuditAction.SIGN_OUT, obj=user, summary=f"signed out{': ' + reason if reason else ''}")
