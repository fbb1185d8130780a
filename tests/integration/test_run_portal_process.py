"""`make run` as a new user meets it: `run_portal` on SQLite, with DEBUG on (the default) and off,
driven over HTTP like a
supervisor — import a CSV, check routability once the member cache has expired, submit, watch a
simulated agent's event arrive and every item breach (by the sweep, or at its close), export — then Ctrl-C (exit 0)
or, with DEBUG off, a child killed (exit 1: a real failure), after which no process of the tree
it started is left.

Each of these once broke: the routability check held SQLite's write lock across its call to the
simulator ("database is locked" after 20 s, and everything shut down), the sweep failed on
`strftime('%Y…')` under DEBUG's debug cursor, and Ctrl-C left the cluster's processes running.

Real processes on a free port of 127.0.0.1 and a temporary SQLite file; bounded by
DEADLINE_SECONDS per step. SLA_DEFAULT_SECONDS=1, so a submitted item is overdue at once; the
sweep is run on demand by resubmitting its last scheduled run from django-q2's admin.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
DEADLINE_SECONDS = 120
ITEMS = 5
PASSWORD = "make-run-test-password-1"
CSV = "external_ref,name,worktype,queue,priority,custom_fields\n" + "".join(
    f'RUN-{i},Refund RUN-{i},Refund request,Refunds,10,"{{""order_number_text"": ""R-{i}"", '
    f'""amount_number"": 20}}"\n'
    for i in range(ITEMS)
)

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/stat").exists(), reason="reads the process tree from /proc (Linux)"
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _clean_env(**extra: str) -> dict[str, str]:
    """The environment of a user's shell: none of the test settings' variables."""
    ours = ("GENESYS_", "DJANGO_", "SIMULATOR_", "SECURE_", "INGEST_", "DOWNSTREAM_", "Q_")
    named = {"SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL", "REDIS_URL", "CACHE_URL", "DEBUG"}
    env = {k: v for k, v in os.environ.items() if not k.startswith(ours) and k not in named}
    return {**env, **extra}


# --- the process tree ---------------------------------------------------------------------------


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()  # state ppid pgrp session … starttime(20)


class Tree:
    """Every process descended from `root`, as seen while it runs: (pid, start time)."""

    def __init__(self, root: int) -> None:
        self.root = root
        self.seen: set[tuple[int, str]] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while not self._stop.is_set():
            self.snapshot()
            self._stop.wait(0.3)

    def snapshot(self) -> None:
        parents: dict[int, int] = {}
        starts: dict[int, str] = {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                fields = _stat(int(entry.name))
                if fields:
                    parents[int(entry.name)] = int(fields[1])
                    starts[int(entry.name)] = fields[19]
        family = {self.root}
        grew = True
        while grew:
            grew = False
            for pid, parent in parents.items():
                if parent in family and pid not in family:
                    family.add(pid)
                    grew = True
        self.seen |= {(pid, starts[pid]) for pid in family if pid in starts}

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def left(self) -> list[str]:
        """Processes of the tree still running (zombies do not run)."""
        alive = []
        for pid, started in self.seen:
            fields = _stat(pid)
            if fields and fields[19] == started and fields[0] != "Z":
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
                alive.append(f"{pid} {fields[0]} {cmdline.decode(errors='replace')[:120]}")
        return alive

    def kill_left(self) -> None:
        for pid, started in self.seen:
            fields = _stat(pid)
            if fields and fields[19] == started and pid != os.getpid():
                try:
                    os.kill(pid, signal.SIGKILL)  # only what this test started
                except ProcessLookupError:
                    pass


# --- driving the portal --------------------------------------------------------------------------


# With DEBUG off a user also sets what production settings require, and turns the HTTPS redirect
# off to use runserver's plain HTTP.
DEBUG_OFF = {
    "DEBUG": "false",
    "SECRET_KEY": "make-run-with-debug-off-0123456789-abcdefghijklmnopqrstuvwxyz",
    "GENESYS_REGION": "simulator",
    "ALLOWED_HOSTS": "127.0.0.1,localhost",
    "SECURE_SSL_REDIRECT": "false",
}


class Portal:
    def __init__(self, tmp_path: Path, *, debug: bool) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.database = tmp_path / "db.sqlite3"
        self.log_path = tmp_path / "run_portal.log"
        self._log = self.log_path.open("w")
        env = _clean_env(
            # With DEBUG on a key too, or run_portal would write one to this checkout's .env
            # (tests/integration/test_make_run_env_file.py runs that in a copy).
            **({"DEBUG": "true", "SECRET_KEY": DEBUG_OFF["SECRET_KEY"]} if debug else DEBUG_OFF),
            DATABASE_URL=f"sqlite:///{self.database}",
            ADMIN_USERNAME="admin",
            ADMIN_PASSWORD=PASSWORD,
            GENESYS_MEMBER_CACHE_SECONDS="2",
            SLA_DEFAULT_SECONDS="1",
            PYTHONUNBUFFERED="1",
        )
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "run_portal", "--port", str(self.port)],
            cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT,
            start_new_session=True,  # as a terminal's foreground job: Ctrl-C goes to its group
        )  # fmt: skip
        self.tree = Tree(self.process.pid)
        self.http = requests.Session()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait(self, condition, what: str) -> None:
        deadline = time.monotonic() + DEADLINE_SECONDS
        while not condition():
            assert self.process.poll() is None, (
                f"run_portal exited while waiting for {what}:\n" + (self.log()[-6000:])
            )
            assert time.monotonic() < deadline, (
                f"timed out waiting for {what}:\n" + (self.log()[-6000:])
            )
            time.sleep(0.5)

    def sql(self, query: str, params=()) -> list[tuple]:
        with sqlite3.connect(f"file:{self.database}?mode=ro", uri=True, timeout=20) as db:
            return db.execute(query, params).fetchall()

    def _keep_cookies(self) -> None:
        # With DEBUG off the session and CSRF cookies are Secure, and requests sends Secure
        # cookies only over https; a browser on localhost sends them. Send them, as it would.
        for cookie in self.http.cookies:
            cookie.secure = False

    def _follow(self, response: requests.Response) -> requests.Response:
        """Follow redirects one at a time, keeping the cookies each one sets."""
        for _ in range(5):
            self._keep_cookies()
            if not response.is_redirect:
                return response
            response = self.http.get(
                requests.compat.urljoin(response.url, response.headers["Location"]),
                timeout=60,
                allow_redirects=False,
            )
        raise AssertionError(f"too many redirects from {response.url}")

    def get(self, path: str) -> requests.Response:
        return self._follow(self.http.get(self.url + path, timeout=60, allow_redirects=False))

    def post(self, path: str, data: dict | None = None, **kwargs) -> requests.Response:
        data = {**(data or {}), "csrfmiddlewaretoken": self.http.cookies.get("csrftoken", "")}
        response = self._follow(
            self.http.post(self.url + path, data=data, timeout=60, allow_redirects=False, **kwargs)
        )
        assert response.status_code == 200, (response.status_code, response.text[:2000])
        return response

    def login(self) -> None:
        self.get("/admin/login/").raise_for_status()
        page = self.post("/admin/login/?next=/admin/", {"username": "admin", "password": PASSWORD})
        assert "Log out" in page.text, page.text[:2000]

    def action(self, action: str, ids: list[int], **extra: str) -> requests.Response:
        return self.post(
            "/admin/workitems/workitem/",
            {"action": action, "_selected_action": ids, "index": "0", **extra},
        )

    def children(self) -> list[tuple[int, str]]:
        """run_portal's direct children: (pid, command line)."""
        found = []
        for entry in Path("/proc").iterdir():
            fields = _stat(int(entry.name)) if entry.name.isdigit() else None
            if fields and int(fields[1]) == self.process.pid:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
                found.append((int(entry.name), cmdline))
        return found

    def stop(self) -> None:
        self.tree.stop()
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.tree.kill_left()
        self._log.close()


@pytest.mark.parametrize("debug", [True, False], ids=["DEBUG on", "DEBUG off"])
def test_make_run_on_sqlite_drives_the_demo_and_ctrl_c_leaves_nothing_running(tmp_path, debug):
    portal = Portal(tmp_path, debug=debug)
    try:
        portal.wait(lambda: "Portal running" in portal.log(), "the portal to start")
        portal.login()
        # The cluster's first scheduled sweep (its scheduler looks every 30 s): re-run on demand
        # below, right after the submission, before a simulated agent can close the items.
        last_sweep = (
            "SELECT id FROM django_q_task WHERE func = 'workitems.tasks.run_sla_sweep' "
            "AND success = 1 ORDER BY stopped DESC LIMIT 1"
        )
        portal.wait(lambda: portal.sql(last_sweep), "the first scheduled sweep")

        # Import a CSV (preview, then confirm).
        portal.get("/admin/workitems/importbatch/add/")
        preview = portal.post(
            "/admin/workitems/importbatch/add/", files={"file": ("drafts.csv", CSV.encode())}
        )
        batch = re.search(r"/admin/workitems/importbatch/(\d+)/preview/", preview.url).group(1)
        portal.post(f"/admin/workitems/importbatch/{batch}/confirm/")
        ids = [pk for (pk,) in portal.sql("SELECT id FROM workitems_workitem ORDER BY id")]
        assert len(ids) == ITEMS

        # Check routability once the member snapshot from start-up has expired: the check
        # refreshes the queue's members from the simulator (served by the same portal, writing
        # the same SQLite file).
        time.sleep(2.5)
        members_before = portal.log().count("/members?")
        checked = portal.action("check_routability", ids)
        assert f"Checked {ITEMS} work items: {ITEMS} routable" in checked.text
        assert portal.log().count("/members?") > members_before  # refreshed, not cached

        # Submit: the confirmation page, then yes.
        confirm = portal.action("submit_to_genesys", ids)
        assert "Yes, submit to Genesys" in confirm.text
        queued = portal.action("submit_to_genesys", ids, post="yes")
        assert f"Queued {ITEMS} work items" in queued.text
        submitted = "SELECT count(*) FROM workitems_workitem WHERE local_state = 'submitted'"
        portal.wait(lambda: portal.sql(submitted)[0][0] == ITEMS, "the cluster to submit them")

        # The SLA sweep, on demand: resubmit its last scheduled run (django-q2's admin).
        portal.post(
            "/admin/django_q/success/",
            {"action": "resubmit_task", "_selected_action": [portal.sql(last_sweep)[0][0]]},
        )
        # Every item breaches (SLA_DEFAULT_SECONDS=1): marked by the sweep, or — when a simulated
        # agent closes it before the sweep comes round, as happens on a loaded machine — at its
        # close. Either way no sweep may fail (the strftime bug failed every one with DEBUG on).
        breached = "SELECT count(*) FROM workitems_workitem WHERE sla_breached_at IS NOT NULL"
        portal.wait(lambda: portal.sql(breached)[0][0] == ITEMS, "every item to breach")
        failed_sweeps = (
            "SELECT count(*) FROM django_q_task "
            "WHERE func = 'workitems.tasks.run_sla_sweep' AND success = 0"
        )
        assert portal.sql(failed_sweeps)[0][0] == 0, portal.log()[-4000:]

        # A simulated agent moves an item; its event reaches the portal and is applied.
        moved = "SELECT count(*) FROM workitems_statustransition WHERE source = 'event'"
        portal.wait(lambda: portal.sql(moved)[0][0] >= 1, "an event from the simulator")
        # Its deliveries reach the demo receiver on this port (--port moved it from 8000 too).
        delivered = "SELECT count(*) FROM workitems_delivery WHERE state = 'delivered'"
        portal.wait(lambda: portal.sql(delivered)[0][0] >= 1, "a delivery to the demo receiver")

        # Exports stream.
        for path in ("/admin/audits/auditevent/export/", "/admin/workitems/workitem/sla-export/"):
            export = portal.get(path)
            assert export.status_code == 200, (path, export.text[:1000])
            assert export.headers["Content-Type"].startswith("text/csv")

        assert len(portal.tree.seen) >= 8  # run_portal, its five children, the cluster's own
        portal.tree.snapshot()
        if debug:
            # Ctrl-C: the terminal signals the foreground process group. A clean stop: exit 0.
            os.killpg(portal.process.pid, signal.SIGINT)
            expected = 0
        else:
            # A child dying is a real failure: the others are stopped, and the exit says so.
            events = next(pid for pid, cmd in portal.children() if "process_events" in cmd)
            os.kill(events, signal.SIGKILL)
            expected = 1
        code = portal.process.wait(timeout=20)
        assert code == expected, portal.log()[-4000:]
        if not debug:
            assert "process_events stopped (exit code -9)" in portal.log()
        time.sleep(0.5)
        assert portal.tree.left() == [], portal.log()[-4000:]
        assert "database is locked" not in portal.log()
    finally:
        portal.stop()
