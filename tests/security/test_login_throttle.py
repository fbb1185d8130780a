"""Failed admin logins are throttled per username and client IP: after 5 failures in 15 minutes
the login is refused, before the password is checked, with a message saying when to try again."""

from __future__ import annotations

import time
from unittest import mock

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.urls import reverse

from audits.models import AuditEvent
from portal import security
from portal.security import (
    client_ip,
    login_failure_record,
    login_throttle_remaining,
    throttle_message,
)

LOGIN = reverse("admin:login")
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def throttled(settings):
    cache.clear()
    settings.LOGIN_THROTTLE_FAILURES = 5
    settings.LOGIN_THROTTLE_SECONDS = 900
    yield
    cache.clear()


@pytest.fixture
def user():
    return get_user_model().objects.create_superuser("root", "root@example.com", "right-pw")


def attempt(client, password, username="root", ip="203.0.113.7", **extra):
    return client.post(LOGIN, {"username": username, "password": password}, REMOTE_ADDR=ip, **extra)


def fail(client, times, **kw):
    for _ in range(times):
        response = attempt(client, "wrong", **kw)
        assert response.status_code == 200  # the form again, with the usual error


def test_five_failures_lock_the_username_from_that_address(client, user):
    fail(client, 5)

    response = attempt(client, "wrong")
    assert response.status_code == 429
    assert "Too many failed attempts, try again in 15 minutes." in response.content.decode()
    assert int(response["Retry-After"]) in range(899, 901)


def test_a_locked_login_is_refused_even_with_the_right_password(client, user):
    fail(client, 5)
    with mock.patch("django.contrib.auth.backends.ModelBackend.authenticate") as backend:
        response = attempt(client, "right-pw")
    assert response.status_code == 429
    backend.assert_not_called()  # refused before any password check
    assert "_auth_user_id" not in client.session


def test_the_refusal_is_the_admin_login_page_with_the_message(client, user):
    fail(client, 5)
    page = attempt(client, "wrong", username="Root ").content.decode()
    assert 'id="login-form"' in page
    assert '<p class="errornote">' in page
    assert 'value="Root ' in page  # the username stays filled in (as typed)


def test_four_failures_then_the_right_password_logs_in_and_resets_the_count(client, user):
    fail(client, 4)
    assert attempt(client, "right-pw").status_code == 302
    client.logout()
    fail(client, 4)
    assert attempt(client, "right-pw").status_code == 302


def test_the_lock_is_per_username_and_address(client, user):
    get_user_model().objects.create_superuser("other", "o@example.com", "other-pw")
    fail(client, 5)

    assert attempt(client, "wrong").status_code == 429
    # Same user from another address, another user from the same address: not locked.
    assert attempt(client, "right-pw", ip="198.51.100.9").status_code == 302
    client.logout()
    assert attempt(client, "other-pw", username="other").status_code == 302


def test_the_lock_ends_after_the_window(client, user):
    fail(client, 5)
    assert attempt(client, "right-pw").status_code == 429
    later = time.time() + 901
    with mock.patch.object(security.time, "time", return_value=later):
        assert attempt(client, "right-pw").status_code == 302


def test_failures_spread_beyond_the_window_do_not_lock():
    start = 1_000_000.0
    for n in range(4):
        login_failure_record(username="root", ip="1.2.3.4", now=start + n)
    # The window started at the first failure; the fifth comes after it closed.
    state = login_failure_record(username="root", ip="1.2.3.4", now=start + 901)
    assert state.failures == 1
    assert login_throttle_remaining(username="root", ip="1.2.3.4", now=start + 902) == 0


def test_the_lock_counts_from_the_failure_that_set_it():
    start = 1_000_000.0
    for n in range(5):
        login_failure_record(username="root", ip="1.2.3.4", now=start + n * 100)
    assert login_throttle_remaining(username="root", ip="1.2.3.4", now=start + 400) == 900
    assert login_throttle_remaining(username="ROOT", ip="1.2.3.4", now=start + 1299) == 1
    assert login_throttle_remaining(username="root", ip="1.2.3.4", now=start + 1300) == 0


def test_the_lock_is_audited_once(client, user):
    fail(client, 5)
    attempt(client, "wrong")
    attempt(client, "wrong")
    event = AuditEvent.objects.get(action="admin.login_throttled")
    assert (event.actor, event.object_id, event.outcome) == ("anonymous", "root", "refused")
    assert event.context["client_ip"] == "203.0.113.7"
    assert event.context["failures"] == 5


def test_the_limits_come_from_settings(client, user, settings):
    settings.LOGIN_THROTTLE_FAILURES = 2
    settings.LOGIN_THROTTLE_SECONDS = 120
    fail(client, 2)
    response = attempt(client, "wrong")
    assert response.status_code == 429
    assert "try again in 2 minutes" in response.content.decode()


def test_logins_without_a_request_are_not_counted(user):
    from django.contrib.auth import authenticate

    for _ in range(10):
        assert authenticate(username="root", password="wrong") is None
    assert cache.get(security._key("root", "")) is None


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (1, "1 minute."),
        (60, "1 minute."),
        (61, "2 minutes."),
        (900, "15 minutes."),
    ],
)
def test_message_rounds_up_to_whole_minutes(seconds, text):
    assert throttle_message(seconds) == f"Too many failed attempts, try again in {text}"


def test_client_ip_trusts_forwarded_for_only_as_far_as_configured(rf, settings):
    request = rf.get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.7")
    assert client_ip(request) == "10.0.0.2"
    settings.LOGIN_THROTTLE_TRUSTED_PROXIES = 1
    assert client_ip(request) == "203.0.113.7"  # the load balancer's view; 6.6.6.6 is client-made
    settings.LOGIN_THROTTLE_TRUSTED_PROXIES = 3
    assert client_ip(request) == "10.0.0.2"  # fewer hops than proxies: not trusted


def test_forwarded_for_behind_one_proxy_keys_the_lock_by_the_real_client(client, user, settings):
    settings.LOGIN_THROTTLE_TRUSTED_PROXIES = 1
    fail(client, 5, ip="10.0.0.2", HTTP_X_FORWARDED_FOR="203.0.113.7")
    assert (
        attempt(client, "x", ip="10.0.0.2", HTTP_X_FORWARDED_FOR="203.0.113.7").status_code == 429
    )
    # Another client behind the same load balancer is not locked.
    ok = attempt(client, "right-pw", ip="10.0.0.2", HTTP_X_FORWARDED_FOR="198.51.100.1")
    assert ok.status_code == 302
