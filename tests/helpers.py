"""Small helpers shared by the test modules."""

from __future__ import annotations

from typing import Any

from django.test import Client

# The test personas by short name, and the demo login each one is. ``PERSONAS`` is the one list
# every access test iterates over.
PERSONA_LOGINS = {
    "practitioner": "alex.practitioner",  # owns the test case
    "other": "bea.practitioner",  # same team, not her case
    "manager": "morgan.manager",  # the case's team
    "other_manager": "nadia.manager",  # manager of another team
    "operator": "omar.operator",
    "police": "priya.police",
    "vlo": "vera.liaison",  # victim liaison officer
    "admin": "admin",
}
PERSONAS = tuple(PERSONA_LOGINS)


def client_for(user: Any) -> Client:
    """A test client signed in as ``user``."""
    c = Client()
    c.force_login(user)
    return c
