"""Client-side pacing under the per-token limit, with a fake clock (nothing really sleeps)."""

from __future__ import annotations

import pytest

from tests.genesys.conftest import API, FakeClock, api_calls
from workitems.genesys import RateLimited, get_client
from workitems.genesys.pacing import Pacer


def test_requests_beyond_the_burst_are_spaced_to_the_rate(clock: FakeClock):
    pacer = Pacer(per_minute=120, ceiling=60, burst=2, clock=clock, sleep=clock.sleep)

    for _ in range(5):
        pacer.wait()

    assert clock.sleeps == pytest.approx([0.5, 0.5, 0.5])


def test_idle_time_refills_the_burst(clock: FakeClock):
    pacer = Pacer(per_minute=60, ceiling=60, burst=3, clock=clock, sleep=clock.sleep)
    for _ in range(3):
        pacer.wait()

    clock.now += 3
    for _ in range(3):
        pacer.wait()

    assert clock.sleeps == []


def test_default_burst_is_a_tenth_of_the_minute_budget(clock: FakeClock):
    pacer = Pacer(per_minute=300, ceiling=60, clock=clock, sleep=clock.sleep)

    for _ in range(31):
        pacer.wait()

    assert clock.sleeps == pytest.approx([0.2])


def test_exhausted_genesys_allowance_waits_for_the_reset(clock: FakeClock):
    pacer = Pacer(per_minute=300, ceiling=60, clock=clock, sleep=clock.sleep)

    pacer.observe(
        {
            "inin-ratelimit-allowed": "300",
            "inin-ratelimit-count": "300",
            "inin-ratelimit-reset": "38",
        }
    )
    pacer.wait()
    pacer.wait()

    assert clock.sleeps == pytest.approx([38])


def test_allowance_not_yet_used_up_does_not_wait(clock: FakeClock):
    pacer = Pacer(per_minute=300, ceiling=60, clock=clock, sleep=clock.sleep)

    pacer.observe(
        {"inin-ratelimit-allowed": "300", "inin-ratelimit-count": "6", "inin-ratelimit-reset": "38"}
    )
    pacer.wait()

    assert clock.sleeps == []


def test_reset_beyond_the_ceiling_raises_rate_limited(clock: FakeClock):
    pacer = Pacer(per_minute=300, ceiling=60, clock=clock, sleep=clock.sleep)

    pacer.observe(
        {
            "inin-ratelimit-allowed": "300",
            "inin-ratelimit-count": "301",
            "inin-ratelimit-reset": "3600",
        }
    )
    with pytest.raises(RateLimited) as caught:
        pacer.wait()

    assert caught.value.retry_after == pytest.approx(3600)
    assert caught.value.reset_at is not None
    assert clock.sleeps == []


def test_malformed_rate_headers_are_ignored(clock: FakeClock):
    pacer = Pacer(per_minute=300, ceiling=60, clock=clock, sleep=clock.sleep)

    pacer.observe({"inin-ratelimit-allowed": "many", "inin-ratelimit-count": "1"})
    pacer.wait()

    assert clock.sleeps == []


def test_client_spaces_requests_to_the_configured_rate(settings, mocked, clock: FakeClock):
    settings.GENESYS_RATE_LIMIT_PER_MINUTE = 60  # burst of 6, then one a second
    mocked.get(f"{API}/api/v2/routing/queues/q1", json={"id": "q1"})
    client = get_client(sleep=clock.sleep, clock=clock)

    for _ in range(8):
        client.get_queue(queue_id="q1")

    assert clock.sleeps == pytest.approx([1.0, 1.0])
    assert len(api_calls(mocked)) == 8


def test_client_learns_from_genesys_rate_headers(mocked, clock: FakeClock):
    headers = {
        "inin-ratelimit-allowed": "300",
        "inin-ratelimit-count": "300",
        "inin-ratelimit-reset": "12",
    }
    mocked.get(f"{API}/api/v2/routing/queues/q1", json={"id": "q1"}, headers=headers)
    client = get_client(sleep=clock.sleep, clock=clock)

    client.get_queue(queue_id="q1")
    client.get_queue(queue_id="q1")

    assert clock.sleeps == pytest.approx([12])
