"""Dates and times as people in the UK read them, for every app: the local day, a time with its date
when it is not today, durations with the right plural. One place, so no page says "1 hours" or shows
a time without the day it belongs to."""

from __future__ import annotations

from datetime import date, datetime

from django.utils import timezone


def local_today() -> date:
    return timezone.localdate()


def when(dt: datetime, now: datetime | None = None) -> str:
    """``01:17`` today, ``Tue 1 Dec 01:17`` another day this year, ``1 Dec 2025 01:17`` before then."""
    local = timezone.localtime(dt)
    today = timezone.localtime(now or timezone.now()).date()
    if local.date() == today:
        return f"{local:%H:%M}"
    if local.year == today.year:
        return f"{local:%a} {local.day} {local:%b %H:%M}"
    return f"{local.day} {local:%b %Y %H:%M}"


def zone(dt: datetime) -> str:
    """``GMT`` or ``BST``: which UK clock ``dt`` is on. Wherever a UK time may be read beside a UTC one (a
    police batch's times are UTC), or near a change of the clocks, the zone says which is which."""
    return timezone.localtime(dt).tzname() or ""


def stamp(dt: datetime, seconds: bool = True) -> str:
    """``10/11/2026 08:20:00 GMT``: a UK time with its date and zone, for tables and CSVs."""
    local = timezone.localtime(dt)
    return f"{local:%d/%m/%Y %H:%M:%S %Z}" if seconds else f"{local:%d/%m/%Y %H:%M %Z}"


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def duration(seconds: float) -> str:
    """``45 minutes``, ``1 hour``, ``9 hours 5 minutes``, ``3 days 2 hours``: the two largest units."""
    minutes = int(seconds // 60)
    if minutes < 60:
        return plural(max(minutes, 0), "minute")
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return plural(hours, "hour") + (f" {plural(minutes, 'minute')}" if minutes else "")
    days, hours = divmod(hours, 24)
    return plural(days, "day") + (f" {plural(hours, 'hour')}" if hours else "")
