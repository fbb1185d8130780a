"""Backtest of the breach forecast on a generated month: is "forecast to breach in the next hour"
right, hour by hour?

A month of one queue is generated (seeded): arrivals (Poisson per minute), priorities, a 2 h SLA,
agents on queue per minute, each taking the head of the line (priority, then age) when free and
handling it for a lognormal time. Three phases: **steady** (days 1–10: 4
agents handling 20 min on average, so 12 an hour), **surge** (days 11–20: 3 h a day at 22 per
hour), **off queue** (days 21–30: 3 of the 4 agents off queue for 3 h a day). Steady arrivals are
9 an hour. The run is a list of transitions (arrived, started, closed) that
the backtest replays: at each hour it rebuilds what the portal would know then (waiting items,
departures in the last 4 h, agents on queue now, handling times closed in the last 24 h), asks
`forecast_queue` — the sweep's own model — how many of the waiting items breach in the next hour,
and compares with how many did. The baseline is the dashboard's "breaching in the next 60 min"
(every waiting item due within the hour), the count a supervisor had before the forecast.
"""

from __future__ import annotations

import heapq
import math
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from workitems.services.breach_forecast import Member, WaitingItem, forecast_queue

START = datetime(2026, 1, 1, tzinfo=UTC)
DAYS = 30
SLA = timedelta(hours=2)
AGENTS = 4
HANDLING_MEAN_MINUTES = 20.0


def phase_of(day: int) -> str:
    return "steady" if day < 10 else "surge" if day < 20 else "off queue"


def _arrivals_per_hour(minute: int) -> float:
    day, hour = divmod(minute // 60, 24)
    if phase_of(day) == "surge" and 13 <= hour < 16:
        return 22.0
    return 9.0


def _agents_on_queue(minute: int) -> int:
    day, hour = divmod(minute // 60, 24)
    if phase_of(day) == "off queue" and 10 <= hour < 13:
        return AGENTS - 3
    return AGENTS


@dataclass
class Item:
    pk: int
    arrived: int  # minutes from START
    priority: int
    started: int | None = None
    closed: int | None = None

    @property
    def deadline(self) -> int:
        return self.arrived + int(SLA.total_seconds() // 60)


def generate_month(*, seed: int = 13, days: int = DAYS) -> list[Item]:
    """Simulate the queue minute by minute; returns every item with its start and close."""
    rng = random.Random(seed)
    sigma = 0.5
    mu = math.log(HANDLING_MEAN_MINUTES) - sigma**2 / 2
    items: list[Item] = []
    line: list[tuple[int, int, int]] = []  # (-priority, arrived, pk)
    busy_until = [0] * AGENTS
    for minute in range(days * 24 * 60):
        lam = _arrivals_per_hour(minute) / 60
        # Poisson arrivals this minute (Knuth: fine for small lambda).
        n, p, limit = 0, rng.random(), math.exp(-lam)
        while p > limit:
            n += 1
            p *= rng.random()
        for _ in range(n):
            item = Item(pk=len(items), arrived=minute, priority=rng.choice((0, 0, 0, 5)))
            items.append(item)
            heapq.heappush(line, (-item.priority, item.arrived, item.pk))
        for agent in range(_agents_on_queue(minute)):
            if busy_until[agent] <= minute and line:
                _, _, pk = heapq.heappop(line)
                item = items[pk]
                item.started = minute
                item.closed = minute + max(1, round(rng.lognormvariate(mu, sigma)))
                busy_until[agent] = item.closed
    return items


@dataclass
class HourResult:
    at: datetime
    phase: str
    waiting: int
    forecast: int
    baseline: int
    actual: int

    @property
    def error(self) -> int:
        return self.forecast - self.actual

    @property
    def baseline_error(self) -> int:
        return self.baseline - self.actual


def backtest(items: list[Item], *, days: int = DAYS) -> list[HourResult]:
    """Replay the transitions hour by hour (after a first day of history)."""
    results = []
    for hour in range(24, days * 24 - 1):
        t = hour * 60
        now = START + timedelta(minutes=t)
        waiting = [i for i in items if i.arrived <= t and (i.started is None or i.started > t)]
        left = sum(1 for i in items if i.started is not None and t - 240 < i.started <= t)
        done = [
            i.closed - i.started
            for i in items
            if i.closed is not None and t - 1440 < i.closed <= t and i.started is not None
        ]
        handling = {1: timedelta(minutes=sum(done) / len(done))} if done else {}
        on = _agents_on_queue(t)
        members = [Member(joined=True, on_queue=n < on) for n in range(AGENTS)]
        outlook = forecast_queue(
            now=now,
            waiting=[
                WaitingItem(
                    pk=i.pk,
                    priority=i.priority,
                    created=START + timedelta(minutes=i.arrived),
                    deadline=START + timedelta(minutes=i.deadline),
                    worktype_id=1,
                    breached=i.deadline <= t,
                )
                for i in waiting
            ],
            left_in_window=left,
            members=members,
            handling=handling,
        )
        due = [i for i in waiting if t < i.deadline <= t + 60]
        actual = sum(1 for i in due if i.closed is None or i.closed > i.deadline)
        results.append(
            HourResult(
                at=now,
                phase=phase_of(hour // 24),
                waiting=len(waiting),
                forecast=outlook.breaches["1h"],
                baseline=len(due),
                actual=actual,
            )
        )
    return results


@dataclass
class Summary:
    phase: str
    hours: int
    actual: int
    mae: float
    baseline_mae: float
    bias: float
    exact_share: float


def summarise(results: list[HourResult]) -> list[Summary]:
    out = []
    for phase in ("steady", "surge", "off queue", "all"):
        rows = [r for r in results if phase == "all" or r.phase == phase]
        if not rows:
            continue
        n = len(rows)
        out.append(
            Summary(
                phase=phase,
                hours=n,
                actual=sum(r.actual for r in rows),
                mae=sum(abs(r.error) for r in rows) / n,
                baseline_mae=sum(abs(r.baseline_error) for r in rows) / n,
                bias=sum(r.error for r in rows) / n,
                exact_share=sum(1 for r in rows if r.error == 0) / n,
            )
        )
    return out
