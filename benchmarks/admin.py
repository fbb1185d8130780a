"""Admin pages at scale: the work item and audit changelists and the supervisor dashboard with
1,000,000 work items and 5,000,000 audit rows, against the same pages on an empty twin database.

Two throwaway databases are made beside DATABASE_URL's: `bench_admin_<pid>` (loaded) and
`bench_admin_empty_<pid>` (its empty twin: the same reference rows, user and two items). Both are
measured in the same rounds, a page on one then on the other, so a busy machine slows both alike.
Prints, per page: the median of `--repeat` rounds (after one warm-up) of requests through
Django's test Client logged in as a supervisor (staff, not a superuser, with the permissions the
pages need: a superuser skips the two permission queries), empty vs loaded, the ratio, the queries
per request (Django's CaptureQueriesContext) and whether the page meets the goal (≤ 3×, ≤ 10
queries); then the slowest SQL statement of each loaded page. The pages: the work item list
(plain, searched by external-ref and name prefix and by Genesys id, "ready to submit", sorted by
age and by due date, at risk, every age bucket), an item's page (in Genesys, and a draft with its
form), the audit list (plain, and filtered by action and outcome) and the dashboard. No
assertions: identical runs differ by up to ±25 %.

`--explain DIR` (default benchmarks/explain) writes, for every list page, EXPLAIN (ANALYZE,
BUFFERS) of its two slowest statements on the loaded database (not counting the filters' choice
walks) to DIR/<page>.txt: the plans behind the README's figures. `--explain ''` writes none.

It needs PostgreSQL (DATABASE_URL=postgres://…, a role with CREATEDB); on anything else it says
why and exits 0. It migrates both databases, loads the rows with INSERT … SELECT generate_series
(a few minutes for the full size on 2 busy cores), runs VACUUM ANALYZE, measures, and drops both
databases, also on error or Ctrl-C.

Run (from the project root):

    export DATABASE_URL=postgres://app:app@127.0.0.1:5432/app
    .venv/bin/python benchmarks/admin.py                                   # 1M items, 5M audit rows
    .venv/bin/python benchmarks/admin.py --items 100000 --audit 500000 --explain ''   # a quick look
    .venv/bin/python benchmarks/admin.py --repeat 9 --open-share 0.05

PostgreSQL not running? Start it as .ci/run does (pg_ctlcluster 15 main start; role app/app
with CREATEDB).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

from scratch_db import ScratchUnavailable, scratch_create, scratch_drop

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--items", type=int, default=1_000_000, help="work items (default 1,000,000)")
    p.add_argument("--audit", type=int, default=5_000_000, help="audit rows (default 5,000,000)")
    p.add_argument("--queues", type=int, default=25)
    p.add_argument("--worktypes", type=int, default=8)
    p.add_argument(
        "--open-share", type=float, default=0.03, help="share of items still open (default 0.03)"
    )
    p.add_argument(
        "--history-days",
        type=int,
        default=60,
        help="closed items span this many days (default 60: a 14-day window is then ~23 %% of "
        "the table, a harsher case than a year of history)",
    )
    p.add_argument(
        "--repeat", type=int, default=7, help="timed rounds per page and database (default 7)"
    )
    p.add_argument(
        "--explain",
        default=str(ROOT / "benchmarks" / "explain"),
        help="directory for each list page's plans (default benchmarks/explain; '' for none)",
    )
    p.add_argument("--keep", action="store_true", help="keep the databases (prints their names)")
    p.add_argument(
        "--superuser", action="store_true", help="measure as a superuser instead of a supervisor"
    )
    return p.parse_args()


# --- Loading ------------------------------------------------------------------------------------


def insert_select(model, exprs: dict[str, str], source: str, order_by: str = "") -> str:
    """INSERT INTO model's table (every column) SELECT … FROM (source) s.

    Columns not in `exprs` get their field default (or NULL, '' for blank text, now() for auto
    times), so fields added later by others need no change here.
    """
    from django.db import connection

    qn = connection.ops.quote_name
    columns, values = [], []
    for f in model._meta.concrete_fields:
        if f.primary_key:
            continue
        columns.append(qn(f.column))
        if f.attname in exprs:
            values.append(exprs[f.attname])
        elif getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
            values.append("now()")
        elif f.has_default():
            value = f.get_db_prep_save(f.get_default(), connection)
            with connection.cursor() as cursor:
                values.append(cursor.mogrify("%s", [value]).replace("%", "%%"))
        elif f.null:
            values.append("NULL")
        elif f.blank:
            values.append("''")
        else:
            raise SystemExit(f"benchmarks/admin.py: no value for {model.__name__}.{f.name}")
    return (
        f"INSERT INTO {qn(model._meta.db_table)} ({', '.join(columns)}) "
        f"SELECT {', '.join(values)} FROM ({source}) s"
        + (f" ORDER BY {order_by}" if order_by else "")
    )


def load(args) -> dict[str, float]:
    from django.db import connection

    from audits.models import AuditEvent
    from workitems.models import Queue, WorkItem, WorkType

    timings = {}
    queue_ids = list(Queue.objects.values_list("pk", flat=True))
    worktype_ids = list(WorkType.objects.values_list("pk", flat=True))
    open_per_mille = round(args.open_share * 1000)
    # Open items are young (up to 48 h, skewed recent); closed ones span the history and took up to
    # 2.5 h against a 1 h threshold, so about half breached.
    source = f"""
        SELECT g, is_open, created, closed, created + interval '1 hour' AS deadline
        FROM (
            SELECT g, is_open, created,
                   CASE WHEN is_open THEN NULL
                        ELSE LEAST(created + r2 * interval '150 minutes', now()) END AS closed
            FROM (
                SELECT g, is_open, r2,
                       CASE WHEN is_open THEN now() - r1 * r1 * interval '48 hours'
                            ELSE now() - r1 * interval '{args.history_days} days' END AS created
                FROM (
                    SELECT g, (g %% 1000) < {open_per_mille} AS is_open,
                           random() AS r1, random() AS r2
                    FROM generate_series(1, {args.items}) g
                ) a
            ) b
        ) c
    """
    queues = "ARRAY[" + ",".join(map(str, queue_ids)) + "]::bigint[]"
    worktypes = "ARRAY[" + ",".join(map(str, worktype_ids)) + "]::bigint[]"
    item_sql = insert_select(
        WorkItem,
        {
            "external_ref": "'bench-' || g",
            "name": "'Bench item ' || g",
            "worktype_id": f"({worktypes})[1 + (g %% {len(worktype_ids)})]",
            # 3 % without a queue of their own (the worktype's default applies).
            "queue_id": f"CASE WHEN g %% 33 = 0 THEN NULL ELSE ({queues})[1 + ((g / 7) %% {len(queue_ids)})] END",
            "genesys_id": "'bench-g-' || g",
            "status_category": "CASE WHEN is_open THEN 'InProgress' ELSE 'Closed' END",
            "date_created": "created",
            "date_modified": "COALESCE(closed, created)",
            "date_status_changed": "COALESCE(closed, created)",
            "date_closed": "closed",
            "local_state": "'submitted'",
            "submitted_at": "created",
            "sla_threshold_seconds": "3600",
            "sla_deadline": "deadline",
            "sla_paused_since": "CASE WHEN is_open AND g %% 50 = 0 THEN now() - interval '10 minutes' END",
            "sla_breached_at": "CASE WHEN COALESCE(closed, now()) > deadline AND NOT (is_open AND g %% 50 = 0) "
            "THEN LEAST(deadline + interval '1 minute', COALESCE(closed, now())) END",
            "routability_verdict": "'routable'",
            "created_at": "created",
            "updated_at": "COALESCE(closed, created)",
        },
        source,
        # Stored in creation order, as a table that grows over time is.
        order_by="created",
    )
    audit_sql = insert_select(
        AuditEvent,
        {
            "occurred_at": f"now() - (g::double precision / {args.audit}) * interval '90 days'",
            "actor": "(ARRAY['system','genesys','alice','bob'])[1 + g %% 4]",
            "action": "(ARRAY['workitem.submitted','sla.breached','event.processed',"
            "'delivery.sent','routability.checked','workitem.status'])[1 + g %% 6]",
            "object_type": "'WorkItem'",
            "object_id": f"(g %% {max(args.items, 1)})::text",
            "correlation_id": f"'bench-' || (g %% {max(args.items, 1)})",
            "outcome": "(ARRAY['success','success','success','info','failure','refused'])[1 + g %% 6]",
        },
        f"SELECT g FROM generate_series(1, {args.audit}) g",
    )
    with connection.cursor() as cursor:
        for label, sql in [("work items", item_sql), ("audit rows", audit_sql)]:
            started = time.perf_counter()
            cursor.execute(sql, [])  # [] so psycopg turns %% into %
            timings[f"load {label}"] = time.perf_counter() - started
            print(f"  loaded {cursor.rowcount:,} {label} in {timings[f'load {label}']:.1f} s")
        started = time.perf_counter()
        cursor.execute("VACUUM ANALYZE")
        timings["vacuum analyze"] = time.perf_counter() - started
        print(f"  VACUUM ANALYZE in {timings['vacuum analyze']:.1f} s")
    return timings


# --- Measuring ----------------------------------------------------------------------------------


def pages(user) -> list[tuple[str, str]]:
    from django.contrib import admin
    from django.test import RequestFactory
    from django.urls import reverse

    from workitems.models import WorkItem

    out = []
    workitem_admin = admin.site._registry.get(WorkItem)
    if workitem_admin is None:
        print("  (WorkItem changelist skipped: WorkItemAdmin is not registered)")
    else:
        url = reverse("admin:workitems_workitem_changelist")
        out.append(("WorkItem changelist", url))
        # Search: a ref prefix (~111 of 1M items), a name prefix, a whole Genesys id.
        out.append(("WorkItem ?q=ref prefix", f"{url}?q=bench-4242"))
        out.append(("WorkItem ?q=name prefix", f"{url}?q=Bench+item+4242"))
        out.append(("WorkItem ?q=Genesys id", f"{url}?q=bench-g-4242"))
        if any(getattr(f, "parameter_name", "") == "ready" for f in workitem_admin.list_filter):
            out.append(("WorkItem ?ready=yes", f"{url}?ready=yes"))
        # The list's own sort parameters, as a supervisor's request gets them.
        request = RequestFactory().get(url)
        request.user = user
        by_age = workitem_admin.ordering_params(request, "date_created")
        if by_age:
            out.append(("WorkItem sorted by age", f"{url}?o=-{by_age['o']}"))
        by_due = workitem_admin.ordering_params(request, "date_due")
        if by_due:
            # The loaded items have no due date: every tie is broken by id.
            out.append(("WorkItem sorted by due", f"{url}?o={by_due['o']}"))
        from workitems.admin.sla_filters import AgeBucketFilter, OpenFilter, SlaStateFilter
        from workitems.selectors.dashboard import AGE_BUCKETS

        registered = set(workitem_admin.list_filter)
        if {OpenFilter, SlaStateFilter, AgeBucketFilter} <= registered:
            out.append(("WorkItem ?sla=at_risk", f"{url}?sla=at_risk"))
            for key, *_rest in AGE_BUCKETS:
                out.append((f"WorkItem ?age={key}", f"{url}?{urlencode({'age': key})}"))
        else:
            print("  (filtered WorkItem changelists skipped: the SLA filters are not registered)")
        # Item pages: the two made in prepare() (the loaded audit rows include theirs).
        for label, ref in (
            ("WorkItem page (Genesys)", "bench-sent"),
            ("WorkItem page (draft)", "bench-draft"),
        ):
            pk = WorkItem.objects.get(external_ref=ref).pk
            out.append((label, reverse("admin:workitems_workitem_change", args=[pk])))
    audits = reverse("admin:audits_auditevent_changelist")
    out.append(("AuditEvent changelist", audits))
    # A pair the loaded rows never have (each action has one outcome): the worst case of a
    # combined filter, whose first page is otherwise sought through every row of the action.
    out.append(
        (
            "AuditEvent ?action+outcome",
            f"{audits}?{urlencode({'action': 'delivery.sent', 'outcome__exact': 'failure'})}",
        )
    )
    out.append(("Supervisor dashboard", reverse("portal-dashboard")))
    out.append(("/metrics", "/metrics"))
    return out


def explain_searches() -> None:
    """The plans of the list's prefix searches, as the list runs them (first page, its order)."""
    from django.db import connection

    from workitems.models import WorkItem
    from workitems.selectors.workitem_list import workitem_search_q

    if connection.vendor != "postgresql":
        return
    print("\nPlans of the list's searches (EXPLAIN ANALYZE, first page of 101 rows):")
    for term in ("bench-4242", "Bench item 4242", "UX-"):
        queryset = WorkItem.objects.filter(workitem_search_q(term)).order_by("-created_at", "-id")
        plan = queryset[:101].explain(analyze=True)
        used = sorted({w for w in plan.replace("(", " ").split() if w.startswith("workitem_")})
        last = plan.strip().splitlines()[-1].strip()
        print(f"  q={term!r}: indexes {', '.join(used) or 'none'}; {last}")


# Statements every request makes (session, user, permissions): not a page's own.
OVERHEAD = ('FROM "django_session"', 'FROM "auth_user"', 'FROM "auth_permission"')


def capture(client, url: str) -> list[dict]:
    """One request's statements, after one untimed request: switching twins clears the
    content-type cache (their ids may differ), which a running portal never does, so the first
    request after a switch would count a look-up no supervisor's request makes."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.get(url)
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    # Read now: the next request's request_started signal clears the connection's query log.
    captured = list(ctx.captured_queries)
    if response.status_code != 200:
        raise SystemExit(f"benchmarks/admin.py: {url} answered {response.status_code}")
    return captured


def timed(client, url: str) -> float:
    started = time.perf_counter()
    client.get(url)
    return time.perf_counter() - started


def page_file(label: str) -> str:
    slug = "".join(c if c.isalnum() else "-" for c in label.lower())
    return "-".join(part for part in slug.split("-") if part) + ".txt"


def save_explains(directory: Path, label: str, url: str, captured: list[dict], args) -> None:
    """EXPLAIN (ANALYZE, BUFFERS) of the page's two slowest own statements, to a file."""
    from django.db import connection

    # The list's own statements: not the session's, nor the filters' choices (loose index scans).
    own = [
        q
        for q in captured
        if not any(marker in q["sql"] for marker in OVERHEAD) and "WITH RECURSIVE" not in q["sql"]
    ]
    slowest = sorted(own, key=lambda q: float(q["time"]), reverse=True)[:2]
    lines = [
        f"{label}: {url}",
        f"benchmarks/admin.py --items {args.items} --audit {args.audit} "
        f"--open-share {args.open_share} --history-days {args.history_days}",
        f"The page's two slowest statements (of {len(captured)}), as the loaded database "
        "plans them.",
    ]
    with connection.cursor() as cursor:
        for q in slowest:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + q["sql"].replace("%", "%%"), [])
            plan = "\n".join(row[0] for row in cursor.fetchall())
            lines += ["", f"-- {float(q['time']) * 1000:.1f} ms in the request", q["sql"], plan]
    directory.mkdir(parents=True, exist_ok=True)
    (directory / page_file(label)).write_text("\n".join(lines) + "\n")


GOAL_RATIO = 3.0
GOAL_QUERIES = 10


def report(targets, results: dict[str, dict]) -> None:
    """One line per page: median ms empty and loaded, the ratio, queries, and the goal."""
    print()
    print(
        f"{'page':<28}{'empty ms':>10}{'loaded ms':>11}{'ratio':>8}{'queries':>10}"
        f"   goal (≤ {GOAL_RATIO:g}×, ≤ {GOAL_QUERIES} queries)"
    )
    for label, _u in targets:
        r = results[label]
        ratio = r["loaded"] / r["empty"]
        queries = r["queries"]
        met = ratio <= GOAL_RATIO and queries <= GOAL_QUERIES
        print(
            f"{label:<28}{r['empty'] * 1000:>10.1f}{r['loaded'] * 1000:>11.1f}{ratio:>7.2f}x"
            f"{r['queries_empty']:>5} / {queries:<3}  {'met' if met else 'NOT met'}"
        )
    print("\nSlowest SQL per page (loaded):")
    for label, _u in targets:
        seconds, sql = results[label]["slowest"]
        print(f"  {label}: {seconds * 1000:.0f} ms  {' '.join(sql.split())[:150]}…")


# What a supervisor needs to open every page measured (the form's pickers read the mirrors).
SUPERVISOR_PERMISSIONS = [
    ("workitems", "view_workitem"),
    ("workitems", "change_workitem"),
    ("workitems", "submit_workitem"),
    ("workitems", "view_dashboard"),
    ("workitems", "view_queue"),
    ("workitems", "view_workbin"),
    ("workitems", "view_skill"),
    ("workitems", "view_worktype"),
    ("audits", "view_auditevent"),
]


def supervisor(User):
    from django.contrib.auth.models import Permission
    from django.db.models import Q

    user = User.objects.create_user("bench", "bench@example.com", "bench-password", is_staff=True)
    wanted = Q()
    for app_label, codename in SUPERVISOR_PERMISSIONS:
        wanted |= Q(content_type__app_label=app_label, codename=codename)
    user.user_permissions.add(*Permission.objects.filter(wanted))
    return user


class Twins:
    """The loaded database and its empty twin behind Django's one connection, switched between
    requests (the benchmark's connections are not persistent, so each request connects anew)."""

    def __init__(self, names: dict[str, str]):
        self.names = names

    def use(self, role: str) -> None:
        from django.contrib.contenttypes.models import ContentType
        from django.db import connections

        connection = connections["default"]
        connection.close()
        connection.settings_dict["NAME"] = self.names[role]
        ContentType.objects.clear_cache()


def prepare(args):
    """Migrate the current database and give it the reference rows, a user and two items."""
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.test import Client

    from workitems.models import Queue, Workbin, WorkItem, WorkType

    call_command("migrate", verbosity=0)
    call_command("createcachetable", verbosity=0)
    bin_ = Workbin.objects.create(genesys_id="bench-bin", name="Bench workbin")
    queues = [
        Queue.objects.create(genesys_id=f"bench-q-{i}", name=f"Queue {i:02d}")
        for i in range(args.queues)
    ]
    for i in range(args.worktypes):
        WorkType.objects.create(
            genesys_id=f"bench-wt-{i}",
            name=f"Worktype {i:02d}",
            default_queue=queues[i % len(queues)],
            default_workbin=bin_,
        )
    if args.superuser:
        user = User.objects.create_superuser("bench", "bench@example.com", "bench-password")
    else:
        user = supervisor(User)
    worktype = WorkType.objects.order_by("pk").first()
    WorkItem.objects.create(external_ref="bench-draft", name="Bench draft", worktype=worktype)
    WorkItem.objects.create(
        external_ref="bench-sent",
        name="Bench item in Genesys",
        worktype=worktype,
        genesys_id="bench-sent",
        local_state="submitted",
    )
    # /metrics asks for its bearer token; the admin pages ignore the header.
    client = Client(HTTP_AUTHORIZATION=f"Bearer {os.environ['METRICS_TOKEN']}")
    client.force_login(user)
    return client, user


def main() -> int:
    args = parse_args()
    url = os.environ.get("DATABASE_URL", "")
    names: dict[str, str] = {}
    try:
        for role, prefix in (("loaded", "bench_admin"), ("empty", "bench_admin_empty")):
            name, scratch_url = scratch_create(url, prefix)
            names[role] = name
            if role == "loaded":
                os.environ["DATABASE_URL"] = scratch_url
    except ScratchUnavailable as exc:
        print(f"benchmarks/admin.py {exc}; nothing measured.")
        for name in names.values():
            scratch_drop(url, name)
        return 0

    for key, value in {
        "SECRET_KEY": "benchmark-only-secret-key",
        "GENESYS_REGION": "simulator",
        "ALLOWED_HOSTS": "testserver",
        "SECURE_SSL_REDIRECT": "false",
        "DEBUG": "false",
        "METRICS_TOKEN": "benchmark-metrics-token",
    }.items():
        os.environ.setdefault(key, value)
    os.environ["DJANGO_SETTINGS_MODULE"] = "portal.settings_test"
    started = time.perf_counter()
    try:
        import django

        django.setup()
        twins = Twins(names)
        clients, users = {}, {}
        for role in ("empty", "loaded"):
            print(f"Database {names[role]} ({role}): migrating…")
            twins.use(role)
            clients[role], users[role] = prepare(args)
        print(f"Loading {args.items:,} work items and {args.audit:,} audit rows…")
        load(args)
        # The dashboard and /metrics read the hourly rollup and the sweep's forecast: derive both
        # on each twin, as the sweep and event processing would have kept them.
        from workitems.services.rollup import rollup_rebuild
        from workitems.services.sla import sla_sweep

        for role in ("empty", "loaded"):
            twins.use(role)
            started_derive = time.perf_counter()
            rollup_rebuild()
            sla_sweep()
            print(
                f"  {role}: rollup rebuilt and swept in {time.perf_counter() - started_derive:.1f} s"
            )

        twins.use("loaded")
        targets = pages(users["loaded"])
        print(f"Measuring {len(targets)} pages × 2 databases × {args.repeat} rounds…")
        results: dict[str, dict] = {}
        explain_dir = Path(args.explain) if args.explain else None
        for label, page_url in targets:
            captured = {}
            for role in ("empty", "loaded"):
                twins.use(role)
                captured[role] = capture(clients[role], page_url)
            is_list = "changelist" in label or label.startswith(
                ("WorkItem ?", "WorkItem sorted", "AuditEvent ?")
            )
            if explain_dir and is_list:
                save_explains(explain_dir, label, page_url, captured["loaded"], args)
            times: dict[str, list[float]] = {"empty": [], "loaded": []}
            for _ in range(args.repeat):
                for role in ("empty", "loaded"):
                    twins.use(role)
                    times[role].append(timed(clients[role], page_url))
            slowest = max(captured["loaded"], key=lambda q: float(q["time"]), default=None)
            results[label] = {
                "empty": statistics.median(times["empty"]),
                "loaded": statistics.median(times["loaded"]),
                "queries_empty": len(captured["empty"]),
                "queries": len(captured["loaded"]),
                "slowest": (float(slowest["time"]), slowest["sql"]) if slowest else (0.0, ""),
            }
        twins.use("loaded")
        report(targets, results)
        explain_searches()
        if explain_dir:
            print(f"\nPlans of the list pages written to {explain_dir}/")
        print(f"\nTotal {time.perf_counter() - started:.0f} s")
    except KeyboardInterrupt:
        print("\ninterrupted")
    finally:
        for name in names.values():
            scratch_drop(url, name, keep=args.keep)
    return 0


if __name__ == "__main__":
    sys.exit(main())
