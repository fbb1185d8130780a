"""The rule "never hold a database transaction across an HTTP call", enforced on every test.

Every outbound request (`requests.Session.send`: the Genesys client, downstream deliveries, the
simulator's data action, the in-process transport included) first checks the calling thread's
database connections. If one is inside an `atomic()` block that the code under test opened, the
request is refused with `HttpInsideTransaction` and recorded, and the test fails at teardown even
if the code swallowed the exception.

The transactions pytest-django (Django's TestCase) wraps around each test are not the code's:
Django marks them `_from_testcase`, and only blocks without that mark count. So the check is the
same in `db` tests (inside the test's transaction) and in `transaction=True` tests.
"""

from __future__ import annotations

import threading

import requests
from django.db import connections


class HttpInsideTransaction(AssertionError):
    pass


def open_transactions() -> list[str]:
    """Aliases of this thread's connections inside an atomic block the code opened."""
    return [
        conn.alias
        for conn in connections.all(initialized_only=True)
        if conn.in_atomic_block
        and any(not getattr(block, "_from_testcase", False) for block in conn.atomic_blocks)
    ]


class Guard:
    def __init__(self) -> None:
        self.violations: list[str] = []
        self._lock = threading.Lock()
        self._real_send = requests.Session.send

    def install(self, monkeypatch) -> None:
        guard = self

        def send(session, request, **kwargs):
            aliases = open_transactions()
            if aliases:
                message = (
                    f"{request.method} {request.url} was sent inside a database transaction "
                    f"({', '.join(aliases)}): commit first, then call out"
                )
                with guard._lock:
                    guard.violations.append(message)
                raise HttpInsideTransaction(message)
            return guard._real_send(session, request, **kwargs)

        monkeypatch.setattr(requests.Session, "send", send)
