"""OpenEM refuses to start unsafe outside the demo and the test suite.

Called by every entry point (the ``openem`` command, ``manage.py``, the WSGI application) rather than at
settings import, so that tools that only read the settings (mypy's Django plugin) still work. The
benchmarks (``openem bench``) build throwaway databases of their own and do not pass through here.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

MIN_KEY_LENGTH = 50
MIN_KEY_CHARACTERS = 5


def refuse_unsafe_settings() -> None:
    if settings.OPENEM_DEMO or settings.OPENEM_TESTING or settings.OPENEM_BENCH:
        return
    problems = []
    if settings.SECRET_KEY == settings.SHIPPED_SECRET_KEY:
        problems.append(
            "it has the shipped secret key: set OPENEM_SECRET_KEY to a long random value "
            "(python -c 'import secrets; print(secrets.token_urlsafe(50))')"
        )
    elif len(settings.SECRET_KEY) < MIN_KEY_LENGTH or len(set(settings.SECRET_KEY)) < MIN_KEY_CHARACTERS:
        # Django's own criteria (check --deploy, security.W009): a short or repetitive key can be guessed.
        problems.append(
            f"OPENEM_SECRET_KEY is too weak ({len(settings.SECRET_KEY)} characters, "
            f"{len(set(settings.SECRET_KEY))} different): it needs at least {MIN_KEY_LENGTH} characters and "
            f"{MIN_KEY_CHARACTERS} different ones; make one with "
            "python -c 'import secrets; print(secrets.token_urlsafe(50))'"
        )
    if settings.DEBUG:
        problems.append("DEBUG is on: unset OPENEM_DEBUG (it shows settings and data in error pages)")
    if problems:
        raise ImproperlyConfigured(
            "OpenEM refuses to start outside the demo because "
            + "; and ".join(problems)
            + ". (For the demo, set OPENEM_DEMO=1, as `make demo` does.)"
        )
