"""One class per notification channel. ``send`` returns, or raises ``Transient`` (try again later) or
``Permanent`` (trying again cannot help: an operator must look)."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any, ClassVar

import requests
from django.conf import settings
from django.core.mail import EmailMessage

from .models import ChannelKind, Notification


class Transient(Exception):
    pass


class Permanent(Exception):
    pass


class Transport:
    kind: ClassVar[ChannelKind]

    def send(self, n: Notification) -> None:
        raise NotImplementedError


class Email(Transport):
    kind = ChannelKind.EMAIL

    def send(self, n: Notification) -> None:
        try:
            EmailMessage(n.subject, n.body, settings.OPENEM_NOTIFY_FROM, [n.channel.target]).send()
        except (OSError, TimeoutError) as e:  # SMTP servers come back
            raise Transient(f"email not sent: {e}") from e


class GovukNotify(Transport):
    """GOV.UK Notify, through its own client; one email template with ``subject`` and ``body`` fields."""

    kind = ChannelKind.NOTIFY

    def send(self, n: Notification) -> None:
        from notifications_python_client.errors import HTTPError
        from notifications_python_client.notifications import NotificationsAPIClient

        key, template = settings.OPENEM_NOTIFY_API_KEY, settings.OPENEM_NOTIFY_TEMPLATE_ID
        if not key or not template:
            raise Permanent("GOV.UK Notify is not configured: set OPENEM_NOTIFY_API_KEY and OPENEM_NOTIFY_TEMPLATE_ID")
        client = NotificationsAPIClient(key, base_url=settings.OPENEM_NOTIFY_BASE_URL)
        try:
            client.send_email_notification(
                email_address=n.channel.target,
                template_id=template,
                personalisation={"subject": n.subject, "body": n.body},
                reference=f"openem-{n.pk}",
            )
        except HTTPError as e:
            status = getattr(e, "status_code", 0) or 0
            if status == 429 or status >= 500:
                raise Transient(f"GOV.UK Notify answered {status}: {e.message}") from e
            raise Permanent(f"GOV.UK Notify refused it ({status}): {e.message}") from e
        except requests.RequestException as e:
            raise Transient(f"GOV.UK Notify unreachable: {e}") from e


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """HMAC-SHA256 over "timestamp.body", so a receiver can check both origin and freshness."""
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


class Webhook(Transport):
    kind = ChannelKind.WEBHOOK
    timeout_s = 10

    def payload(self, n: Notification) -> dict[str, Any]:
        inc = n.incident
        return {
            "notification": n.pk,
            "kind": n.kind,
            "subject": n.subject,
            "incident": None
            if inc is None
            else {
                "id": inc.pk,
                "person": inc.person.ref if inc.person else None,
                "crn": inc.person.crn if inc.person else None,
                "kind": inc.kind,
                "severity": inc.severity,
                "summary": inc.summary,
                "start": inc.start.isoformat(),
                "end": inc.end.isoformat() if inc.end else None,
                "url": f"{settings.OPENEM_BASE_URL}/alerts/{inc.pk}/",
            },
        }

    def send(self, n: Notification) -> None:
        body = json.dumps(self.payload(n), sort_keys=True).encode()
        stamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "OpenEM-Timestamp": stamp,
            "OpenEM-Signature": f"sha256={signature(n.channel.secret, stamp, body)}",
        }
        try:
            r = requests.post(n.channel.target, data=body, headers=headers, timeout=self.timeout_s)
        except requests.RequestException as e:
            raise Transient(f"webhook unreachable: {e}") from e
        if r.status_code == 429 or r.status_code >= 500:
            raise Transient(f"webhook answered {r.status_code}")
        if r.status_code >= 400:
            raise Permanent(f"webhook refused it ({r.status_code}): {r.text[:200]}")


TRANSPORTS: dict[str, Transport] = {t.kind.value: t for t in (Email(), GovukNotify(), Webhook())}
