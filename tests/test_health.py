"""/healthz and /readyz: what each answers, the 503-vs-degraded rule, the cached Genesys token check,
and that no secret reaches a response.

This module doubles as the URLconf (portal.urls plus the health routes), so the tests do not depend
on portal/urls.py including them yet."""

from __future__ import annotations

import ast
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.core.cache import cache
from django.db import OperationalError
from django.urls import include, path
from django.utils import timezone

from portal import health
from simulator import faults
from workitems.genesys import GenesysError
from workitems.services import genesys_health
from workitems.services.sla import LAST_SWEEP_CACHE_KEY, sla_sweep

urlpatterns = [path("", include("portal.health_urls")), path("", include("portal.urls"))]

pytestmark = [pytest.mark.urls(__name__), pytest.mark.django_db]

SECRET = "recognisable-client-secret-7f3a9c"


class FakeTokens:
    def __init__(self, error: Exception | None = None) -> None:
        self.error = error
        self.calls = 0

    def get(self) -> str:
        self.calls += 1
        if self.error is not None:
            raise self.error
        return "token-value"


@pytest.fixture(autouse=True)
def clean_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def tokens(monkeypatch) -> FakeTokens:
    fake = FakeTokens()
    monkeypatch.setattr(genesys_health, "get_client", lambda: SimpleNamespace(tokens=fake))
    return fake


@pytest.fixture
def swept():
    sla_sweep()


def ready(client):
    response = client.get("/readyz")
    return response, response.json()


def test_healthz_answers_ok_without_touching_the_database(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"]


@pytest.mark.parametrize("url", ["/healthz", "/readyz"])
def test_health_endpoints_answer_get_only(client, url):
    assert client.post(url).status_code == 405
    assert client.put(url).status_code == 405


@pytest.mark.parametrize("url", ["/healthz", "/readyz"])
def test_health_endpoints_are_not_redirected_to_https_and_need_no_login(
    client, settings, url, tokens, swept
):
    settings.SECURE_SSL_REDIRECT = True
    assert client.get(url).status_code == 200
    assert client.get("/admin/").status_code == 301  # everything else is redirected


def test_readyz_is_ok_with_the_simulator_as_genesys(client, genesys_simulator, swept):
    response, body = ready(client)

    assert response.status_code == 200, body
    assert body["status"] == "ok"
    checks = body["checks"]
    assert set(checks) == {"database", "broker", "sla_sweep", "genesys_token"}
    assert checks["database"]["ok"] and checks["broker"] == {**checks["broker"], "ok": True}
    assert checks["broker"]["kind"] == "orm"
    assert checks["sla_sweep"]["ok"] and checks["sla_sweep"]["age_seconds"] <= 1
    assert checks["sla_sweep"]["last_run"]
    token = checks["genesys_token"]
    assert token["ok"] and token["error"] == "" and token["checked_at"]


def test_database_down_makes_readyz_fail_with_503(client, monkeypatch, tokens, swept):
    def down():
        raise OperationalError("connection to server at db.internal failed")

    monkeypatch.setattr(health, "check_database", down)

    response, body = ready(client)

    assert response.status_code == 503
    assert body["status"] == "fail"
    assert body["checks"]["database"]["ok"] is False
    assert body["checks"]["database"]["error"].startswith("OperationalError: connection")


def test_broker_down_makes_readyz_fail_with_503_without_leaking_the_redis_password(
    client, settings, tokens, swept
):
    settings.Q_CLUSTER = {
        **{k: v for k, v in settings.Q_CLUSTER.items() if k != "orm"},
        "redis": "redis://:redis-pass-4b1d9e@127.0.0.1:1/0",
    }

    response, body = ready(client)

    assert response.status_code == 503 and body["status"] == "fail"
    assert body["checks"]["broker"]["ok"] is False and body["checks"]["broker"]["error"]
    assert "redis-pass-4b1d9e" not in response.content.decode()


def test_a_stale_sla_sweep_degrades_readyz_but_keeps_it_routable(client, tokens, settings):
    settings.HEALTH_SLA_SWEEP_MAX_AGE_SECONDS = 300
    last = timezone.now() - timedelta(minutes=10)
    cache.set(LAST_SWEEP_CACHE_KEY, {"at": last.isoformat(), "seconds": 0.01, "breached": 0})

    response, body = ready(client)

    assert response.status_code == 200 and body["status"] == "degraded"
    sweep = body["checks"]["sla_sweep"]
    assert sweep["ok"] is False and 599 <= sweep["age_seconds"] <= 601
    assert sweep["last_run"] == last.isoformat()


def test_no_sla_sweep_yet_degrades_readyz(client, tokens):
    response, body = ready(client)

    assert response.status_code == 200 and body["status"] == "degraded"
    assert body["checks"]["sla_sweep"] == {
        **body["checks"]["sla_sweep"],
        "ok": False,
        "last_run": None,
        "age_seconds": None,
    }


def test_genesys_refusing_a_token_degrades_readyz_and_the_error_holds_no_secret(
    client, settings, genesys_simulator, swept
):
    settings.GENESYS_CLIENT_SECRET = SECRET
    faults.inject(path_regex=r"/oauth/token$", status=401, times=None)

    response, body = ready(client)

    assert response.status_code == 200 and body["status"] == "degraded"
    token = body["checks"]["genesys_token"]
    assert token["ok"] is False and "401" in token["error"] and token["checked_at"]
    assert SECRET not in response.content.decode()


def test_a_token_error_quoting_the_secret_is_masked(client, settings, monkeypatch, swept):
    settings.GENESYS_CLIENT_SECRET = SECRET
    leaky = FakeTokens(GenesysError(status=400, message=f"bad client_secret {SECRET}"))
    monkeypatch.setattr(genesys_health, "get_client", lambda: SimpleNamespace(tokens=leaky))

    response, body = ready(client)

    assert body["status"] == "degraded"
    assert "[redacted]" in body["checks"]["genesys_token"]["error"]
    assert SECRET not in response.content.decode()


def test_genesys_not_configured_degrades_readyz(client, settings, swept):
    settings.GENESYS_API_BASE = ""

    response, body = ready(client)

    assert response.status_code == 200 and body["status"] == "degraded"
    assert "not configured" in body["checks"]["genesys_token"]["error"]


def test_the_token_check_is_cached_so_readyz_never_hammers_genesys(client, tokens, swept):
    _, first = ready(client)
    _, second = ready(client)

    assert tokens.calls == 1
    assert first["checks"]["genesys_token"]["cached"] is False
    assert second["checks"]["genesys_token"]["cached"] is True
    assert (
        second["checks"]["genesys_token"]["checked_at"]
        == first["checks"]["genesys_token"]["checked_at"]
    )


def test_a_failed_token_check_is_cached_too(client, monkeypatch, swept):
    failing = FakeTokens(GenesysError(status=503, message="unavailable"))
    monkeypatch.setattr(genesys_health, "get_client", lambda: SimpleNamespace(tokens=failing))

    ready(client)
    _, body = ready(client)

    assert failing.calls == 1 and body["checks"]["genesys_token"]["ok"] is False


def test_readiness_asks_a_service_and_never_the_genesys_client_itself():
    # portal/ is an edge here: the token rule (and its cache) belongs to one service.
    source = Path(health.__file__).read_text(encoding="utf-8")
    imported = {
        node.module
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.ImportFrom) and node.module
    }
    assert "workitems.services.genesys_health" in imported
    assert not any(
        name == "workitems.genesys" or name.startswith("workitems.genesys.") for name in imported
    )
