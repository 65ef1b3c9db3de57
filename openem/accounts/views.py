"""Sign-in pages of our own: the one-time code after the password, setting up an authenticator app, the
account page and changing one's password (Django's views, in our templates)."""

from __future__ import annotations

import base64
from typing import Any

import segno
from django import forms
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import PasswordChangeForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme
from django_otp import devices_for_user
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from openem.audit.models import AuditAction, AuditEvent
from openem.portal.forms import SignInForm

from .signin import client_address

DEVICE_NAME = "Authenticator app"
# django-otp doubles the wait after each wrong code (1 s, 2 s, 4 s...): guessing stays slow.
TOO_MANY_WRONG_CODES = "Too many wrong codes in a row. Wait a few seconds, then enter the code your app shows then."


class SignInView(auth_views.LoginView):
    template_name = "portal/sign_in.html"
    authentication_form = SignInForm


class CodeForm(forms.Form):
    code = forms.CharField(
        label="Code from your authenticator app",
        max_length=10,
        help_text="The 6-digit code your app shows now for OpenEM.",
        error_messages={"required": "Enter the 6-digit code from your authenticator app."},
    )

    def clean_code(self) -> str:
        code = "".join(self.cleaned_data["code"].split())
        if not (code.isdigit() and len(code) == 6):
            raise forms.ValidationError("Enter the 6 digits of the code, for example 123456.")
        return code


def _next(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    safe = url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return target if safe and target else reverse("home")


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """The site's root: each role's own starting page (the case list; the victim liaison officer's victims)."""
    from django.shortcuts import redirect

    return redirect(request.user.home_url_name)  # type: ignore[union-attr]


@login_required
def two_factor_code(request: HttpRequest) -> HttpResponse:
    """After the password: the code from the user's authenticator app."""
    user: Any = request.user
    if user.is_verified():
        return redirect(_next(request))
    device = TOTPDevice.objects.devices_for_user(user, confirmed=True).first()
    if device is None:
        return redirect(f"{reverse('two-factor-setup')}?next={_next(request)}")
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        allowed, _ = device.verify_is_allowed()
        if not allowed:
            form.add_error("code", TOO_MANY_WRONG_CODES)
        elif device.verify_token(form.cleaned_data["code"]):
            otp_login(request, device)
            AuditEvent.record(user, AuditAction.SIGN_IN, obj=user, summary="one-time code accepted")
            return redirect(_next(request))
        else:
            AuditEvent.record(
                None,
                AuditAction.SIGN_IN_FAILED,
                obj=user,
                summary=f"wrong one-time code: username {user.username!r} from {client_address(request)}",
            )
            form.add_error("code", "That code is not right. Enter the code your app shows now.")
    context = {"form": form, "next": _next(request), "awaiting_code": True}
    return render(request, "accounts/two_factor_code.html", context)


@login_required
def two_factor_setup(request: HttpRequest) -> HttpResponse:
    """Set up an authenticator app: scan the QR code (or type the key), then confirm with a code."""
    user: Any = request.user
    if TOTPDevice.objects.devices_for_user(user, confirmed=True).exists():
        messages.info(request, "Two-factor sign-in is already set up. An administrator can reset it if you lose it.")
        return redirect("account")
    device = TOTPDevice.objects.devices_for_user(user, confirmed=False).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=False)
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        allowed, _ = device.verify_is_allowed()
        if not allowed:
            form.add_error("code", TOO_MANY_WRONG_CODES)
        elif device.verify_token(form.cleaned_data["code"]):
            device.confirmed = True
            device.save()
            otp_login(request, device)
            AuditEvent.record(user, AuditAction.CREDENTIAL, obj=user, summary="two-factor sign-in set up")
            messages.success(request, "Two-factor sign-in is set up. You will be asked for a code when you sign in.")
            return redirect(_next(request))
        else:
            form.add_error(
                "code", "That code is not right. Check the app shows OpenEM, then enter the code it shows now."
            )
    secret = base64.b32encode(device.bin_key).decode()
    context = {
        "form": form,
        "next": _next(request),
        "qr_svg": segno.make(device.config_url, error="m").svg_inline(scale=5, dark="#0b0c0c", title="QR code"),
        "secret_groups": [secret[i : i + 4] for i in range(0, len(secret), 4)],
        "required": user.must_use_two_factor,
        # Until the code is confirmed the rest of the portal is out of reach for those who must use one.
        "awaiting_code": user.must_use_two_factor and not user.is_verified(),
    }
    return render(request, "accounts/two_factor_setup.html", context)


@login_required
def account(request: HttpRequest) -> HttpResponse:
    user: Any = request.user
    has_device = any(True for _ in devices_for_user(user, confirmed=True))
    return render(request, "accounts/account.html", {"has_device": has_device, "required": user.must_use_two_factor})


class PasswordChangeView(auth_views.PasswordChangeView):
    template_name = "accounts/password_change.html"
    success_url = reverse_lazy("account")

    def form_valid(self, form: PasswordChangeForm) -> HttpResponse:
        response = super().form_valid(form)
        AuditEvent.record(self.request.user, AuditAction.CREDENTIAL, obj=self.request.user, summary="password changed")  # type: ignore[arg-type]
        messages.success(self.request, "Your password has been changed.")
        return response
