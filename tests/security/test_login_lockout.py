"""Failed admin logins lock a username out from one address (django-axes): after 5 failures the
login is refused before the password is checked, on the admin's login page, for 15 minutes.

The username is the one Django authenticates: the login form strips and NFKC-normalises what was
typed, so full-width `ａｎａｌｙｓｔ` is `analyst` — for counting, for the lock and for clearing it.
"""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path
from unittest import mock

import pytest
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from audits.models import AuditEvent
from tests.test_settings import PRODUCTION, manage

LOGIN = reverse("admin:login")
FULL_WIDTH = "ａｎａｌｙｓｔ"  # U+FF41…: NFKC turns it into "analyst"
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def lockout_settings(settings):
    settings.AXES_FAILURE_LIMIT = 5
    settings.AXES_COOLOFF_TIME = timedelta(minutes=15)


@pytest.fixture
def user():
    return get_user_model().objects.create_superuser("analyst", "a@example.com", "right-pw")


def attempt(client, password, username="analyst", ip="203.0.113.7", **extra):
    return client.post(LOGIN, {"username": username, "password": password}, REMOTE_ADDR=ip, **extra)


def fail(client, times, **kw):
    """Wrong passwords; the answer to the last one (the form again, or the lock-out page)."""
    for _ in range(times):
        response = attempt(client, "wrong", **kw)
        assert response.status_code in (200, 429)
    return response


def attempts():
    from axes.models import AccessAttempt

    return AccessAttempt.objects


def logged_in(client) -> bool:
    return "_auth_user_id" in client.session


# --- The finding: look-alike usernames ------------------------------------------------------------


def test_full_width_failures_are_counted_and_locked_as_the_username_django_logs_in(client, user):
    fail(client, 5, username=FULL_WIDTH)

    assert attempt(client, "right-pw", username=FULL_WIDTH).status_code == 429
    assert attempt(client, "right-pw", username="analyst").status_code == 429
    assert not logged_in(client)


def test_a_look_alike_login_cannot_clear_the_real_usernames_lock(client, user):
    fail(client, 5, username="analyst")

    assert attempt(client, "right-pw", username=FULL_WIDTH).status_code == 429
    assert attempt(client, "right-pw", username=" analyst ").status_code == 429
    assert not logged_in(client)


def test_failures_spread_over_spellings_add_up(client, user):
    for name in ("analyst", FULL_WIDTH, " analyst", "analyst ", FULL_WIDTH):
        attempt(client, "wrong", username=name)
    assert attempt(client, "right-pw").status_code == 429


@pytest.mark.parametrize(
    ("credentials", "posted", "expected"),
    [
        ({"username": FULL_WIDTH}, "", "analyst"),
        ({"username": "  analyst\t"}, "", "analyst"),
        (None, FULL_WIDTH, "analyst"),
        ({"username": "ＡＮＡＬＹＳＴ"}, "", "ANALYST"),  # case is kept: Django's lookup is exact
        (None, "", ""),
    ],
)
def test_the_lockout_username_is_the_normalised_login_username(rf, credentials, posted, expected):
    from portal.login_lockout import lockout_username

    request = rf.post(LOGIN, {"username": posted} if posted else {})
    assert lockout_username(request, credentials) == expected


# --- The lock ----------------------------------------------------------------------------------


def test_the_fifth_failure_locks_the_username_from_that_address(client, user):
    assert fail(client, 4).status_code == 200  # the form again, with the usual error

    for _ in range(2):  # the fifth failure, and anything after it
        response = attempt(client, "wrong")
        assert response.status_code == 429
        assert "Too many failed attempts, try again in 15 minutes." in response.content.decode()
        assert int(response["Retry-After"]) in range(895, 901)


def test_a_locked_login_is_refused_before_the_password_is_checked(client, user):
    fail(client, 5)
    with mock.patch("django.contrib.auth.backends.ModelBackend.authenticate") as backend:
        response = attempt(client, "right-pw")
    assert response.status_code == 429
    backend.assert_not_called()
    assert not logged_in(client)


def test_the_refusal_is_the_admins_login_page_with_the_message(client, user):
    from tests.security.test_headers import POLICY, directives, inline_code

    fail(client, 5)
    response = attempt(client, "wrong", username="analyst ")
    assert directives(response["Content-Security-Policy"]) == POLICY
    page = response.content.decode()
    assert inline_code(page) == []
    assert 'id="login-form"' in page
    assert '<p class="errornote">' in page
    assert "Too many failed attempts" in page
    assert "Work Item Portal" in page  # the admin's header, not a bare text page
    assert 'value="analyst' in page  # the username stays filled in


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
    assert attempt(client, "right-pw", ip="198.51.100.9").status_code == 302
    client.logout()
    assert attempt(client, "other-pw", username="other").status_code == 302


def test_the_lock_ends_after_the_cool_off(client, user):
    fail(client, 5)
    assert attempt(client, "right-pw").status_code == 429
    attempts().update(attempt_time=timezone.now() - timedelta(minutes=15, seconds=1))
    assert attempt(client, "right-pw").status_code == 302


def test_attempts_during_the_lock_do_not_extend_it(client, user):
    fail(client, 5)
    locked_at = attempts().get().attempt_time
    for _ in range(3):
        assert attempt(client, "wrong").status_code == 429
    assert attempts().get().attempt_time == locked_at


def test_the_lock_is_audited_once(client, user):
    fail(client, 5)
    attempt(client, "wrong")
    attempt(client, "wrong")
    event = AuditEvent.objects.get(action="admin.login_throttled")
    assert (event.actor, event.object_id, event.outcome) == ("anonymous", "analyst", "refused")
    assert event.context["client_ip"] == "203.0.113.7"
    assert event.context["failures"] == 5


def test_the_limits_come_from_settings(client, user, settings):
    settings.AXES_FAILURE_LIMIT = 2
    settings.AXES_COOLOFF_TIME = timedelta(minutes=2)
    assert fail(client, 1).status_code == 200
    response = attempt(client, "wrong")
    assert response.status_code == 429
    assert "try again in 2 minutes" in response.content.decode()


def test_successful_logins_are_recorded(client, user):
    from axes.models import AccessLog

    assert attempt(client, "right-pw").status_code == 302
    assert AccessLog.objects.get().username == "analyst"


# --- Client address behind proxies ---------------------------------------------------------------


def test_without_trusted_proxies_x_forwarded_for_is_ignored(client, user):
    # A client that sends a new X-Forwarded-For with every guess is still one address.
    for n in range(5):
        attempt(client, "wrong", HTTP_X_FORWARDED_FOR=f"198.51.100.{n}")
    assert attempt(client, "right-pw", HTTP_X_FORWARDED_FOR="198.51.100.99").status_code == 429


def test_behind_one_proxy_the_lock_is_keyed_by_the_address_the_proxy_saw(client, user, settings):
    settings.AXES_IPWARE_META_PRECEDENCE_ORDER = ("HTTP_X_FORWARDED_FOR",)
    settings.AXES_IPWARE_PROXY_COUNT = 0  # what trusted_proxy_settings(1) sets
    # The balancer appends the address it saw; what the client wrote to the left is ignored.
    for n in range(5):
        attempt(client, "wrong", ip="10.0.0.2", HTTP_X_FORWARDED_FOR=f"6.6.6.{n}, 203.0.113.7")
    locked = attempt(client, "x", ip="10.0.0.2", HTTP_X_FORWARDED_FOR="203.0.113.7")
    assert locked.status_code == 429
    other = attempt(client, "right-pw", ip="10.0.0.2", HTTP_X_FORWARDED_FOR="198.51.100.1")
    assert other.status_code == 302


@pytest.mark.parametrize(
    ("proxies", "meta", "client_ip"),
    [
        (0, {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "6.6.6.6"}, "10.0.0.2"),
        (1, {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "6.6.6.6, 1.2.3.4"}, "1.2.3.4"),
        (
            2,
            {"REMOTE_ADDR": "10.0.0.3", "HTTP_X_FORWARDED_FOR": "6.6.6.6, 1.2.3.4, 10.0.0.2"},
            "1.2.3.4",
        ),
    ],
)
def test_trusted_proxy_settings_pick_the_address_the_outermost_proxy_saw(
    rf, settings, proxies, meta, client_ip
):
    from axes.helpers import get_client_ip_address

    from portal.client_address import trusted_proxy_settings

    for name, value in trusted_proxy_settings(proxies).items():
        setattr(settings, name, value)
    request = rf.post(LOGIN, **meta)
    assert get_client_ip_address(request) == client_ip


# --- Atomic across processes ------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrent writers need PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_simultaneous_failures_from_many_workers_are_all_counted(user):
    """Each thread is a web worker with its own database connection; all post at once. Every
    password the backends checked and rejected is counted: no failure is lost to a race."""
    from django.contrib.auth.backends import ModelBackend

    workers = 12
    barrier = threading.Barrier(workers)
    statuses: list[int] = []
    checked: list[int] = []
    check = ModelBackend.authenticate

    def counting_check(self, request, **kwargs):
        checked.append(1)
        return check(self, request, **kwargs)

    def guess():
        client = Client()
        barrier.wait()
        try:
            statuses.append(attempt(client, "wrong").status_code)
        finally:
            connection.close()

    with mock.patch.object(ModelBackend, "authenticate", counting_check):
        threads = [threading.Thread(target=guess) for _ in range(workers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    assert len(statuses) == workers
    counted = sum(attempts().values_list("failures_since_start", flat=True))
    assert counted == len(checked)
    assert counted >= django_settings.AXES_FAILURE_LIMIT
    assert attempt(Client(), "right-pw").status_code == 429


# --- Wiring -------------------------------------------------------------------------------------


def test_no_hand_written_throttle_is_left():
    import portal

    assert not (Path(portal.__file__).parent / "security.py").exists()
    assert not [name for name in dir(django_settings) if name.startswith("LOGIN_THROTTLE")]


PRINT_WIRING = """
import json
from django.conf import settings as s
print(json.dumps({"MIDDLEWARE": s.MIDDLEWARE, "BACKENDS": s.AUTHENTICATION_BACKENDS,
                  "APPS": s.INSTALLED_APPS}))
"""


def test_production_settings_wire_axes_first_among_backends_and_last_among_middleware():
    import json

    result = manage("shell", "-c", PRINT_WIRING, env=PRODUCTION)
    assert result.returncode == 0, result.stderr
    wiring = json.loads(result.stdout.strip().splitlines()[-1])
    assert wiring["BACKENDS"][0] == "axes.backends.AxesStandaloneBackend"
    assert wiring["MIDDLEWARE"][-1] == "axes.middleware.AxesMiddleware"
    assert "axes" in wiring["APPS"]
