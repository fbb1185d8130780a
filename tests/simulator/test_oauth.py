"""POST /simulator/oauth/token: client credentials in HTTP Basic, grant_type in the form body."""

from __future__ import annotations

import pytest
from django.conf import settings

from simulator.models import SimToken

from .conftest import fetch_token

pytestmark = pytest.mark.django_db


def test_known_client_gets_a_bearer_token_for_a_day(session):
    response = fetch_token(session)

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in"}
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 86400
    assert SimToken.objects.count() == 1
    assert body["access_token"] not in SimToken.objects.get().token_hash  # only a hash is kept


def test_token_lifetime_follows_the_setting(session, settings):
    settings.SIMULATOR_TOKEN_SECONDS = 300

    assert fetch_token(session).json()["expires_in"] == 300


def test_wrong_secret_is_refused_with_an_rfc6749_invalid_client(session):
    response = fetch_token(session, secret="not-the-secret")

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert "error_description" in response.json()
    assert SimToken.objects.count() == 0


def test_unknown_client_is_refused(session):
    assert fetch_token(session, client_id="someone-else").status_code == 401


def test_credentials_in_the_body_instead_of_basic_auth_are_refused(session):
    response = session.post(
        f"{settings.SIMULATOR_BASE_URL}/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": settings.GENESYS_CLIENT_ID,
            "client_secret": settings.GENESYS_CLIENT_SECRET,
        },
    )

    assert response.status_code == 401


def test_other_grant_types_are_a_400(session):
    response = session.post(
        f"{settings.SIMULATOR_BASE_URL}/oauth/token",
        data={"grant_type": "password"},
        auth=(settings.GENESYS_CLIENT_ID, settings.GENESYS_CLIENT_SECRET),
    )

    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"


def test_missing_grant_type_is_a_400(session):
    response = session.post(
        f"{settings.SIMULATOR_BASE_URL}/oauth/token",
        data={},
        auth=(settings.GENESYS_CLIENT_ID, settings.GENESYS_CLIENT_SECRET),
    )

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


@pytest.mark.parametrize(
    "clients",
    [{"benchmark-client": "benchmark-secret"}, "benchmark-client:benchmark-secret,other:x"],
)
def test_extra_clients_from_the_setting_are_known(session, settings, clients):
    settings.SIMULATOR_CLIENTS = clients

    response = fetch_token(session, client_id="benchmark-client", secret="benchmark-secret")

    assert response.status_code == 200


def test_token_answers_carry_a_correlation_id(session):
    response = fetch_token(session)

    assert response.headers["inin-correlation-id"]
    assert response.headers["Cache-Control"] == "no-store"
