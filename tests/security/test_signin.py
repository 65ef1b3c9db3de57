"""Sign-in and sessions: throttling, the audit of sign-ins and refusals, the password policy, two-factor
sign-in, idle timeout, HTTPS headers, no caching of personal data, and the refusal to start unsafe."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.test import Client
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from openem.accounts.models import ApiToken
from openem.accounts.signin import LAST_SEEN, SIGNED_IN_AT
from openem.audit.models import AuditAction, AuditEvent
from tests.helpers import client_for

ROOT = Path(__file__).resolve().parents[2]
LOCKOUT = re.compile(
    r"Too many failed sign-ins for this account or from this address\. "
    r"Try again after \d\d:\d\d, or ask your administrator\."
)


def sign_in(client: Client, username: str, password: str, address: str = "10.0.0.1", path: str = "/sign-in/"):
    return client.post(path, {"username": username, "password": password}, REMOTE_ADDR=address)


def code_for(device: TOTPDevice, ahead: int = 0) -> str:
    """The code an authenticator app shows, computed from the device's key (``ahead`` steps later)."""
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits)
    totp.time = time.time() + ahead * device.step
    return f"{totp.token():06d}"


def forgive(device: TOTPDevice) -> None:
    """A wrong code makes django-otp wait a second before the next try; the test need not wait."""
    device.refresh_from_db()
    device.throttling_failure_count, device.throttling_failure_timestamp = 0, None
    device.save()


@pytest.fixture
def two_factor_required(settings):
    settings.OPENEM_OTP_REQUIRED_ROLES = ("administrator", "operator")


@pytest.fixture
def small_limits(settings):
    settings.OPENEM_SIGNIN_ACCOUNT_LIMIT = settings.AXES_FAILURE_LIMIT = 3
    settings.OPENEM_SIGNIN_ADDRESS_LIMIT = 6


# ------------------------------------------------------------------ throttling


@pytest.mark.django_db
def test_an_account_is_locked_after_its_failures_from_any_address(personas, small_limits):
    c = Client()
    for i in range(2):
        assert sign_in(c, "alex.practitioner", f"wrong-{i}", address=f"10.0.0.{i}").status_code == 200
    # The third failure locks the account, from whichever address.
    assert LOCKOUT.search(sign_in(c, "alex.practitioner", "wrong-3", address="10.0.0.3").content.decode())
    # The right password, from yet another address: still refused, on our sign-in page.
    r = sign_in(c, "alex.practitioner", "pw", address="10.9.9.9")
    assert r.status_code == 429
    assert LOCKOUT.search(r.content.decode())
    assert b"Sign in to OpenEM" in r.content and "_auth_user_id" not in c.session
    # Someone else signs in as usual.
    assert sign_in(Client(), "bea.practitioner", "pw", address="10.9.9.9").status_code == 302


@pytest.mark.django_db
def test_an_address_is_locked_after_failures_for_many_accounts(personas, small_limits):
    c = Client()
    for i in range(5):  # under the account limit for each name
        assert sign_in(c, f"guess-{i % 3}", "wrong", address="192.0.2.7").status_code == 200
    assert sign_in(c, "guess-3", "wrong", address="192.0.2.7").status_code == 429  # the address's sixth
    r = sign_in(Client(), "bea.practitioner", "pw", address="192.0.2.7")
    assert r.status_code == 429 and LOCKOUT.search(r.content.decode())
    assert sign_in(Client(), "bea.practitioner", "pw", address="192.0.2.8").status_code == 302


PROXY = "10.0.0.254"  # our reverse proxy, the REMOTE_ADDR of every request that comes through it


def via_proxy(username: str, password: str, forwarded_for: str) -> Any:
    return Client().post(
        "/sign-in/", {"username": username, "password": password}, REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=forwarded_for
    )


@pytest.mark.django_db
@pytest.mark.parametrize("hops", [1, 2])
def test_behind_a_proxy_each_client_is_throttled_and_audited_by_its_own_address(personas, small_limits, settings, hops):
    settings.OPENEM_BEHIND_PROXY, settings.OPENEM_PROXY_COUNT = True, hops
    ours = ", ".join(["10.1.0.1"] * (hops - 1))  # what further proxies of ours appended after the client

    def chain(client: str, claimed: str) -> str:  # the client sends ``claimed``; our proxies append
        return ", ".join(x for x in (claimed, client, ours) if x)

    # An attacker guesses for many accounts, claiming a new address each time: its real one is counted.
    for i in range(5):
        assert via_proxy(f"guess-{i % 3}", "wrong", chain("198.51.100.9", f"203.0.113.{i}")).status_code == 200
    assert via_proxy("guess-3", "wrong", chain("198.51.100.9", "203.0.113.99")).status_code == 429
    failed = AuditEvent.objects.filter(action=AuditAction.SIGN_IN_FAILED)
    assert failed.count() == 6 and all(e.summary.endswith("from 198.51.100.9") for e in failed)
    # Everyone else behind the same proxy still signs in, and is audited with their own address.
    assert via_proxy("bea.practitioner", "pw", chain("192.0.2.50", "")).status_code == 302
    assert AuditEvent.objects.get(action=AuditAction.SIGN_IN).summary == "signed in from 192.0.2.50"


@pytest.mark.django_db
def test_without_the_proxy_setting_x_forwarded_for_is_ignored(personas, small_limits):
    # A client that sends X-Forwarded-For itself does not escape the lockout by changing it.
    for i in range(5):
        r = Client().post(
            "/sign-in/",
            {"username": f"guess-{i % 3}", "password": "wrong"},
            REMOTE_ADDR="192.0.2.7",
            HTTP_X_FORWARDED_FOR=f"203.0.113.{i}",
        )
        assert r.status_code == 200
    assert via_proxy("guess-3", "wrong", "203.0.113.99").status_code == 200  # another REMOTE_ADDR: counted apart
    assert sign_in(Client(), "guess-3", "wrong", address="192.0.2.7").status_code == 429
    failed = AuditEvent.objects.filter(action=AuditAction.SIGN_IN_FAILED).order_by("id")
    assert [e.summary.rsplit(" ", 1)[1] for e in failed] == ["192.0.2.7"] * 5 + [PROXY, "192.0.2.7"]


@pytest.mark.django_db
def test_signing_in_to_ones_own_account_does_not_clear_the_address(personas, small_limits):
    for i in range(5):
        sign_in(Client(), f"guess-{i % 3}", "wrong", address="192.0.2.7")
        assert sign_in(Client(), "bea.practitioner", "pw", address="192.0.2.7").status_code == 302
    assert sign_in(Client(), "guess-3", "wrong", address="192.0.2.7").status_code == 429


@pytest.mark.django_db
def test_a_mistyped_password_is_forgotten_after_signing_in(personas, small_limits):
    for _ in range(2):
        sign_in(Client(), "alex.practitioner", "typo")
        assert sign_in(Client(), "alex.practitioner", "pw").status_code == 302


@pytest.mark.django_db
def test_the_admin_sign_in_is_throttled_too(personas, small_limits):
    c = Client()
    for _ in range(3):
        sign_in(c, "admin", "wrong", path="/admin/login/")
    r = sign_in(c, "admin", "pw", path="/admin/login/")
    assert r.status_code == 429 and LOCKOUT.search(r.content.decode())


@pytest.mark.django_db
def test_an_administrator_unlocks_an_account(personas, small_limits):
    for _ in range(3):
        sign_in(Client(), "alex.practitioner", "wrong")
    assert sign_in(Client(), "alex.practitioner", "pw").status_code == 429
    admin = client_for(personas["admin"])
    r = admin.post(
        "/admin/accounts/user/",
        {"action": "unlock_sign_in", "_selected_action": [personas["practitioner"].pk]},
        follow=True,
    )
    assert b"Sign-in unlocked for 1 user" in r.content
    assert sign_in(Client(), "alex.practitioner", "pw").status_code == 302
    assert AuditEvent.objects.filter(action=AuditAction.CREDENTIAL, summary__contains="sign-in unlocked").exists()


# ------------------------------------------------------------------ audit


@pytest.mark.django_db
def test_sign_in_failed_sign_in_sign_out_and_lockout_are_audited(personas, small_limits):
    c = Client()
    sign_in(c, "alex.practitioner", "pw", address="203.0.113.5")
    signed_in = AuditEvent.objects.get(action=AuditAction.SIGN_IN)
    assert signed_in.actor_name == "alex.practitioner" and "203.0.113.5" in signed_in.summary
    c.post("/sign-out/")
    assert AuditEvent.objects.filter(action=AuditAction.SIGN_OUT, actor=personas["practitioner"]).exists()

    for _ in range(3):
        sign_in(Client(), "alex.practitioner", "Secret-Guess-42", address="198.51.100.9")
    failed = AuditEvent.objects.filter(action=AuditAction.SIGN_IN_FAILED)
    assert failed.count() == 3
    assert all("'alex.practitioner'" in e.summary and "198.51.100.9" in e.summary for e in failed)
    locked = AuditEvent.objects.get(action=AuditAction.DENIED)
    assert "too many failed sign-ins" in locked.summary and "198.51.100.9" in locked.summary
    # The password tried is nowhere in the log.
    assert not AuditEvent.objects.filter(summary__contains="Secret-Guess-42").exists()


@pytest.mark.django_db
def test_refusals_are_audited_with_the_url_and_the_person(personas, case, incident):
    other = client_for(personas["other"])
    assert other.get(f"/people/{case.pk}/").status_code == 404
    assert other.get(f"/alerts/{incident.pk}/").status_code == 404
    order = case.orders.first()
    assert other.get(f"/orders/{order.pk}/").status_code == 404
    denied = AuditEvent.objects.filter(action=AuditAction.DENIED, actor=personas["other"])
    assert {e.summary for e in denied} == {
        f"refused (404): GET /people/{case.pk}/",
        f"refused (404): GET /alerts/{incident.pk}/",
        f"refused (404): GET /orders/{order.pk}/",
    }
    assert {e.person_ref for e in denied} == {"P0001"}

    assert client_for(personas["police"]).get("/cases/").status_code == 403
    assert AuditEvent.objects.filter(action=AuditAction.DENIED, actor=personas["police"], summary__contains="/cases/")

    token = ApiToken.issue(personas["other"], "test")[1]
    r = Client().get("/api/v1/people/P0001/trail", HTTP_AUTHORIZATION=f"Token {token}")
    assert r.status_code == 404
    api = AuditEvent.objects.get(action=AuditAction.DENIED, summary__contains="/api/v1/people/P0001/trail")
    assert api.actor == personas["other"] and api.person_ref == "P0001"


@pytest.mark.django_db
def test_an_admin_refusal_names_the_person(personas, case, django_user_model):
    clerk = django_user_model.objects.create_user("clerk", password="pw", is_staff=True)
    r = client_for(clerk).get(f"/admin/cases/person/{case.pk}/change/")
    assert r.status_code == 403
    event = AuditEvent.objects.get(action=AuditAction.DENIED, actor=clerk)
    assert event.person_ref == "P0001" and f"/admin/cases/person/{case.pk}/change/" in event.summary


@pytest.mark.django_db
def test_pages_that_are_answered_are_not_refusals(personas, case):
    assert client_for(personas["practitioner"]).get(f"/people/{case.pk}/").status_code == 200
    assert not AuditEvent.objects.filter(action=AuditAction.DENIED).exists()


# ------------------------------------------------------------------ password policy


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("password", "complaint"),
    [
        ("alex.practitioner", "too similar to the username"),
        ("Practitioner!", "too similar to the username"),
        ("Kettle-9", "at least 12 characters"),
        ("password1234", "too common"),
        ("202611234567", "entirely numeric"),
    ],
)
def test_the_password_policy_refuses_weak_passwords(personas, password, complaint):
    with pytest.raises(ValidationError) as e:
        validate_password(password, personas["practitioner"])
    assert any(complaint in m for m in e.value.messages), e.value.messages


MADE_OF_NAMES = "made mostly of your username, your name or years"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("who", "password"),
    [
        ("rt.two", "rt.two.rt.two"),
        ("rt.two", "RT.TWO.RT.TWO!"),
        ("rt.two", "rttwo2026rttwo"),
        ("admin", "adminadminadmin"),
        ("admin", "Admin-2026-Admin"),
        ("admin", "Ada-Admin-1990-2026"),  # first and last name, two years
        ("alex.practitioner", "Practitioner2026Okafor"),
    ],
)
def test_the_password_policy_refuses_passwords_made_of_the_names(personas, django_user_model, who, password):
    user = personas["admin"] if who == "admin" else personas["practitioner"]
    if who == "rt.two":
        user = django_user_model.objects.create_user("rt.two", first_name="Robin", last_name="Tan")
    with pytest.raises(ValidationError) as e:
        validate_password(password, user)
    assert any(MADE_OF_NAMES in m for m in e.value.messages), e.value.messages


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["practitioner", "admin"])
@pytest.mark.parametrize("password", ["openem-demo-2026", "OpenEM-demo-2027!", "0pen3m-password-x", "my open em key"])
def test_the_demo_password_and_the_products_name_are_refused_for_anyone(personas, who, password):
    with pytest.raises(ValidationError) as e:
        validate_password(password, personas[who])
    assert any('contains "OpenEM"' in m for m in e.value.messages), e.value.messages


@pytest.mark.django_db
def test_the_personas_keep_the_demo_password_and_good_passwords_pass(personas):
    from openem.accounts.personas import DEMO_PASSWORD, create_personas

    # The demo's logins are given it without the policy (set_password), and still sign in with it.

    create_personas(DEMO_PASSWORD)
    assert sign_in(Client(), "alex.practitioner", DEMO_PASSWORD).status_code == 302
    for password in ("kettle orbit lantern", "alex-kettle-orbit-lantern", "Admin plus 2026 lanterns"):
        validate_password(password, personas["practitioner"])
    validate_password("Admin plus 2026 lanterns", personas["admin"])


@pytest.mark.django_db
def test_people_change_their_own_password_under_the_policy(personas):
    c = client_for(personas["practitioner"])
    page = c.get("/account/password/")
    assert page.status_code == 200 and b"have at least 12 characters" in page.content
    weak = {"old_password": "pw", "new_password1": "alexokafor", "new_password2": "alexokafor"}
    r = c.post("/account/password/", weak)
    assert r.status_code == 200
    assert b"too similar to the" in r.content and b"at least 12 characters" in r.content
    good = {"old_password": "pw", "new_password1": "kettle orbit lantern", "new_password2": "kettle orbit lantern"}
    r = c.post("/account/password/", good, follow=True)
    assert b"Your password has been changed." in r.content
    assert sign_in(Client(), "alex.practitioner", "kettle orbit lantern").status_code == 302
    e = AuditEvent.objects.get(action=AuditAction.CREDENTIAL, summary="password changed")
    assert (e.actor, e.object_type, e.object_id) == (personas["practitioner"], "User", str(personas["practitioner"].pk))


# ------------------------------------------------------------------ two-factor sign-in


@pytest.mark.django_db
@pytest.mark.parametrize(("who", "required"), [("admin", True), ("operator", True), ("practitioner", False)])
def test_two_factor_is_required_for_administrators_and_operators(personas, two_factor_required, who, required):
    r = client_for(personas[who]).get("/cases/")
    if required:
        assert r.status_code == 302 and r["Location"].startswith("/account/two-factor/?next=/cases/")
    else:
        assert r.status_code == 200


@pytest.mark.django_db
def test_the_admin_site_waits_for_the_code_too(personas, two_factor_required):
    r = client_for(personas["admin"]).get("/admin/")
    assert r.status_code == 302 and r["Location"].startswith("/account/two-factor/")


def test_the_demo_requires_no_two_factor_and_production_does():
    def roles(**env: str) -> str:
        return _python("from django.conf import settings; print(settings.OPENEM_OTP_REQUIRED_ROLES)", **env)

    assert roles(OPENEM_DEMO="1") == "()"
    assert roles() == "('administrator', 'operator')"
    assert (
        roles(OPENEM_OTP_REQUIRED_ROLES="administrator,operator,manager") == "('administrator', 'operator', 'manager')"
    )


@pytest.mark.django_db
def test_a_full_sign_in_with_a_one_time_code(personas, two_factor_required):
    c = Client()
    r = sign_in(c, "omar.operator", "pw")
    assert r.status_code == 302
    setup = c.get(r["Location"], follow=True)
    assert setup.request["PATH_INFO"] == "/account/two-factor/"
    assert b"<svg" in setup.content and b"Set up two-factor sign-in" in setup.content
    device = TOTPDevice.objects.get(user=personas["operator"], confirmed=False)
    secret = "".join(setup.context["secret_groups"])
    assert secret.encode() in setup.content.replace(b"<span>", b"").replace(b"</span> ", b"")

    wrong = c.post(
        "/account/two-factor/?next=/cases/", {"code": "000000" if code_for(device) != "000000" else "111111"}
    )
    assert b"That code is not right" in wrong.content
    assert b"Too many wrong codes" in c.post("/account/two-factor/", {"code": code_for(device)}).content
    forgive(device)
    r = c.post("/account/two-factor/?next=/cases/", {"code": code_for(device), "next": "/cases/"})
    assert r.status_code == 302 and r["Location"] == "/cases/"
    assert c.get("/cases/").status_code == 200
    assert AuditEvent.objects.filter(action=AuditAction.CREDENTIAL, summary="two-factor sign-in set up").exists()

    # Next time: the password, then the code.
    c.post("/sign-out/")
    c = Client()
    assert sign_in(c, "omar.operator", "pw").status_code == 302
    r = c.get("/cases/")
    assert r.status_code == 302 and r["Location"].startswith("/sign-in/code/")
    prompt = c.get(r["Location"])
    assert b"Enter the code from your authenticator app" in prompt.content
    r = c.post("/sign-in/code/", {"code": "12 34", "next": "/cases/"})
    assert b"Enter the 6 digits of the code" in r.content
    device.refresh_from_db()
    wrong_code = "000000" if code_for(device, ahead=1) != "000000" else "111111"
    r = c.post("/sign-in/code/", {"code": wrong_code, "next": "/cases/"})
    assert b"That code is not right" in r.content
    assert AuditEvent.objects.filter(action=AuditAction.SIGN_IN_FAILED, summary__startswith="wrong one-time code")
    forgive(device)
    r = c.post("/sign-in/code/", {"code": code_for(device, ahead=1), "next": "/cases/"})
    assert r.status_code == 302 and r["Location"] == "/cases/"
    assert c.get("/cases/").status_code == 200


@pytest.mark.django_db
def test_two_factor_is_optional_for_a_practitioner_and_asked_for_once_set_up(personas, two_factor_required):
    c = client_for(personas["practitioner"])
    account = c.get("/account/")
    assert b"Off (optional for your role)" in account.content
    c.get("/account/two-factor/")
    device = TOTPDevice.objects.get(user=personas["practitioner"])
    assert c.post("/account/two-factor/", {"code": code_for(device)}).status_code == 302
    assert b"On: you give a code" in c.get("/account/").content
    later = client_for(personas["practitioner"])
    assert later.get("/cases/")["Location"].startswith("/sign-in/code/")


@pytest.mark.django_db
def test_an_administrator_resets_a_lost_device(personas, two_factor_required):
    device = TOTPDevice.objects.create(user=personas["operator"], name="phone", confirmed=True)
    assert client_for(personas["operator"]).get("/cases/")["Location"].startswith("/sign-in/code/")
    admin = client_for(personas["admin"])
    admin_device = TOTPDevice.objects.create(user=personas["admin"], name="phone", confirmed=True)
    admin.post("/sign-in/code/", {"code": code_for(admin_device)})
    r = admin.post(
        "/admin/accounts/user/",
        {"action": "reset_two_factor", "_selected_action": [personas["operator"].pk]},
        follow=True,
    )
    assert b"Two-factor sign-in reset for 1 user" in r.content
    assert not TOTPDevice.objects.filter(pk=device.pk).exists()
    assert client_for(personas["operator"]).get("/cases/")["Location"].startswith("/account/two-factor/")
    event = AuditEvent.objects.get(action=AuditAction.CREDENTIAL, summary__contains="two-factor sign-in reset")
    assert event.actor == personas["admin"] and event.summary.startswith("omar.operator")


# ------------------------------------------------------------------ sessions


@pytest.mark.django_db
def test_an_idle_session_ends_with_a_message(personas, settings):
    c = client_for(personas["practitioner"])
    assert c.get("/cases/").status_code == 200
    session = c.session
    session[LAST_SEEN] -= 31 * 60
    session.save()
    r = c.get("/cases/", follow=True)
    assert r.redirect_chain[0][0] == "/sign-in/?next=/cases/"
    assert b"You were signed out after 30 minutes without activity" in r.content
    assert not r.context["user"].is_authenticated
    assert AuditEvent.objects.filter(action=AuditAction.SIGN_OUT, summary="signed out: 30 minutes without activity")


@pytest.mark.django_db
def test_a_session_in_use_still_ends_eight_hours_after_sign_in(personas):
    c = client_for(personas["practitioner"])
    session = c.session
    session[SIGNED_IN_AT] -= 8 * 3600 + 1
    session.save()
    r = c.get("/cases/", follow=True)
    assert b"You were signed out 8 hours after signing in" in r.content


@pytest.mark.django_db
def test_a_session_in_use_stays_signed_in(personas):
    c = client_for(personas["practitioner"])
    session = c.session
    session[LAST_SEEN] -= 29 * 60
    session.save()
    assert c.get("/cases/").status_code == 200
    assert c.get("/cases/").status_code == 200  # and the clock started again


# ------------------------------------------------------------------ headers


@pytest.mark.django_db
def test_pages_exports_and_the_api_are_never_cached(personas, case):
    c = client_for(personas["practitioner"])
    period = {"start": "2026-11-10T08:00", "end": "2026-11-10T12:00", "reason": "supervision"}
    token = ApiToken.issue(personas["practitioner"], "test")[1]
    for r in (
        c.get(f"/people/{case.pk}/"),
        c.get(f"/people/{case.pk}/trail.csv", period),
        Client().get("/api/v1/people/P0001", HTTP_AUTHORIZATION=f"Token {token}"),
        Client().get("/sign-in/"),
    ):
        assert r.status_code == 200
        assert r["Cache-Control"] == "no-store" and r["Pragma"] == "no-cache"
    static = Client().get("/static/portal/portal.css")
    assert static.status_code == 200 and "no-store" not in static.get("Cache-Control", "")


@pytest.mark.django_db
def test_every_page_forbids_framing_sniffing_and_cross_site_referrers(personas):
    r = Client().get("/sign-in/")
    assert r["X-Frame-Options"] == "DENY"
    assert r["X-Content-Type-Options"] == "nosniff"
    assert r["Referrer-Policy"] == "same-origin"


def test_https_setting_turns_on_secure_cookies_hsts_and_redirects():
    code = (
        "from django.conf import settings as s; "
        "print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS, "
        "s.SECURE_HSTS_INCLUDE_SUBDOMAINS, s.SECURE_PROXY_SSL_HEADER)"
    )
    assert _python(code) == "False False False 0 False None"
    assert _python(code, OPENEM_HTTPS="1") == "True True True 31536000 True None"
    assert _python(code, OPENEM_HTTPS="1", OPENEM_BEHIND_PROXY="1").endswith("('HTTP_X_FORWARDED_PROTO', 'https')")


@pytest.mark.django_db
def test_under_https_cookies_are_secure_and_hsts_is_sent(personas, settings):
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = True
    settings.SECURE_HSTS_SECONDS, settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = 31536000, True
    c = Client()
    r = c.post("/sign-in/", {"username": "alex.practitioner", "password": "pw"}, secure=True)
    assert r.status_code == 302
    assert r.cookies["sessionid"]["secure"] and r.cookies["sessionid"]["httponly"]
    assert r["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    assert c.get("/sign-in/", secure=True).cookies["csrftoken"]["secure"]


# ------------------------------------------------------------------ refusing to start unsafe


def test_production_refuses_the_shipped_secret_key_and_debug():
    r = _openem("check")
    assert r.returncode != 0 and "OPENEM_SECRET_KEY" in r.stderr and "Traceback" not in r.stderr
    r = _openem("check", OPENEM_SECRET_KEY=_KEY, OPENEM_DEBUG="1")
    assert r.returncode != 0 and "unset OPENEM_DEBUG" in r.stderr
    assert _openem("check", OPENEM_DEMO="1").returncode == 0
    assert _openem("check", OPENEM_SECRET_KEY=_KEY).returncode == 0


def test_the_refusal_applies_outside_tests(settings):
    from openem.safety import refuse_unsafe_settings

    refuse_unsafe_settings()  # the suite itself may run
    settings.OPENEM_TESTING = False
    with pytest.raises(ImproperlyConfigured, match="OPENEM_SECRET_KEY"):
        refuse_unsafe_settings()


@pytest.mark.parametrize(
    ("key", "why"),
    [
        ("abc", "3 characters, 3 different"),
        ("ab" * 40, "80 characters, 2 different"),  # long, but two characters over and over
        ("k3Y9" * 12 + "z", "49 characters, 5 different"),
    ],
)
def test_a_weak_secret_key_is_refused(settings, key, why):
    from openem.safety import refuse_unsafe_settings

    settings.OPENEM_TESTING, settings.SECRET_KEY = False, key
    with pytest.raises(ImproperlyConfigured, match="OPENEM_SECRET_KEY is too weak") as e:
        refuse_unsafe_settings()
    assert why in str(e.value) and "secrets.token_urlsafe(50)" in str(e.value)
    settings.SECRET_KEY = _KEY
    refuse_unsafe_settings()


def test_openem_does_not_start_with_a_weak_secret_key():
    r = _openem("check", OPENEM_SECRET_KEY="abc")
    assert r.returncode != 0 and "OPENEM_SECRET_KEY is too weak" in r.stderr and "Traceback" not in r.stderr


def test_testserver_is_an_allowed_host_only_in_the_test_suite(settings):
    assert "testserver" in settings.ALLOWED_HOSTS
    assert _python("from django.conf import settings; print(settings.ALLOWED_HOSTS)") == "['127.0.0.1', 'localhost']"


def test_check_deploy_reports_nothing_in_production():
    code = "from django.core.management import call_command; call_command('check', deploy=True, fail_level='DEBUG')"
    _python(code, OPENEM_SECRET_KEY=_KEY, OPENEM_HTTPS="1")
    r = _openem("check", "--deploy", "--fail-level", "DEBUG", OPENEM_SECRET_KEY=_KEY, OPENEM_HTTPS="1")
    assert r.returncode == 0, r.stderr
    # One check silenced, with its reason beside it in settings: HSTS preload is the domain owner's choice.
    assert "System check identified no issues (1 silenced)." in r.stdout


_KEY = "a-real-secret-key-for-the-test-" + "x7Q2m9Vb4Lp8Rt3Wz6Yc1Nd5Hf0Jk" * 2


def _env(**extra: str) -> dict[str, str]:
    """A production environment: not the test suite (no PYTEST_VERSION), not the demo."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "OPENEM_", "DJANGO_"))}
    env.update(PYTHONPATH=str(ROOT), OPENEM_DATA_DIR=os.environ.get("TMPDIR", "/tmp") + "/openem-signin-test", **extra)
    return env


def _python(code: str, **env: str) -> str:
    prelude = "import os, django; os.environ['DJANGO_SETTINGS_MODULE'] = 'openem.settings'; django.setup(); "
    r = subprocess.run(
        [sys.executable, "-c", prelude + code], cwd=ROOT, env=_env(**env), capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def _openem(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "openem.cli", *args],
        cwd=ROOT,
        env=_env(**env),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_an_unknown_role_in_the_two_factor_setting_is_named(settings):
    from openem.accounts.apps import check_two_factor_roles

    settings.OPENEM_OTP_REQUIRED_ROLES = ("administrator", "operater")
    [error] = check_two_factor_roles()
    assert "unknown roles: operater" in error.msg and "operator" in (error.hint or "")
