"""Which request headers an inbound event keeps: an allow-list of what helps to trace a delivery
(content type and length, user agent, Genesys's and AWS's correlation ids), and never a value
holding a configured secret. A sender that put a token in X-Request-Id, traceparent or User-Agent
once had it stored verbatim and shown to anyone who may view inbound events."""

from __future__ import annotations

import base64

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.urls import reverse

from tests.api.conftest import SECRET_NEW
from workitems.models import InboundEvent
from workitems.services.ingest_headers import ingest_headers_select

URL = "/api/genesys/events/"
EVENT = '{"id": "wi-1", "operation": "edit", "dateModified": "2026-07-01T10:00:00Z"}'


def test_only_the_allow_listed_headers_are_kept():
    meta = {
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": "123",
        "HTTP_USER_AGENT": "Genesys-DataAction",
        "HTTP_ININ_CORRELATION_ID": "corr-1",
        "HTTP_X_AMZN_TRACE_ID": "Root=1-5f84c7a9-0123456789abcdef01234567",
        "HTTP_X_REQUEST_ID": "req-1",
        "HTTP_X_CORRELATION_ID": "corr-2",
        "HTTP_TRACEPARENT": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        "HTTP_X_FORWARDED_FOR": "203.0.113.7",
        "HTTP_AUTHORIZATION": "Basic Z2VuZXN5czpzZWNyZXQ=",
        "HTTP_X_INGEST_SECRET": "s3cret",
        "HTTP_COOKIE": "sessionid=abc",
        "HTTP_X_API_KEY": "k-123",
    }
    assert ingest_headers_select(meta) == {
        "Content-Type": "application/json",
        "Content-Length": "123",
        "User-Agent": "Genesys-DataAction",
        "ININ-Correlation-Id": "corr-1",
        "X-Amzn-Trace-Id": "Root=1-5f84c7a9-0123456789abcdef01234567",
    }


@pytest.fixture
def secrets(settings):
    settings.INGEST_SECRETS = ["ingest-secret-0123456789", SECRET_NEW]
    settings.INGEST_BASIC_AUTH = ["genesys:basic-password-0123"]
    settings.GENESYS_CLIENT_SECRET = "client-secret-0123456789"
    settings.DOWNSTREAM_SIGNING_SECRET = "whsec_b2xkLXNpZ25pbmc=,whsec_bmV3LXNpZ25pbmc="
    return settings


@pytest.mark.parametrize(
    "value",
    [
        "ingest-secret-0123456789",
        "client-secret-0123456789",
        "basic-password-0123",
        base64.b64encode(b"genesys:basic-password-0123").decode(),
        "whsec_bmV3LXNpZ25pbmc=",  # the second signing secret of a rotation
    ],
)
def test_a_header_holding_a_configured_secret_is_scrubbed(secrets, value):
    meta = {
        "HTTP_USER_AGENT": value,
        "HTTP_ININ_CORRELATION_ID": f"Bearer {value}",
        "HTTP_X_AMZN_TRACE_ID": "Root=1-abc",
    }
    kept = ingest_headers_select(meta)
    assert kept == {
        "User-Agent": "[redacted]",
        "ININ-Correlation-Id": "Bearer [redacted]",
        "X-Amzn-Trace-Id": "Root=1-abc",
    }


def test_a_secret_cut_by_the_length_limit_is_still_scrubbed(secrets):
    value = "x" * 490 + "ingest-secret-0123456789"
    kept = ingest_headers_select({"HTTP_USER_AGENT": value})["User-Agent"]
    assert "ingest-secret" not in kept and "ingest-s" not in kept[-30:]
    assert len(kept) <= 500


def test_nul_in_a_header_is_stored_replaced():
    assert ingest_headers_select({"HTTP_USER_AGENT": "a\x00b"}) == {"User-Agent": "a\ufffdb"}


@pytest.mark.django_db
def test_a_token_sent_in_ordinary_headers_is_neither_stored_nor_shown(client, secrets):
    response = client.post(
        URL,
        data=EVENT,
        content_type="application/json",
        headers={
            "X-Ingest-Secret": SECRET_NEW,
            "X-Request-Id": "tok-REQUEST-0123456789",
            "traceparent": "tok-TRACE-0123456789",
            "User-Agent": f"curl/8 {SECRET_NEW}",
        },
    )
    assert response.status_code == 202
    event = InboundEvent.objects.get()
    stored = str(event.headers)
    for token in ("tok-REQUEST", "tok-TRACE", SECRET_NEW):
        assert token not in stored
    assert event.headers["User-Agent"] == "curl/8 [redacted]"

    viewer = get_user_model().objects.create_user("viewer", password="x", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_inboundevent"))
    client.force_login(viewer)
    page = client.get(reverse("admin:workitems_inboundevent_change", args=[event.pk]))
    assert page.status_code == 200
    for token in ("tok-REQUEST", "tok-TRACE", SECRET_NEW):
        assert token not in page.content.decode()
