"""Per-token request quota per clock minute, counted in the database (docs/GENESYS.md §5).

Genesys allows client-credentials tokens 300 requests a minute by default; the simulator's quota
is SIMULATOR_RATE_LIMIT_PER_MINUTE. Windows are aligned to the clock's minutes, and
`inin-ratelimit-reset` is the number of seconds left in the current one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F

from simulator import clock
from simulator.models import SimRateWindow

WINDOW_SECONDS = 60


@dataclass(frozen=True)
class RateState:
    allowed: int
    count: int
    reset: int  # seconds until the window ends, at least 1

    @property
    def exceeded(self) -> bool:
        return self.count > self.allowed

    def headers(self) -> dict[str, str]:
        return {
            "inin-ratelimit-allowed": str(self.allowed),
            "inin-ratelimit-count": str(self.count),
            "inin-ratelimit-reset": str(self.reset),
        }


def allowed_per_minute() -> int:
    return settings.SIMULATOR_RATE_LIMIT_PER_MINUTE


def _window() -> tuple[int, int]:
    now = clock.now().timestamp()
    start = int(now // WINDOW_SECONDS) * WINDOW_SECONDS
    return start, max(1, math.ceil(start + WINDOW_SECONDS - now))


def rate_idle() -> RateState:
    """The headers for an answer that used no token (token endpoint, 401s)."""
    _, reset = _window()
    return RateState(allowed=allowed_per_minute(), count=0, reset=reset)


def rate_hit(*, token_hash: str) -> RateState:
    """Count one request for the token; the state says whether it went over the quota."""
    start, reset = _window()
    rows = SimRateWindow.objects.filter(token_hash=token_hash, window_start=start)
    if not rows.update(count=F("count") + 1):
        try:
            with transaction.atomic():
                SimRateWindow.objects.create(token_hash=token_hash, window_start=start, count=1)
        except IntegrityError:  # another process opened the window first
            rows.update(count=F("count") + 1)
        SimRateWindow.objects.filter(window_start__lt=start - 3600).delete()
    count = rows.values_list("count", flat=True).first() or 1
    return RateState(allowed=allowed_per_minute(), count=count, reset=reset)
