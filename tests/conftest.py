"""Shared fixtures. Each area's own fixtures live beside its tests."""

from __future__ import annotations

import pytest

from tests.contract import ContractWatch
from tests.http_guard import Guard


@pytest.fixture(autouse=True)
def no_http_inside_a_transaction(monkeypatch):
    """Fails the test if its code sends an HTTP request while holding a transaction
    (tests/http_guard.py). A test that means to, to prove the guard, asks for `http_guard`."""
    guard = Guard()
    guard.install(monkeypatch)
    yield guard
    assert not guard.violations, "HTTP inside a transaction:\n" + "\n".join(guard.violations)


@pytest.fixture
def genesys_simulator(db, monkeypatch, settings):
    """The demo organisation in the simulator, with every portal Genesys call (get_client(),
    commands, tasks) served by it in process through the client's real retry policy.

    Every request the portal sends and every answer the simulator gives is checked against the
    Genesys OpenAPI subset; a test whose traffic breaks it fails (tests/contract.py)."""
    from simulator.demo import seed_demo_org
    from simulator.transport import InProcessTransport, base_prefix
    from workitems.genesys import client as client_module
    from workitems.genesys import http

    settings.SUBMIT_LOOKUP_DELAY_SECONDS = 0
    real_build = http.build_session

    def build_session(*, config, sleep=None):
        session = real_build(config=config, **({"sleep": sleep} if sleep else {}))
        retry = session.get_adapter(config.api_base).max_retries
        session.mount(
            base_prefix(config.api_base), InProcessTransport(max_retries=retry, observer=watch)
        )
        return session

    watch = ContractWatch(check_requests=True)
    monkeypatch.setattr(client_module, "build_session", build_session)
    seed_demo_org()
    yield watch
    watch.assert_clean()
