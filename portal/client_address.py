"""Which address a login attempt comes from, as django-axes (through django-ipware) reads it.

Without proxies the address is REMOTE_ADDR and X-Forwarded-For is ignored: a client could write a
new one with every guess. Behind N proxies that each append the address they saw to
X-Forwarded-For (a load balancer, perhaps a CDN in front of it), the client is the N-th entry
from the right — the address the outermost trusted proxy saw; anything to its left was written by
the client. django-ipware counts the entries *after* the client, hence N - 1, and with
IPWARE_STRICT off it accepts chains longer than that (a client-written prefix).

Pure: portal/settings.py calls it.
"""

from __future__ import annotations


def trusted_proxy_settings(count: int) -> dict[str, object]:
    """The django-axes settings for `count` proxies in front of the portal."""
    if count < 0:
        raise ValueError(f"the number of trusted proxies cannot be negative, got {count}")
    if count == 0:
        return {
            "AXES_IPWARE_META_PRECEDENCE_ORDER": ("REMOTE_ADDR",),
            "AXES_IPWARE_PROXY_COUNT": None,
        }
    return {
        "AXES_IPWARE_META_PRECEDENCE_ORDER": ("HTTP_X_FORWARDED_FOR",),
        "AXES_IPWARE_PROXY_COUNT": count - 1,
    }
