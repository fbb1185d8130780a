"""A throttle on failed admin logins.

Failed logins are counted per username and client IP in Django's cache (Redis
or the database cache: shared by every web process, so several web containers count together).
After `LOGIN_THROTTLE_FAILURES` failures (5) within `LOGIN_THROTTLE_SECONDS` (15 minutes) a POST
to the admin login is answered 429 with "Too many failed attempts, try again in N minutes."
before the password is checked; the lock lasts `LOGIN_THROTTLE_SECONDS` from the failure that
set it, and a successful login clears the count. The lock is audited once (`admin.login_throttled`).
Counting per username *and* IP means one address cannot lock a user out everywhere, while guessing
one user's password from one address is capped at 5 tries per 15 minutes.

The client IP is REMOTE_ADDR. Behind proxies that append to X-Forwarded-For (a load balancer),
set `LOGIN_THROTTLE_TRUSTED_PROXIES` to how many there are; the address the outermost trusted
proxy saw is used. Never trust the header without a proxy that overwrites it: a client could send
a new address with every guess.

Counters are read-modify-write, not atomic: two failures landing at the same instant on two web
processes may count once. The cap stays within a try or two of the limit, which is its point.

Wiring, in settings.MIDDLEWARE: `portal.security.LoginThrottleMiddleware` right after
`django.contrib.messages.middleware.MessageMiddleware` (it renders the admin's login page, so it
needs the session, the user and messages).
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from django import forms
from django.conf import settings
from django.contrib.admin import AdminSite
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import REDIRECT_FIELD_NAME, get_user_model
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.core.cache import cache
from django.template.response import TemplateResponse
from django.urls import reverse

from audits.models import Outcome
from audits.services import record

logger = logging.getLogger(__name__)

CACHE_PREFIX = "login-throttle:"


def _limit() -> int:
    return int(getattr(settings, "LOGIN_THROTTLE_FAILURES", 5))


def _window() -> int:
    return int(getattr(settings, "LOGIN_THROTTLE_SECONDS", 15 * 60))


def client_ip(request) -> str:
    """REMOTE_ADDR, or the address the outermost of LOGIN_THROTTLE_TRUSTED_PROXIES saw."""
    proxies = int(getattr(settings, "LOGIN_THROTTLE_TRUSTED_PROXIES", 0))
    if proxies > 0:
        hops = [h.strip() for h in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        hops = [h for h in hops if h]
        # Each trusted proxy appended the address it saw: the n-th from the right is the client
        # as the outermost trusted proxy saw it. Anything further left the client wrote itself.
        if len(hops) >= proxies:
            return hops[-proxies]
    return request.META.get("REMOTE_ADDR", "")


def _username(value) -> str:
    return str(value or "").strip().lower()


def _key(username: str, ip: str) -> str:
    # Hashed: usernames are user input, and some cache backends restrict key characters.
    digest = hashlib.sha256(f"{_username(username)}\n{ip}".encode()).hexdigest()
    return CACHE_PREFIX + digest


@dataclass(frozen=True)
class ThrottleState:
    failures: int
    reset_at: float  # epoch seconds: when the count (or the lock) ends

    def locked(self, now: float) -> bool:
        return self.failures >= _limit() and now < self.reset_at


def login_throttle_state(*, username: str, ip: str) -> ThrottleState | None:
    raw = cache.get(_key(username, ip))
    if not isinstance(raw, dict):
        return None
    return ThrottleState(int(raw.get("failures", 0)), float(raw.get("reset_at", 0)))


def login_throttle_remaining(*, username: str, ip: str, now: float | None = None) -> float:
    """Seconds until this username may try again from this IP; 0 when not locked."""
    now = time.time() if now is None else now
    state = login_throttle_state(username=username, ip=ip)
    if state is None or not state.locked(now):
        return 0.0
    return state.reset_at - now


def login_failure_record(*, username: str, ip: str, now: float | None = None) -> ThrottleState:
    """Count one failed login; the failure that reaches the limit starts a full-length lock."""
    now = time.time() if now is None else now
    state = login_throttle_state(username=username, ip=ip)
    if state is None or now >= state.reset_at:
        state = ThrottleState(0, now + _window())
    failures = state.failures + 1
    reset_at = now + _window() if failures == _limit() else state.reset_at
    state = ThrottleState(failures, reset_at)
    cache.set(
        _key(username, ip),
        {"failures": failures, "reset_at": reset_at},
        timeout=max(int(math.ceil(reset_at - now)), 1),
    )
    if failures == _limit():
        _audit_lock(username=username, ip=ip, until=reset_at)
    return state


def login_throttle_clear(*, username: str, ip: str) -> None:
    cache.delete(_key(username, ip))


def _audit_lock(*, username: str, ip: str, until: float) -> None:
    logger.warning("admin login throttled", extra={"username": username[:150], "client_ip": ip})
    record(
        actor="anonymous",
        action="admin.login_throttled",
        object_type="user",
        object_id=username[:100],
        outcome=Outcome.REFUSED,
        context={
            "client_ip": ip,
            "failures": _limit(),
            "locked_until": datetime.fromtimestamp(until, UTC).isoformat(),
        },
    )


def throttle_message(seconds: float) -> str:
    minutes = max(int(math.ceil(seconds / 60)), 1)
    unit = "minute" if minutes == 1 else "minutes"
    return f"Too many failed attempts, try again in {minutes} {unit}."


def _on_login_failed(sender, credentials, request=None, **kwargs):
    if request is None:
        return  # not a web login (a shell, a test client's login()): nothing to throttle
    username = credentials.get(get_user_model().USERNAME_FIELD, "")
    login_failure_record(username=username, ip=client_ip(request))


def _on_logged_in(sender, request, user, **kwargs):
    if request is None:
        return
    login_throttle_clear(username=user.get_username(), ip=client_ip(request))


class _ThrottledLoginForm(AdminAuthenticationForm):
    """The admin login form, bound to what was posted, failing with the throttle message
    without checking the password."""

    def __init__(self, *args, message: str, **kwargs):
        super().__init__(*args, **kwargs)
        self._message = message

    def clean(self):
        raise forms.ValidationError(self._message, code="throttled")


class LoginThrottleMiddleware:
    """Refuses admin logins for a locked username+IP before the password is checked.

    Failures are counted from Django's `user_login_failed` signal, so the count covers exactly
    what the authentication backends rejected.
    """

    def __init__(self, get_response):
        self.get_response = get_response
        user_login_failed.connect(_on_login_failed, dispatch_uid="portal.security.login_failed")
        user_logged_in.connect(_on_logged_in, dispatch_uid="portal.security.logged_in")

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        if request.method != "POST":
            return None
        site = getattr(view_func, "__self__", None)
        if not isinstance(site, AdminSite) or getattr(view_func, "__name__", "") != "login":
            return None
        username = request.POST.get("username", "")
        remaining = login_throttle_remaining(username=username, ip=client_ip(request))
        if not remaining:
            return None
        return self._refuse(request, site, remaining)

    def _refuse(self, request, site: AdminSite, remaining: float):
        message = throttle_message(remaining)
        context = {
            **site.each_context(request),
            "title": "Log in",
            "subtitle": None,
            "app_path": request.get_full_path(),
            "username": request.user.get_username() if hasattr(request, "user") else "",
            "form": _ThrottledLoginForm(request, data=request.POST, message=message),
            REDIRECT_FIELD_NAME: request.POST.get(REDIRECT_FIELD_NAME)
            or reverse("admin:index", current_app=site.name),
        }
        request.current_app = site.name
        response = TemplateResponse(
            request, site.login_template or "admin/login.html", context, status=429
        )
        response["Retry-After"] = str(max(int(math.ceil(remaining)), 1))
        return response
