"""Device keys: issuing, rotating and revoking them, and checking the key a reading came with.

A device proves who it is with its own key (Traccar Client and other OsmAnd senders carry it in the
server URL; MQTT senders in each message), or its readings come through the gateway it is assigned
to, with the gateway's token. Everything else is "not authenticated": kept as a rejected reading,
never evaluated. See docs/operations.md, "Device credentials".
"""

from __future__ import annotations

import hashlib
import secrets
import time
from typing import Any

from django.db import transaction
from django.utils import timezone

from openem.audit.models import AuditAction, AuditEvent

from .models import Device, DeviceKey

CACHE_TTL_S = 60.0  # a revoked key stops working in a running receiver within a minute


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _actor(user: Any) -> str:
    return user.get_username() if user is not None and getattr(user, "is_authenticated", False) else "system"


def issue_key(device: Device, user: Any = None, *, why: str = "") -> str:
    """A new key for the device, returned once; the previous key (if any) is revoked with it."""
    key = secrets.token_urlsafe(24)
    now = timezone.now()
    with transaction.atomic():
        Device.objects.select_for_update().filter(pk=device.pk).first()  # two operators at once: one wins
        rotated = DeviceKey.objects.filter(device=device, revoked_at__isnull=True).update(
            revoked_at=now, revoked_by=_actor(user)
        )
        DeviceKey.objects.create(device=device, digest=digest(key), hint=key[:6], issued_at=now, issued_by=_actor(user))
        AuditEvent.record(
            user,
            AuditAction.CREDENTIAL,
            obj=device,
            summary=f"device {device.ref}: key {'rotated' if rotated else 'issued'} ({key[:6]}...)",
            reason=why,
        )
    return key


def revoke_keys(device: Device, user: Any = None, *, why: str = "") -> int:
    """Revoke the device's key: from now its own readings are refused (a gateway may still send them)."""
    with transaction.atomic():
        n = DeviceKey.objects.filter(device=device, revoked_at__isnull=True).update(
            revoked_at=timezone.now(), revoked_by=_actor(user)
        )
        if n:
            AuditEvent.record(
                user, AuditAction.CREDENTIAL, obj=device, summary=f"device {device.ref}: key revoked", reason=why
            )
    return n


class KeyChecker:
    """Checks device keys, remembering the good ones for a minute (a receiver checks one per request)."""

    def __init__(self, ttl_s: float = CACHE_TTL_S) -> None:
        self.ttl_s = ttl_s
        self._good: dict[tuple[str, str], float] = {}

    def problem(self, device: str | None, key: str | None) -> str | None:
        """None when ``key`` is the active key of ``device``; else why not, for the rejected reading."""
        if not key:
            return "no device key (send it as the key parameter or the last part of the server URL's path)"
        if not device:
            return "no device id"
        d = digest(key)
        until = self._good.get((device, d))
        if until is not None and until > time.monotonic():
            return None
        found = (
            DeviceKey.objects.filter(digest=d, revoked_at__isnull=True).values_list("device__ref", flat=True).first()
        )
        if found != device:
            self._good.pop((device, d), None)
            return "the key is not this device's active key"
        if len(self._good) > 100_000:  # a long-running receiver: forget the oldest half
            self._good = dict(sorted(self._good.items(), key=lambda kv: kv[1])[50_000:])
        self._good[(device, d)] = time.monotonic() + self.ttl_s
        return None
