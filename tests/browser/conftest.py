"""Browser fixtures: Debian's Chromium driven by Playwright against pytest-django's live server.

One browser per session, a fresh context and page per test (10 s per action), a supervisor with
exactly the permissions the paths need, logged in through the real login form. The portal's
Genesys calls go to the simulator in process (`genesys_simulator`: the live server's threads
share the monkeypatch); the simulator's "data action" POSTs events to the live server over HTTP.

Screenshots go to artifacts/screenshots/ (git-ignored), kept as CI artefacts; a failing test
leaves one of the page it failed on.
"""

from __future__ import annotations

import importlib
import os
import re
from collections.abc import Callable
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ACTION_TIMEOUT_MS = 10_000
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
PASSWORD = "browser-test-pw"
# What a supervisor needs for the paths under test, and nothing more. (No permission on status
# transitions or deliveries: an item's timeline is for anyone who may view the item.)
SUPERVISOR_PERMISSIONS = [
    ("workitems", "view_workitem"),
    ("workitems", "add_workitem"),
    ("workitems", "change_workitem"),
    ("workitems", "submit_workitem"),
    ("workitems", "import_workitems"),
    # The form's pickers search these (the admin's autocomplete asks for view permission).
    ("workitems", "view_queue"),
    ("workitems", "view_workbin"),
    ("workitems", "view_skill"),
    ("workitems", "view_worktype"),
    ("workitems", "view_inboundevent"),
    ("audits", "view_auditevent"),
    ("audits", "export_auditevent"),
    ("workitems", "view_dashboard"),
]

# An analyst: reads and exports the audit trail and the SLA report, nothing else.
ANALYST_PERMISSIONS = [
    ("audits", "view_auditevent"),
    ("audits", "export_auditevent"),
    ("workitems", "view_workitem"),
    ("workitems", "export_sla"),
]


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture(scope="package")
def browser():
    """Chromium, headless, shared by every browser test.

    Playwright's sync API keeps an event loop marked as running in this thread from start() to
    stop(), and Django's ORM refuses to run under one unless DJANGO_ALLOW_ASYNC_UNSAFE is set. Both
    last only while this package's tests run (package scope, not session): the rest of the suite
    keeps Django's async-safety check and a thread without a running loop."""
    sync_api = pytest.importorskip("playwright.sync_api")
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        playwright = sync_api.sync_playwright().start()
        try:
            chromium = playwright.chromium.launch(
                executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
            )
            try:
                yield chromium
            finally:
                chromium.close()
        finally:
            playwright.stop()


@pytest.fixture
def shot() -> Callable:
    """shot(page, "name") → artifacts/screenshots/name.png, the whole page."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(page, name: str) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


@pytest.fixture
def page(browser, request, live_server):
    failure_shot = SCREENSHOTS / f"FAILED-{re.sub(r'[^A-Za-z0-9_.-]+', '-', request.node.name)}.png"
    failure_shot.unlink(missing_ok=True)  # from an earlier run
    context = browser.new_context(
        base_url=live_server.url, viewport={"width": 1366, "height": 900}, accept_downloads=True
    )
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    context.set_default_navigation_timeout(ACTION_TIMEOUT_MS)
    page = context.new_page()
    # Uncaught script errors and CSP refusals: a page that renders but whose scripts broke.
    script_errors: list[str] = []
    page.on("pageerror", lambda error: script_errors.append(f"{page.url}: {error}"))
    page.on(
        "console",
        lambda message: (
            script_errors.append(f"{page.url}: {message.text}")
            if message.type == "error" and "Content Security Policy" in message.text
            else None
        ),
    )
    yield page
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        try:
            page.screenshot(path=str(failure_shot), full_page=True)
        except Exception:  # the page may be gone; the test's own error is what matters
            pass
    context.close()
    assert not script_errors, "script errors in the pages:\n" + "\n".join(script_errors)


def staff_user(username: str, granted: list[tuple[str, str]], **fields):
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Permission
    from django.db.models import Q

    user = get_user_model().objects.create_user(
        username, password=PASSWORD, is_staff=True, **fields
    )
    wanted = Q()
    for app_label, codename in granted:
        wanted |= Q(content_type__app_label=app_label, codename=codename)
    permissions = list(Permission.objects.filter(wanted))
    assert len(permissions) == len(granted), "a permission was renamed"
    user.user_permissions.add(*permissions)
    return user


@pytest.fixture
def supervisor(db):
    return staff_user("supervisor", SUPERVISOR_PERMISSIONS, first_name="Sam")


@pytest.fixture
def analyst(db):
    return staff_user("analyst", ANALYST_PERMISSIONS, first_name="Ana")


@pytest.fixture
def log_in(page, shot):
    """log_in(user, screenshot=None): through the login form, landing on the admin index."""

    def run(user, *, screenshot: str | None = None):
        page.goto("/admin/login/?next=/admin/")
        if screenshot:
            shot(page, screenshot)
        page.get_by_label("Username").fill(user.get_username())
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(re.compile(r"/admin/$"))
        return page

    return run


@pytest.fixture
def wired(genesys_simulator, live_server, settings, monkeypatch):
    """The simulator's data action targets the live server's ingest endpoint over HTTP (with the
    `X-Ingest-Secret` header events.data_action_headers() builds from INGEST_SECRETS[0]).

    Returns the requests.Session it posts with. The member/token cache is cleared on both sides:
    the database cache table is not flushed between transactional tests."""
    import requests
    from django.core.cache import cache

    from simulator import events as simulator_events

    assert settings.INGEST_SECRETS, "the simulator's events need an ingest secret"
    settings.SIMULATOR_EVENT_TARGET_URL = f"{live_server.url}/api/genesys/events/"
    session = requests.Session()
    monkeypatch.setattr(simulator_events, "SENDER", session)
    cache.clear()
    yield session
    session.close()
    cache.clear()


WORKFLOW = "b796bd10-b101-4a46-acc6-2705157d00e1"


@pytest.fixture
def subscribed(wired):
    """The org's trigger to the portal, as `make run` creates it: every add and edit."""
    from workitems.models import EventSubscription
    from workitems.services.subscriptions import subscription_push

    subscription = EventSubscription.objects.create(
        name="Work item events to the portal", target_workflow_id=WORKFLOW
    )
    subscription_push(subscription=subscription, actor="ops")
    return wired


class QueuedTasks:
    """What django-q2's async_task was asked to run, kept for the test to run."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple]] = []

    def record(self, func, *args, **kwargs) -> str:
        self.calls.append((func, args))
        return f"task-{len(self.calls)}"

    def names(self) -> list[str]:
        return [func for func, _ in self.calls]

    def run(self) -> list[str]:
        """Run and forget the recorded tasks, in order; returns their results."""
        results = []
        while self.calls:
            func, args = self.calls.pop(0)
            module, name = func.rsplit(".", 1)
            results.append(getattr(importlib.import_module(module), name)(*args))
        return results


@pytest.fixture
def queued_tasks(monkeypatch) -> QueuedTasks:
    """async_task records instead of queueing; the test runs the tasks in its own thread, as the
    cluster would, once the page has answered (not inside the live server's request)."""
    tasks = QueuedTasks()
    monkeypatch.setattr("django_q.tasks.async_task", tasks.record)
    return tasks
