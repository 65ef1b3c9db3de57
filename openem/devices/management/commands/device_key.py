from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from openem.audit.models import os_user
from openem.devices.credentials import issue_key, revoke_keys
from openem.devices.models import Device


class Command(BaseCommand):
    help = (
        "Issue (or rotate) a device's own key and print it once; --revoke revokes it. Only a digest is kept. "
        "Audited, with --reason."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("device", help="the device's serial number")
        parser.add_argument("--revoke", action="store_true", help="revoke the key instead of issuing one")
        parser.add_argument("--reason", default="", help="why (kept in the audit log)")

    def handle(self, *args: Any, **options: Any) -> None:
        device = Device.objects.filter(ref=options["device"]).first()
        if device is None:
            raise CommandError(f'there is no device "{options["device"]}"')
        # The command line has no signed-in user: the audit event says which OS account ran it.
        ran = f"command line, run by {os_user()}"
        why = f"{ran}: {options['reason']}" if options["reason"] else ran
        if options["revoke"]:
            n = revoke_keys(device, None, why=why)
            self.stdout.write(f"{device.ref}: key revoked" if n else f"{device.ref} had no key")
            return
        self.stdout.write(issue_key(device, None, why=why))
