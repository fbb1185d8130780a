"""Fixtures for the simulator tests: an in-process session, a token, a movable clock, the demo org."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from django.conf import settings

from simulator.demo import seed_demo_org
from simulator.transport import simulator_session
from tests.contract import ContractWatch

NIL = "00000000-0000-0000-0000-000000000000"
# A filter that matches every entity (tests of filters combine it with others).
MATCH_ALL = {"name": "id", "type": "String", "operator": "NEQ", "values": [NIL]}


class Clock:
    """Stands in for simulator.clock.now; `advance` moves it on."""

    def __init__(self) -> None:
        # 10 s into a minute, so a test knows how long the rate window has left.
        self.current = datetime(2026, 3, 2, 9, 30, 10, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.current

    def advance(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)


class Api:
    """Calls the simulator's /api/v2 with a bearer token."""

    def __init__(self, session: requests.Session, token: str) -> None:
        self.session = session
        self.token = token

    def url(self, path: str) -> str:
        return f"{settings.SIMULATOR_BASE_URL}{path}"

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def get(self, path: str, **params: Any) -> requests.Response:
        return self.session.get(self.url(path), params=params, headers=self.headers())

    def post(self, path: str, body: Any) -> requests.Response:
        return self.session.post(self.url(path), json=body, headers=self.headers())

    def patch(self, path: str, body: Any) -> requests.Response:
        return self.session.patch(self.url(path), json=body, headers=self.headers())

    def query(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """A cursor query read to its end, as a client must (pages may be short or empty and
        still carry `after`): {"entities": every entity, "pages": requests made}."""
        entities: list[Any] = []
        pages, after = 0, None
        while True:
            response = self.post(path, {**body, **({"after": after} if after else {})})
            assert response.status_code == 200, response.text
            pages += 1
            entities += response.json()["entities"]
            after = response.json().get("after")
            if not after:
                return {"entities": entities, "pages": pages}


def fetch_token(
    session: requests.Session, *, client_id: str | None = None, secret: str | None = None
):
    return session.post(
        f"{settings.SIMULATOR_BASE_URL}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(client_id or settings.GENESYS_CLIENT_ID, secret or settings.GENESYS_CLIENT_SECRET),
    )


@pytest.fixture
def clock(monkeypatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr("simulator.clock.now", fake)
    return fake


@pytest.fixture
def session() -> Iterator[requests.Session]:
    """Tests here send bad requests on purpose; every answer must still be documented Genesys."""
    watch = ContractWatch(check_requests=False)
    yield simulator_session(observer=watch)
    watch.assert_clean()


@pytest.fixture
def token(db, session) -> str:
    response = fetch_token(session)
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


@pytest.fixture
def api(session, token) -> Api:
    return Api(session, token)


@pytest.fixture
def demo(db):
    seed_demo_org()
