"""What the portal adds to django-axes, which counts failed admin logins and locks them out.

django-axes counts each failure in the database (`AccessAttempt`, a row per username, address and
user agent, incremented with `SELECT … FOR UPDATE` and `F() + 1`, so failures landing at once on
several web processes are all counted) and refuses a locked username+address in its
authentication backend, before any password is checked. Its settings are in portal/settings.py;
here are the three things it asks the project for:

- `lockout_username`: the username to count under. It must be the one Django authenticates — the
  admin's login form strips and NFKC-normalises what was typed (`UsernameField`), so `ａｎａｌｙｓｔ`
  (full-width) logs in as `analyst` and must be counted, locked and cleared as `analyst`.
- `lockout_response`: the refusal, as the admin's own login page with the message (HTTP 429 and
  `Retry-After`), not a bare text page.
- `audit_lockout`: each lock is written to the audit trail once, as before.
"""

from __future__ import annotations

import logging
import math
from datetime import timedelta

from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_cool_off, get_failure_limit
from axes.signals import user_locked_out
from django import forms
from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import REDIRECT_FIELD_NAME, get_user_model
from django.contrib.auth.forms import UsernameField
from django.db.models import Max
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from audits.models import Outcome
from audits.services import record

logger = logging.getLogger(__name__)


def lockout_username(request: HttpRequest, credentials: dict | None) -> str:
    """The username Django authenticates for these credentials (or this login POST)."""
    user_model = get_user_model()
    name_field = user_model.USERNAME_FIELD
    raw = (credentials or {}).get(name_field) if credentials else request.POST.get(name_field)
    # The login form's own field: strips, then NFKC (and skips normalising over-long input, which
    # the form refuses anyway).
    field = UsernameField(max_length=user_model._meta.get_field(name_field).max_length)
    return field.to_python(raw)


def seconds_locked(request: HttpRequest, credentials: dict | None) -> int:
    """Seconds until this username may try again from this address: the lock runs from the
    failure that set it (attempts during a lock are not recorded, so they do not extend it)."""
    cool_off = get_cool_off(request) or timedelta(0)
    handler = AxesProxyHandler.get_implementation()
    lasts = [
        qs.aggregate(last=Max("attempt_time"))["last"]
        for qs in handler.get_user_attempts(request, credentials)
    ]
    lasts = [last for last in lasts if last is not None]
    if not lasts:
        return max(int(cool_off.total_seconds()), 1)
    remaining = (max(lasts) + cool_off - request.axes_attempt_time).total_seconds()
    return max(int(math.ceil(remaining)), 1)


def lockout_message(seconds: int) -> str:
    minutes = max(int(math.ceil(seconds / 60)), 1)
    unit = "minute" if minutes == 1 else "minutes"
    return f"Too many failed attempts, try again in {minutes} {unit}."


class _LockedOutLoginForm(AdminAuthenticationForm):
    """The admin login form, bound to what was posted, failing with the lock-out message
    without authenticating."""

    def __init__(self, *args, message: str, **kwargs):
        super().__init__(*args, **kwargs)
        self._message = message

    def clean(self):
        raise forms.ValidationError(self._message, code="locked_out")


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None, credentials: dict | None
) -> HttpResponse:
    """AXES_LOCKOUT_CALLABLE: the admin's login page saying when to try again, 429."""
    seconds = seconds_locked(request, credentials)
    site = admin.site
    request.current_app = site.name
    context = {
        **site.each_context(request),
        "title": "Log in",
        "subtitle": None,
        "app_path": request.get_full_path(),
        "username": request.user.get_username() if hasattr(request, "user") else "",
        "form": _LockedOutLoginForm(request, data=request.POST, message=lockout_message(seconds)),
        REDIRECT_FIELD_NAME: request.POST.get(REDIRECT_FIELD_NAME)
        or reverse("admin:index", current_app=site.name),
    }
    response = render(request, site.login_template or "admin/login.html", context, status=429)
    response["Retry-After"] = str(seconds)
    return response


@receiver(user_locked_out, dispatch_uid="portal.login_lockout.audit")
def audit_lockout(sender, request: HttpRequest, username: str, ip_address: str, **kwargs):
    # Sent for the failure that sets the lock and again for every refusal during it; only the
    # first has a failure count.
    failures = getattr(request, "axes_failures_since_start", None)
    if failures is None:
        return
    credentials = getattr(request, "axes_credentials", None)
    logger.warning(
        "admin login locked out",
        extra={"username": (username or "")[:150], "client_ip": ip_address},
    )
    record(
        actor="anonymous",
        action="admin.login_throttled",
        object_type="User",
        object_id=(username or "")[:100],
        outcome=Outcome.REFUSED,
        context={
            "client_ip": ip_address or "",
            "failures": failures,
            "limit": get_failure_limit(request, credentials),
            "locked_seconds": seconds_locked(request, credentials),
            # A look-alike spelling (full-width, padded) of the name it was counted under.
            "typed_differently": request.POST.get("username", username) != username,
        },
    )
