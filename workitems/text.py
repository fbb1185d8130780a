"""Small wording helpers for what supervisors read: counts with the right plural, durations,
times to the second."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone


def count_noun(n: int, singular: str, plural: str | None = None) -> str:
    """ "1 work item", "3 work items", "0 work items"."""
    return f"{n:,} {singular if n == 1 else (plural or singular + 's')}"


def duration_text(value: timedelta | None, *, seconds: bool = True) -> str:
    """ "45 s", "12 min 05 s", "3 h 04 min", "2 d 5 h". Seconds are shown below an hour when
    `seconds` is set (times in a status), never beyond."""
    if value is None:
        return "—"
    total = max(int(value.total_seconds()), 0)
    if total < 60:
        return f"{total} s"
    minutes, secs = divmod(total, 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s" if seconds and secs else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes:02d} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def relative_text(deadline: datetime, *, now: datetime) -> str:
    """ "in 12 min" before the deadline, "overdue by 3 h 04 min" after it."""
    if deadline >= now:
        return f"{duration_text(deadline - now, seconds=False)} left"
    return f"overdue by {duration_text(now - deadline, seconds=False)}"


def when_text(value: datetime | None) -> str:
    """A time to the second in the portal's time zone: "2026-05-01 09:22:13 UTC"."""
    if value is None:
        return "—"
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S %Z")
