"""Replays the attacks of docs/SECURITY.md against a running portal with production settings
(gunicorn, DEBUG off, PostgreSQL), as they were first made; prints PASS/FAIL per control.

Run the server and this script with the same environment (they share the database; the script
creates its users, a failed background task and a worktype first):

    export DEBUG=false SECRET_KEY=… ALLOWED_HOSTS=127.0.0.1 SECURE_SSL_REDIRECT=false \
        DATABASE_URL=postgres://… GENESYS_REGION=eu_west_1 GENESYS_CLIENT_ID=x \
        GENESYS_CLIENT_SECRET=… INGEST_SECRETS=prod-check-ingest-secret-0123456789
    .venv/bin/python manage.py migrate && .venv/bin/python manage.py createcachetable \
        && .venv/bin/python manage.py collectstatic --noinput
    .venv/bin/gunicorn portal.wsgi:application -b 127.0.0.1:8001 -w 2 -k gthread &
    .venv/bin/python tests/security/replay_attacks.py http://127.0.0.1:8001

Not part of the suite (it needs a server); each control has its own tests under tests/. Secure
cookies are sent by hand (requests drops them over http://) and requests are marked HTTPS with
X-Forwarded-Proto, as the load balancer would. Lock-outs last 15 minutes: run
`manage.py axes_reset` before running it again.
"""

import json
import os
import re
import sys
import time
from pathlib import Path

import requests

BASE = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8001"
INGEST_SECRET = os.environ.get("INGEST_SECRETS", "").split(",")[0]
FAILED_TASK = "replayfailedtask00000000000000000"[:32]
results = []


def setup() -> str:
    """Users, a failed task and a worktype; the worktype's pk."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    import django

    django.setup()
    from django.contrib.auth.models import Permission, User
    from django.utils import timezone
    from django_q.models import Task

    from workitems.models import Queue, WorkType

    def user(name, password, *codenames, **flags):
        User.objects.filter(username=name).delete()
        made = User.objects.create_user(name, password=password, is_staff=True, **flags)
        made.user_permissions.add(*Permission.objects.filter(codename__in=codenames))

    user("root", "Root-pw-0123", is_superuser=True)
    user("analyst", "Analyst-pw-0123", "view_auditevent", "export_auditevent")
    user("viewer", "Viewer-pw-0123", "view_failure", "view_success", "view_schedule", "view_ormq")
    user(
        "sup", "Sup-pw-0123", "view_workitem", "add_workitem", "change_workitem",
        "import_workitems", "view_eventsubscription", "manage_subscription", "view_inboundevent",
    )  # fmt: skip
    now = timezone.now()
    Task.objects.update_or_create(
        id=FAILED_TASK,
        defaults=dict(name="replay-failed", func="workitems.tasks.reference_sync_task",
                      started=now, stopped=now, success=False, result="boom"),
    )  # fmt: skip
    queue, _ = Queue.objects.get_or_create(genesys_id="q-replay", defaults={"name": "Replay"})
    worktype, _ = WorkType.objects.get_or_create(
        genesys_id="wt-replay", defaults={"name": "Refund request", "default_queue": queue}
    )
    return str(worktype.pk)


def check(name, ok, detail=""):
    results.append(bool(ok))
    print(f"{'PASS' if ok else 'FAIL'}  {name}  {detail}")


class Browser:
    def __init__(self, ip="203.0.113.7"):
        self.cookies = {}
        self.ip = ip

    def _headers(self, extra=None):
        h = {
            "X-Forwarded-Proto": "https",
            "Referer": f"https://127.0.0.1:{BASE.rsplit(':', 1)[1]}/admin/",
            "Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items()),
        }
        h.update(extra or {})
        return h

    def _keep(self, response):
        for raw in response.raw.headers.getlist("Set-Cookie"):
            name, _, rest = raw.partition("=")
            self.cookies[name] = rest.split(";", 1)[0]

    def get(self, path, **kw):
        r = requests.get(
            BASE + path, headers=self._headers(kw.pop("headers", None)), allow_redirects=False, **kw
        )
        self._keep(r)
        return r

    def post(self, path, data=None, files=None, headers=None):
        token = self.cookies.get("csrftoken")
        if token is None:
            self.get("/admin/login/")
            token = self.cookies["csrftoken"]
        data = {**(data or {}), "csrfmiddlewaretoken": self.cookies["csrftoken"]}
        r = requests.post(
            BASE + path,
            data=data,
            files=files,
            headers=self._headers(headers),
            allow_redirects=False,
        )
        self._keep(r)
        return r

    def login(self, username, password):
        self.get("/admin/login/")
        return self.post("/admin/login/?next=/admin/", {"username": username, "password": password})


WORKTYPE_PK = setup()

# 1. Look-alike usernames cannot bypass or clear the lock (per username + address).
b = Browser()
statuses = [b.login("ａｎａｌｙｓｔ", "wrong").status_code for _ in range(5)]
r = b.login("ａｎａｌｙｓｔ", "Analyst-pw-0123")
r2 = b.login("analyst", "Analyst-pw-0123")
check(
    "1 full-width failures lock 'analyst'",
    statuses[:4] == [200] * 4 and r.status_code == 429 and r2.status_code == 429,
    f"{statuses} then {r.status_code}, {r2.status_code}",
)
check(
    "1 lock-out page is the admin login page",
    'id="login-form"' in r.text
    and "Too many failed attempts" in r.text
    and r.headers.get("Retry-After"),
    r.headers.get("Retry-After"),
)

# 2. A view-only user cannot resubmit django-q2 tasks.
v = Browser(ip="198.51.100.20")
assert v.login("viewer", "Viewer-pw-0123").status_code == 302
page = v.get("/admin/django_q/failure/")
r = v.post("/admin/django_q/failure/", {"action": "resubmit_task", "_selected_action": FAILED_TASK})
check(
    "2 django-q2 pages refused to a view-only user",
    page.status_code == 403 and r.status_code == 403,
    f"{page.status_code}, {r.status_code}",
)

# 3. Bad input: messages, not 500s.
s = Browser(ip="198.51.100.30")
assert s.login("sup", "Sup-pw-0123").status_code == 302
header = "external_ref,name,worktype,custom_fields\n"
for label, row in [
    ("NUL byte", "P-1,Na\x00me,Refund request,{}\n"),
    ("nested 5000", 'P-2,Deep,Refund request,"' + "[" * 5000 + "]" * 5000 + '"\n'),
    ("NaN", 'P-3,NaN,Refund request,"{""a"": NaN}"\n'),
    ("Infinity", 'P-4,Inf,Refund request,"{""a"": Infinity}"\n'),
    ("1e400", 'P-5,Big,Refund request,"{""a"": 1e400}"\n'),
    ("\\u0000", 'P-6,Nul,Refund request,"{""a"": ""\\u0000""}"\n'),
]:
    up = s.post(
        "/admin/workitems/importbatch/add/",
        files={"file": ("drafts.csv", (header + row).encode(), "text/csv")},
    )
    preview = s.get(up.headers.get("Location", "/")) if up.status_code == 302 else up
    batch = re.search(r"/importbatch/(\d+)/preview/", up.headers.get("Location", ""))
    confirm = s.post(f"/admin/workitems/importbatch/{batch.group(1)}/confirm/") if batch else None
    check(
        f"3 CSV {label}: preview names the row, confirm refuses",
        up.status_code == 302
        and preview.status_code == 200
        and "Row 2" in preview.text
        and confirm is not None
        and confirm.status_code == 302
        and "preview" in confirm.headers.get("Location", ""),
        f"{up.status_code}/{preview.status_code}/{confirm and confirm.status_code}",
    )

for label, value in [
    ("NaN", '{"a": NaN}'),
    ("1e400", '{"a": 1e400}'),
    ("\\u0000", '{"a": "\\u0000"}'),
    ("nested", "[" * 5000 + "]" * 5000),
]:
    r = s.post(
        "/admin/workitems/workitem/add/",
        {
            "external_ref": f"form-{label}",
            "name": "Form check",
            "worktype": WORKTYPE_PK,
            "custom_fields": value,
        },
    )
    check(
        f"3 admin form {label}: custom_fields error",
        r.status_code == 200 and "errors field-custom_fields" in r.text and "This " in r.text,
        str(r.status_code),
    )
r = s.get("/admin/workitems/eventsubscription/abc/test/")
check("3 trigger test page with id 'abc'", r.status_code == 302, str(r.status_code))

# 4. Undeclared admin filters are dropped (list) or refused (export).
a = Browser(ip="198.51.100.41")
a.login("root", "Root-pw-0123")
r = a.get("/admin/audits/auditevent/?context__icontains=secret")
e = a.get("/admin/audits/auditevent/export/?actor__regex=.*")
check(
    "4 audit list drops ?context__icontains, export refuses ?actor__regex",
    r.status_code == 302
    and "context__icontains" not in r.headers["Location"]
    and e.status_code == 400
    and "actor__regex" in e.text,
    f"{r.status_code} {r.headers.get('Location')} / {e.status_code} {e.text[:80]!r}",
)

# 5. The dashboard needs workitems.view_dashboard.
r = s.get("/admin/dashboard/")
check(
    "5 dashboard refused to staff without view_dashboard", r.status_code == 403, str(r.status_code)
)

# 6. Ingest keeps only allow-listed headers, secrets redacted.
r = requests.post(
    BASE + "/api/genesys/events/",
    data=json.dumps(
        {
            "id": f"wi-replay-{time.time_ns()}",
            "operation": "edit",
            "dateModified": "2026-07-01T10:00:00Z",
        }
    ),  # fmt: skip
    headers={
        "Content-Type": "application/json",
        "X-Ingest-Secret": INGEST_SECRET,
        "X-Forwarded-Proto": "https",
        "X-Request-Id": "tok-request-0123",
        "traceparent": "tok-trace-0123",
        "User-Agent": f"curl {INGEST_SECRET}",
    },
)
event_id = r.json().get("id")
page = a.get(f"/admin/workitems/inboundevent/{event_id}/change/")
check(
    "6 ingest stored no token from ordinary headers",
    r.status_code == 202
    and page.status_code == 200
    and "tok-request" not in page.text
    and "tok-trace" not in page.text
    and INGEST_SECRET not in page.text
    and "[redacted]" in page.text,
    f"{r.status_code} {page.status_code}",
)

# 7. CSP from django-csp on admin pages.
r = a.get("/admin/")
check(
    "7 CSP header",
    "script-src 'self'" in r.headers.get("Content-Security-Policy", ""),
    r.headers.get("Content-Security-Policy", ""),
)

print(f"{sum(results)} passed, {len(results) - sum(results)} failed")
sys.exit(0 if all(results) else 1)
