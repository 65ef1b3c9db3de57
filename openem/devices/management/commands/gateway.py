from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from openem.audit.models import AuditAction, AuditEvent, os_user
from openem.devices.models import Device
from openem.telemetry.models import Gateway


class Command(BaseCommand):
    help = (
        "Device gateways: `create NAME` and `rotate NAME` print a new token once (only its digest is kept); "
        "`assign NAME DEVICE...` lets the gateway send those devices' readings (and no others'); `list`."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["create", "rotate", "assign", "list"])
        parser.add_argument("name", nargs="?")
        parser.add_argument("devices", nargs="*", help="serial numbers (assign)")

    def handle(self, *args: Any, **options: Any) -> None:
        action, name = options["action"], options["name"]
        if action == "list":
            for gw in Gateway.objects.order_by("name"):
                state = "active" if gw.active else "inactive"
                self.stdout.write(f"{gw.name}\t{state}\t{gw.devices.count()} devices")
            return
        if not name:
            raise CommandError(f"{action} needs the gateway's name")
        ran = f"command line, run by {os_user()}"  # no signed-in user: say which OS account ran it
        if action == "create":
            if Gateway.objects.filter(name=name).exists():
                raise CommandError(f'a gateway "{name}" exists already (rotate its token instead)')
            gw, token = Gateway.create_with_token(name)
            AuditEvent.record(None, AuditAction.CREDENTIAL, obj=gw, summary=f"gateway {name}: token issued", reason=ran)
            self.stdout.write(token)
            return
        found = Gateway.objects.filter(name=name).first()
        if found is None:
            raise CommandError(f'there is no gateway "{name}"')
        if action == "rotate":
            token = found.rotate_token()
            AuditEvent.record(
                None, AuditAction.CREDENTIAL, obj=found, summary=f"gateway {name}: token rotated", reason=ran
            )
            self.stdout.write(token)
            return
        refs = set(options["devices"])
        known = set(Device.objects.filter(ref__in=refs).values_list("ref", flat=True))
        if refs - known:
            raise CommandError(f"no such device: {', '.join(sorted(refs - known))}")
        Device.objects.filter(ref__in=refs).update(gateway=found)
        AuditEvent.record(
            None,
            AuditAction.CREDENTIAL,
            obj=found,
            summary=f"gateway {name}: assigned {', '.join(sorted(refs))}",
            reason=ran,
        )
        self.stdout.write(f"{len(refs)} devices now report through {name}")
