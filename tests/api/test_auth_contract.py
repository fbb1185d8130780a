"""The contract every ingest route must pass: missing auth, bad auth, rotation, Basic, CSRF."""

import base64
import json

import pytest
from django.test import Client, override_settings

from tests.api.conftest import BASIC, SECRET_NEW, SECRET_OLD
from tests.api.support import body
from workitems.models import InboundEvent

URL = "/api/genesys/events/"
pytestmark = pytest.mark.django_db


def post(client, headers=None, data=None):
    payload = json.dumps(data or body("wi-auth-1"))
    return client.post(URL, data=payload, content_type="application/json", headers=headers or {})


def basic(pair: str) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(pair.encode()).decode()}


def test_missing_credentials_is_401_with_a_challenge(client):
    response = post(client)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Basic realm=")
    assert not InboundEvent.objects.exists()


def test_wrong_secret_is_401(client):
    response = post(client, {"X-Ingest-Secret": "not-the-secret"})
    assert response.status_code == 401
    assert "WWW-Authenticate" in response.headers
    assert not InboundEvent.objects.exists()


def test_two_secrets_are_valid_at_once_for_rotation(client):
    first = post(
        client, {"X-Ingest-Secret": SECRET_OLD}, body("wi-rot", modified="2026-07-01T10:00:00Z")
    )
    second = post(
        client, {"X-Ingest-Secret": SECRET_NEW}, body("wi-rot", modified="2026-07-01T10:01:00Z")
    )
    assert (first.status_code, second.status_code) == (202, 202)


def test_basic_auth_is_accepted(client):
    assert post(client, basic(BASIC)).status_code == 202


def test_basic_auth_with_a_wrong_password_is_401(client):
    response = post(client, basic("genesys:wrong-password"))
    assert response.status_code == 401
    assert "WWW-Authenticate" in response.headers


def test_malformed_basic_header_is_401(client):
    response = post(client, {"Authorization": "Basic !!!not-base64"})
    assert response.status_code == 401


def test_csrf_is_not_enforced():
    client = Client(enforce_csrf_checks=True)
    assert post(client, {"X-Ingest-Secret": SECRET_NEW}).status_code == 202


@override_settings(INGEST_SECRETS=[], INGEST_BASIC_AUTH=[])
def test_nothing_configured_refuses_everyone(client):
    for headers in ({}, {"X-Ingest-Secret": SECRET_OLD}, {"X-Ingest-Secret": ""}, basic(BASIC)):
        response = post(client, headers)
        assert response.status_code == 401, headers
        assert "WWW-Authenticate" in response.headers
    assert not InboundEvent.objects.exists()


@override_settings(INGEST_SECRETS=["only-a-header-secret"], INGEST_BASIC_AUTH=[])
def test_header_only_configuration_challenges_with_the_header_scheme(client):
    response = post(client)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("X-Ingest-Secret")


def test_other_methods_are_refused_without_credentials(client):
    assert client.get(URL).status_code == 401


def test_credentials_are_never_stored(client):
    post(
        client,
        {"X-Ingest-Secret": SECRET_OLD, "User-Agent": "Genesys", "ININ-Correlation-Id": "c-1"},
    )
    post(client, {**basic(BASIC), "X-Request-Id": "r-2"}, body("wi-auth-2"))
    stored = list(InboundEvent.objects.values_list("headers", flat=True))
    assert len(stored) == 2
    for headers in stored:
        lowered = {k.lower() for k in headers}
        assert "authorization" not in lowered
        assert "x-ingest-secret" not in lowered
        text = json.dumps(headers)
        assert SECRET_OLD not in text and "basic-password" not in text
    assert (
        stored[0].get("ININ-Correlation-Id") == "c-1"
        or stored[1].get("ININ-Correlation-Id") == "c-1"
    )
    assert all(h["Content-Type"] == "application/json" for h in stored)
