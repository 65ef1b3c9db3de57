from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from openem.accounts.models import ApiToken, User
from openem.audit.models import os_user


class Command(BaseCommand):
    help = "Issue a read-API token for a user (printed once; only its digest is stored)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--name", default="api")

    def handle(self, *args: Any, **options: Any) -> None:
        user = User.objects.filter(username=options["username"]).first()
        if user is None:
            raise CommandError(f'there is no user "{options["username"]}"')
        _, token = ApiToken.issue(user, options["name"], how=f"api-token command, run by {os_user()}")
        self.stdout.write(token)
