"""Security headers on the admin and the dashboard, and production settings that pass
`check --deploy`.

The Content-Security-Policy (django-csp's middleware, configured in settings) forbids inline
scripts (`script-src 'self'`), so every admin page and the dashboard is loaded here and searched
for anything a browser would block: an inline <script>, an `on…=` handler attribute, a
`javascript:` URL, or a script, style or image from another origin.
"""

from __future__ import annotations

import json
import subprocess
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.urls import reverse

from tests.admin.test_smoke import build_everything
from tests.test_settings import PRODUCTION, manage

CSP = "csp.middleware.CSPMiddleware"
# The policy every page carries, as the browser receives it (directive order aside).
POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self' 'unsafe-inline'",
    "img-src": "'self' data:",
    "font-src": "'self'",
    "connect-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}


def directives(header: str) -> dict[str, str]:
    return dict(d.strip().split(" ", 1) for d in header.split(";") if d.strip())


DASHBOARD = "/admin/dashboard/"
# Types a browser runs as script; anything else (application/json, text/template…) is a data
# block that CSP does not govern.
SCRIPT_TYPES = {"", "text/javascript", "application/javascript", "module", "text/ecmascript"}


class _InlineCode(HTMLParser):
    """Collects what `script-src 'self'` would block, and resources from other origins."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self._script: dict | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for name, value in attrs.items():
            if name.startswith("on"):
                self.problems.append(f"<{tag} {name}=…> inline event handler")
            if name in ("href", "src", "action", "formaction") and (
                value or ""
            ).strip().lower().startswith("javascript:"):
                self.problems.append(f"<{tag} {name}={value!r}> javascript: URL")
        if tag == "script":
            kind = (attrs.get("type") or "").strip().lower()
            self._script = {"src": attrs.get("src"), "runs": kind in SCRIPT_TYPES, "text": ""}
        resource = attrs.get("src") if tag in ("script", "img", "iframe") else None
        if tag == "link" and "stylesheet" in (attrs.get("rel") or ""):
            resource = attrs.get("href")
        if resource and urlsplit(resource).netloc:
            self.problems.append(f"<{tag}> loads {resource} from another origin")

    def handle_data(self, data):
        if self._script is not None:
            self._script["text"] += data

    def handle_endtag(self, tag):
        if tag == "script" and self._script is not None:
            script, self._script = self._script, None
            if script["runs"] and not script["src"] and script["text"].strip():
                self.problems.append(f"inline <script>: {script['text'].strip()[:80]!r}")


def inline_code(html: str) -> list[str]:
    parser = _InlineCode()
    parser.feed(html)
    parser.close()
    return parser.problems


def test_the_checker_finds_what_a_browser_would_block():
    html = (
        '<script>alert(1)</script><a href="javascript:go()">x</a><button onclick="f()">'
        '<script src="https://cdn.example.com/x.js"></script>'
        '<script type="application/json" id="d">{"a": 1}</script><script src="/static/a.js">'
        "</script>"
    )
    problems = inline_code(html)
    assert len(problems) == 4, problems


@pytest.fixture
def superuser_client(client):
    user = get_user_model().objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(user)
    return client


def admin_urls() -> list[str]:
    urls = [reverse("admin:index"), DASHBOARD, reverse("admin:password_change")]
    for model in sorted(admin.site._registry, key=str):
        name = f"admin:{model._meta.app_label}_{model._meta.model_name}"
        urls.append(reverse(f"{name}_changelist"))
        obj = model._default_manager.first()
        if obj is not None:
            urls.append(reverse(f"{name}_change", args=[obj.pk]))
        urls.append(reverse(f"{name}_add"))
    return urls + workitem_pages()


def workitem_pages() -> list[str]:
    """The work item pages that carry script of ours: a draft's form (the agent picker), the add
    form for a worktype with custom fields, the worktype chooser, the full timeline."""
    from simulator.demo import SCHEMAS
    from tests import factories
    from workitems.models import WorkItem
    from workitems.services.custom_fields import schema_fields

    queue = factories.queue()
    factories.member(queue)
    worktype = factories.worktype(
        default_queue=queue,
        schema_id="sc-headers",
        json_schema=SCHEMAS[0][2],
        schema_fields=schema_fields(SCHEMAS[0][2]),
    )
    draft = factories.workitem(worktype=worktype, queue=queue)
    add = reverse("admin:workitems_workitem_add")
    return [
        reverse("admin:workitems_workitem_change", args=[draft.pk]),
        f"{add}?worktype={worktype.pk}",
        reverse("admin:workitems_workitem_change", args=[draft.pk]) + "?choose_worktype=1",
        reverse("admin:workitems_workitem_history", args=[WorkItem.objects.first().pk]),
    ]


def assert_headers(response, url: str) -> None:
    assert directives(response["Content-Security-Policy"]) == POLICY, url
    assert response["X-Frame-Options"] == "DENY", url
    assert response["X-Content-Type-Options"] == "nosniff", url
    assert response["Referrer-Policy"] == "same-origin", url


@pytest.mark.django_db
def test_every_admin_page_and_the_dashboard_carry_the_headers_and_no_inline_script(
    superuser_client,
):
    build_everything()
    problems, loaded = [], 0
    for url in admin_urls():
        response = superuser_client.get(url, follow=True)
        if response.status_code == 403:  # an add page the model admin denies
            continue
        assert response.status_code == 200, url
        assert_headers(response, url)
        loaded += 1
        problems += [f"{url}: {p}" for p in inline_code(response.content.decode())]
    assert loaded > 20
    assert problems == []


@pytest.mark.django_db
def test_the_login_page_carries_the_headers_and_no_inline_script(client):
    response = client.get(reverse("admin:login"))
    assert response.status_code == 200
    assert_headers(response, "login")
    assert inline_code(response.content.decode()) == []


def test_the_policy_is_django_csps_and_no_hand_written_middleware_is_left():
    assert CSP in settings.MIDDLEWARE
    assert "csp" in settings.INSTALLED_APPS  # its system checks validate the directives
    assert directives(django_csp_policy()) == POLICY
    assert not [m for m in settings.MIDDLEWARE if "ContentSecurityPolicy" in m]


def django_csp_policy() -> str:
    from csp.utils import build_policy

    return build_policy()


@pytest.mark.django_db
def test_a_view_that_sets_its_own_policy_keeps_it(rf):
    from csp.middleware import CSPMiddleware
    from django.http import HttpResponse

    def view(request):
        response = HttpResponse("x")
        response["Content-Security-Policy"] = "default-src 'none'"
        return response

    response = CSPMiddleware(view)(rf.get("/"))
    assert response["Content-Security-Policy"] == "default-src 'none'"


@pytest.mark.django_db
def test_error_pages_carry_the_policy_too(client):
    response = client.get("/admin/no-such-page/", follow=True)
    assert directives(response["Content-Security-Policy"]) == POLICY


# --- Production settings (DEBUG off): HSTS and secure cookies on the wire -------------------------


@pytest.mark.django_db
def test_https_responses_carry_hsts_and_cookies_are_secure(client):
    """The test settings run with DEBUG off, i.e. the production security settings."""
    get_user_model().objects.create_superuser("root", "root@example.com", "pw")
    page = client.get(reverse("admin:login"), secure=True)
    assert page["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    csrf = page.cookies[settings.CSRF_COOKIE_NAME]
    assert csrf["secure"] is True and csrf["samesite"] == "Lax"

    response = client.post(
        reverse("admin:login"), {"username": "root", "password": "pw"}, secure=True
    )
    assert response.status_code == 302
    session = response.cookies[settings.SESSION_COOKIE_NAME]
    assert session["secure"] is True and session["httponly"] is True
    assert session["samesite"] == "Lax"


def _production(*args: str) -> subprocess.CompletedProcess:
    return manage(*args, env=PRODUCTION)


def test_production_settings_pass_check_deploy():
    result = _production("check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr


PRINT_SETTINGS = """
import json
from django.conf import settings as s
print(json.dumps({name: getattr(s, name) for name in (
    "DEBUG", "SESSION_COOKIE_SECURE", "SESSION_COOKIE_HTTPONLY", "CSRF_COOKIE_SECURE",
    "SECURE_HSTS_SECONDS", "SECURE_HSTS_INCLUDE_SUBDOMAINS", "SECURE_SSL_REDIRECT",
    "SECURE_CONTENT_TYPE_NOSNIFF", "X_FRAME_OPTIONS", "MIDDLEWARE")}))
"""


def _production_settings() -> dict:
    result = _production("shell", "-c", PRINT_SETTINGS)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_production_security_settings():
    values = _production_settings()
    assert values["DEBUG"] is False
    assert values["SESSION_COOKIE_SECURE"] and values["SESSION_COOKIE_HTTPONLY"]
    assert values["CSRF_COOKIE_SECURE"]
    assert values["SECURE_HSTS_SECONDS"] >= 31536000 and values["SECURE_HSTS_INCLUDE_SUBDOMAINS"]
    assert values["SECURE_SSL_REDIRECT"] and values["SECURE_CONTENT_TYPE_NOSNIFF"]
    assert values["X_FRAME_OPTIONS"] == "DENY"
    assert "django.middleware.clickjacking.XFrameOptionsMiddleware" in values["MIDDLEWARE"]


def test_production_settings_list_the_csp_middleware_right_after_security():
    middleware = _production_settings()["MIDDLEWARE"]
    assert (
        middleware.index(CSP)
        == middleware.index("django.middleware.security.SecurityMiddleware") + 1
    )
