"""uvicorn's factory for the ingest receiver: each worker process sets Django up first, then makes
its own receiver (the receiver's module imports the models, so it cannot be imported before)."""

from __future__ import annotations

import os
from typing import Any


def application() -> Any:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "openem.settings")
    django.setup()
    from .receiver import Receiver

    return Receiver()
