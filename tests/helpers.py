"""Small helpers shared by the test modules."""

from __future__ import annotations

from typing import Any

from django.test import Client


def client_for(user: Any) -> Client:
    """A test client signed in as ``user``."""
    c = Client()
    c.force_login(user)
    return c
