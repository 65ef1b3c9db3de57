"""The ``openem`` console script: Django's management commands, with dashes allowed
(``openem import-cases FILE`` runs ``import_cases``)."""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv if argv is None else argv)
    # The engine's commands need no database, so they do not start Django.
    if len(argv) > 1 and argv[1] == "replay":
        from openem.engine.replay import main as replay_main

        sys.exit(replay_main(argv[2:]))
    if len(argv) > 1 and argv[1] == "crime-match":
        from openem.crime.cli import main as crime_main

        sys.exit(crime_main(argv[2:]))
    if len(argv) > 1 and argv[1] == "bench":
        from openem.bench import main as bench_main

        sys.exit(bench_main(argv[2:]))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "openem.settings")
    if len(argv) > 1 and not argv[1].startswith("-"):
        argv[1] = argv[1].replace("-", "_")
    # Setting up and running the demo is the demo, wherever it is started from (its processes inherit this).
    if len(argv) > 1 and (argv[1] == "demo_setup" or "--demo-live" in argv):
        os.environ["OPENEM_DEMO"] = "1"
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    from openem.safety import refuse_unsafe_settings

    try:
        refuse_unsafe_settings()
    except ImproperlyConfigured as e:
        sys.exit(f"openem: {e}")

    execute_from_command_line(argv)


if __name__ == "__main__":
    main()
