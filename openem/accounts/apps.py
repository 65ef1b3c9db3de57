from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.core import checks


class AccountsConfig(AppConfig):
    name = "openem.accounts"
    label = "accounts"
    verbose_name = "Users and teams"

    def ready(self) -> None:
        from . import signin  # noqa: F401  (connects the sign-in audit and throttling signals)

        checks.register(check_two_factor_roles)


def check_two_factor_roles(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    from django.conf import settings

    from .models import Role

    known = {r.value for r in Role}
    unknown = [r for r in settings.OPENEM_OTP_REQUIRED_ROLES if r not in known]
    if not unknown:
        return []
    return [
        checks.Error(
            f"OPENEM_OTP_REQUIRED_ROLES names unknown roles: {', '.join(unknown)}",
            hint=f"Use a comma-separated list of: {', '.join(sorted(known))}.",
            id="openem.E001",
        )
    ]
