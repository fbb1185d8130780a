"""Client-side pacing under Genesys's per-token limit (300 requests a minute by default, docs/GENESYS.md §5).

A token bucket refilled at GENESYS_RATE_LIMIT_PER_MINUTE: a short burst goes out at once, a long
run is spaced evenly. Genesys's own counters (inin-ratelimit-allowed/count/reset) take precedence:
once the count reaches the allowance we wait for the reset, or raise RateLimited when that is
longer than the ceiling. Not thread-safe: one client per thread.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from workitems.genesys.errors import RateLimited


class Pacer:
    def __init__(
        self,
        *,
        per_minute: int,
        ceiling: float,
        burst: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.interval = 60.0 / per_minute
        # A tenth of a minute's budget: small jobs are not slowed, big ones are spread out.
        self.burst = burst if burst is not None else max(1, per_minute // 10)
        self.ceiling = ceiling
        self._clock = clock
        self._sleep = sleep
        self._tokens = float(self.burst)
        self._updated = clock()
        self._blocked_until = 0.0

    def wait(self) -> None:
        """Block until the next request may go out."""
        now = self._clock()
        if self._blocked_until > now:
            delay = self._blocked_until - now
            if delay > self.ceiling:
                raise RateLimited(
                    retry_after=delay,
                    message="the per-token request allowance is used up until Genesys resets it",
                    hint=f"Genesys resets the allowance in {delay:.0f}s, beyond GENESYS_RETRY_AFTER_CEILING.",
                )
            self._sleep(delay)
            now += delay
        self._tokens = min(self.burst, self._tokens + (now - self._updated) / self.interval)
        self._updated = now
        if self._tokens < 1:
            delay = (1 - self._tokens) * self.interval
            self._sleep(delay)
            self._tokens, self._updated = 1.0, now + delay
        self._tokens -= 1

    def observe(self, headers: Mapping[str, str]) -> None:
        """Learn from Genesys's rate headers on a response."""
        try:
            allowed = int(headers["inin-ratelimit-allowed"])
            count = int(headers["inin-ratelimit-count"])
            reset = float(headers["inin-ratelimit-reset"])  # seconds until the window resets
        except (KeyError, ValueError):
            return
        if count >= allowed:
            self._blocked_until = self._clock() + reset
