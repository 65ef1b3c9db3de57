"""OpenEM refuses to start unsafe outside the demo and the test suite.

Called by every entry point (the ``openem`` command, ``manage.py``, the WSGI application) rather than at
settings import, so that tools that only read the settings (mypy's Django plugin) still work. The
benchmarks (``openem bench``) build throwaway databases of their own and do not pass through here.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


def refuse_unsafe_settings() -> None:
    if settings.OPENEM_DEMO or settings.OPENEM_TESTING or settings.OPENEM_BENCH:
        return
    problems = []
    if settings.SECRET_KEY == settings.SHIPPED_SECRET_KEY:
        problems.append(
            "it has the shipped secret key: set OPENEM_SECRET_KEY to a long random value "
            "(python -c 'import secrets; print(secrets.token_urlsafe(50))')"
        )
    if settings.DEBUG:
        problems.append("DEBUG is on: unset OPENEM_DEBUG (it shows settings and data in error pages)")
    if problems:
        raise ImproperlyConfigured(
            "OpenEM refuses to start outside the demo because "
            + "; and ".join(problems)
            + ". (For the demo, set OPENEM_DEMO=1, as `make demo` does.)"
        )
