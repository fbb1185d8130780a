"""The security middlewares, whether or not portal/settings.py lists them yet."""

from __future__ import annotations

import pytest

CSP = "portal.security.ContentSecurityPolicyMiddleware"
THROTTLE = "portal.security.LoginThrottleMiddleware"


def with_security_middleware(middleware: list[str]) -> list[str]:
    """MIDDLEWARE with both of ours where they belong: CSP right after SecurityMiddleware, the
    throttle after the auth and messages middlewares (it renders the admin login page)."""
    result = list(middleware)
    if CSP not in result:
        result.insert(result.index("django.middleware.security.SecurityMiddleware") + 1, CSP)
    if THROTTLE not in result:
        after = "django.contrib.messages.middleware.MessageMiddleware"
        result.insert(result.index(after) + 1, THROTTLE)
    return result


@pytest.fixture
def security_middleware(settings):
    settings.MIDDLEWARE = with_security_middleware(settings.MIDDLEWARE)
    return settings
