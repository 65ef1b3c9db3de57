"""An operator signs in for the first time outside the demo: password, then setting up an authenticator app
from the QR page, then the next sign-in with a code; and a locked account sees why."""

from __future__ import annotations

import re

import pytest
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.security.test_signin import code_for

from .conftest import shot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def password_step(page, live_server, username="omar.operator", password="pw"):
    page.goto(f"{live_server.url}/sign-in/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")


def test_an_operator_sets_up_two_factor_sign_in_then_signs_in_with_a_code(page, live_server, personas, settings):
    settings.OPENEM_OTP_REQUIRED_ROLES = ("administrator", "operator")
    password_step(page, live_server)
    page.wait_for_selector("h1:has-text('Set up two-factor sign-in')")
    qr = page.locator(".app-qr svg").bounding_box()
    assert qr is not None and qr["width"] > 120, "the QR code is big enough to scan"
    shot(page, "signin-01-two-factor-setup")
    page.click("text=I cannot scan the QR code")
    secret = page.inner_text("#secret").replace(" ", "")
    assert re.fullmatch(r"[A-Z2-7=]{32}", secret)
    device = TOTPDevice.objects.get(user=personas["operator"])
    page.fill("#id_code", code_for(device))
    page.click("button:has-text('Confirm and continue')")
    page.wait_for_selector("text=Two-factor sign-in is set up")
    assert page.url.endswith("/cases/")

    page.click("text=Sign out")
    password_step(page, live_server)
    page.wait_for_selector("h1:has-text('Enter the code from your authenticator app')")
    page.fill("#id_code", "99 9")
    page.click("button:has-text('Continue')")
    page.wait_for_selector(".govuk-error-summary")
    shot(page, "signin-02-code-prompt-error")
    page.fill("#id_code", code_for(device, ahead=1))
    page.click("button:has-text('Continue')")
    page.wait_for_selector("h1:has-text('All cases')")
    assert page.js_errors == []


def test_a_locked_account_is_told_when_to_try_again(page, live_server, personas, settings):
    settings.OPENEM_SIGNIN_ACCOUNT_LIMIT = settings.AXES_FAILURE_LIMIT = 2
    for _ in range(2):
        password_step(page, live_server, "alex.practitioner", "not-the-password")
    assert "Too many failed sign-ins for this account or from this address" in page.inner_text(".govuk-error-summary")
    shot(page, "signin-03-locked")


def test_a_practitioner_changes_their_password(page, live_server, personas):
    password_step(page, live_server, "alex.practitioner")
    page.click("text=Your account")
    page.click("text=Change password")
    page.fill("#id_old_password", "pw")
    page.fill("#id_new_password1", "alexpractitioner")
    page.fill("#id_new_password2", "alexpractitioner")
    page.click("button:has-text('Change password')")
    page.wait_for_selector(".govuk-error-summary")
    assert "too similar to the username" in page.inner_text(".govuk-error-summary")
    shot(page, "signin-04-password-change")
    page.fill("#id_old_password", "pw")
    page.fill("#id_new_password1", "kettle orbit lantern")
    page.fill("#id_new_password2", "kettle orbit lantern")
    page.click("button:has-text('Change password')")
    page.wait_for_selector("text=Your password has been changed.")
    shot(page, "signin-05-account")
