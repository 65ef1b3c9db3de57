"""Password rules beyond Django's own: a password must not be made of the account's names and years,
nor of the product's name (the demo's published password is one)."""

from __future__ import annotations

import re
from typing import Any

from django.core.exceptions import ValidationError

SEPARATORS = re.compile(r"[._\-\s]+")
YEAR = re.compile(r"\d{4}")
PRODUCT = "openem"
# Look-alike characters folded before looking for the product's name ("0pen3m").
LOOKALIKES = str.maketrans({"0": "o", "3": "e", "€": "e"})


class NotMadeFromNamesValidator:
    """Remove, case-insensitively, every occurrence of the username (also without its separators), its
    parts of 3 or more letters (split on . _ -), the first and last names and their parts, and runs of 4
    digits (years); refuse if fewer than ``min_remaining`` characters are left. Django's similarity check
    misses repetitions ("rt.two.rt.two") and names padded with a year ("Admin-2026-Admin").

    Also refuse any password containing "openem": the demo's published password and its variants."""

    def __init__(self, min_remaining: int = 8) -> None:
        self.min_remaining = min_remaining

    def names(self, user: Any) -> list[str]:
        found: set[str] = set()
        for value in (
            getattr(user, "get_username", lambda: "")(),
            getattr(user, "first_name", ""),
            getattr(user, "last_name", ""),
        ):
            value = str(value or "").casefold()
            if not value:
                continue
            parts = [p for p in SEPARATORS.split(value) if len(p) >= 3]
            found.update([value, SEPARATORS.sub("", value), *parts])
        return sorted((n for n in found if n), key=len, reverse=True)  # the longest first

    def remaining(self, password: str, user: Any = None) -> str:
        """What is left of the password without the account's names and years."""
        left = password.casefold()
        names = self.names(user) if user is not None else []
        pattern = re.compile("|".join(re.escape(n) for n in names)) if names else None
        while True:  # removing one may join the halves of another ("adadminmin")
            before = left
            if pattern is not None:
                left = pattern.sub("", left)
            left = YEAR.sub("", left)
            if left == before:
                return left

    def validate(self, password: str, user: Any = None) -> None:
        folded = re.sub(r"[^a-z0-9€]", "", password.casefold()).translate(LOOKALIKES)
        if PRODUCT in folded:
            raise ValidationError(
                'This password contains "OpenEM", like the demo\'s published password: choose one that has '
                "nothing to do with the product.",
                code="password_product_name",
            )
        if len(self.remaining(password, user)) < self.min_remaining:
            raise ValidationError(
                f"This password is made mostly of your username, your name or years: without them fewer than "
                f"{self.min_remaining} characters are left. Choose one with more of its own.",
                code="password_made_of_names",
                params={"min_remaining": self.min_remaining},
            )

    def get_help_text(self) -> str:
        return (
            f"Your password must have at least {self.min_remaining} characters besides your username, your "
            'name and any years, and must not contain "OpenEM".'
        )
