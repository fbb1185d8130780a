"""The simulator's one clock. Tests patch `simulator.clock.now` to move time without waiting.

Every module calls `clock.now()` through the module (never `from simulator.clock import now`), so a
patch reaches all of them.
"""

from __future__ import annotations

from datetime import UTC, datetime

from django.utils import timezone


def now() -> datetime:
    return timezone.now()


def iso(moment: datetime) -> str:
    """Genesys's date-time form: yyyy-MM-ddTHH:mm:ss.mmmZ, always UTC."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
