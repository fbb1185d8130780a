"""`make run`: set up and run the portal (web server + django-q2 cluster) until Ctrl-C.

Ctrl-C (or SIGTERM) stops every child and each child's children within about ten seconds, and
the command exits 0; it exits non-zero only when something failed (a child that stopped by
itself, a setup step that raised).
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from portal.env import ENV_FILE, ensure_local_secret_key, remember_locally

# Stands for the Architect workflow a real org would target; the simulator only checks its shape.
DEMO_WORKFLOW_ID = "5f0c1d2e-3b4a-4c5d-8e6f-7a8b9c0d1e2f"


# Settings that point at the portal itself in simulator mode, and where each lives under it.
SELF_URLS = {
    "SIMULATOR_BASE_URL": "/simulator",
    "SIMULATOR_EVENT_TARGET_URL": "/api/genesys/events/",
    "DOWNSTREAM_URL": "/demo-receiver/",
}
# Ctrl-C to everything stopped: SIGTERM, then SIGKILL for whatever is left after the grace.
STOP_GRACE_SECONDS = 8.0


class Stop(BaseException):
    """SIGTERM (a process manager, a test) asks for the same clean stop as Ctrl-C."""


class Command(BaseCommand):
    help = "Migrate, seed and sync the simulator, create an admin user, then run web and worker."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)

    def handle(self, *args, host: str, port: int, **options):
        if ensure_local_secret_key():
            # Before any restart or child: they all read it back from .env.
            self.stdout.write(f"Wrote a generated SECRET_KEY to {ENV_FILE}.")
        # The simulator by default (DEBUG on) for this run; the commands run beside it later, with
        # DEBUG off, must talk to the same simulator rather than to no Genesys at all.
        if settings.SIMULATOR_ENABLED and remember_locally("GENESYS_REGION", "simulator"):
            self.stdout.write(f"Wrote GENESYS_REGION=simulator to {ENV_FILE}.")
        self._point_at_this_server(host, port)
        call_command("migrate", interactive=False, verbosity=0)
        call_command("createcachetable", verbosity=0)
        call_command("register_schedules")
        if not settings.DEBUG:
            # With DEBUG off, pages name the hashed files whitenoise serves from STATIC_ROOT.
            call_command("collectstatic", interactive=False, verbosity=0)
            if settings.SECURE_SSL_REDIRECT:
                self.stderr.write(
                    "SECURE_SSL_REDIRECT is on: every page redirects to https://, which runserver "
                    "does not speak. Set SECURE_SSL_REDIRECT=false to try it over http://."
                )
        username, password = self._ensure_admin()
        if _port_in_use(host, port):
            raise CommandError(f"Port {port} on {host} is taken; stop what uses it or pass --port.")

        def stop(signum, frame):
            raise Stop

        signal.signal(signal.SIGTERM, stop)
        manage = [sys.executable, "manage.py"]
        children: list[tuple[str, subprocess.Popen]] = []
        try:
            children.append(("web", _spawn([*manage, "runserver", "--noreload", f"{host}:{port}"])))
            _wait_for_port(host, port, timeout=30)
            if settings.SIMULATOR_ENABLED:
                call_command("simulator_seed")
                call_command("genesys_sync")
                self._ensure_demo_subscription()
            # The worker side: scheduled tasks, plus the two queues drained continuously so an
            # event or a delivery never waits for the next schedule tick.
            workers = [
                ["qcluster"],
                ["process_events", "--forever"],
                ["deliver_outbox", "--forever"],
            ]
            if settings.SIMULATOR_ENABLED:
                # The simulator moves submitted items along and posts their events to this portal.
                workers.append(["simulator_lifecycle", "--forever", "--interval", "5"])
            for worker in workers:
                children.append((worker[0], _spawn([*manage, *worker])))
            self.stdout.write(
                self.style.SUCCESS(
                    f"\nPortal running: http://{host}:{port}/admin/  user {username!r} {password}\n"
                    "Press Ctrl-C to stop the web server and the workers.\n"
                )
            )
            while True:
                for name, child in children:
                    if child.poll() is not None:
                        raise CommandError(
                            f"{name} stopped (exit code {child.returncode}); "
                            "shutting the others down."
                        )
                time.sleep(0.5)
        except (KeyboardInterrupt, Stop):
            self.stdout.write("\nStopping…")
        finally:
            # A second Ctrl-C must not cut the clean-up short and leave processes behind.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            _stop_all([child for _, child in children])
        self.stdout.write("Stopped.")

    def _point_at_this_server(self, host: str, port: int) -> None:
        """In simulator mode, the portal calls itself (the simulator, the ingest endpoint, the demo
        receiver). Their defaults name port 8000; with another --host/--port, set the ones not set
        explicitly and start again, so every setting derived from them is right in this process
        and in its children."""
        if not settings.SIMULATOR_ENABLED:
            return
        shown_host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
        base = f"http://{shown_host}:{port}"
        missing = {
            name: base + path
            for name, path in SELF_URLS.items()
            if name not in os.environ and getattr(settings, name) != base + path
        }
        if not missing:
            return
        if sys.argv[1:2] != ["run_portal"]:
            raise CommandError(
                "Set " + ", ".join(f"{k}={v}" for k, v in missing.items()) + " for this port."
            )
        os.environ.update(missing)
        self.stdout.write("Pointing the simulator's URLs at this server: " + ", ".join(missing))
        sys.stdout.flush()
        os.execv(sys.executable, [sys.executable, *sys.argv])

    def _ensure_demo_subscription(self) -> None:
        """The demo org sends work-item events to this portal, as a trigger → workflow → data
        action would in a real org: create that trigger through the portal's own subscription."""
        from workitems.models import EventSubscription
        from workitems.services.subscriptions import subscription_push

        subscription, _ = EventSubscription.objects.get_or_create(
            name="Work item events to the portal (demo)",
            defaults={
                "target_workflow_id": DEMO_WORKFLOW_ID,
                "description": "Created by make run.",
            },
        )
        if not subscription.genesys_id:
            subscription_push(subscription=subscription, actor="system")
            self.stdout.write("Created the demo event subscription in the simulator.")

    def _ensure_admin(self) -> tuple[str, str]:
        User = get_user_model()
        username = os.environ.get("ADMIN_USERNAME", "admin")
        password = os.environ.get("ADMIN_PASSWORD", "")
        user = User.objects.filter(username=username).first()
        if user is None:
            password = password or secrets.token_urlsafe(12)
            User.objects.create_superuser(username=username, email="", password=password)
            return username, f"password {password!r}"
        if password:
            user.set_password(password)
            user.save(update_fields=["password"])
            return username, "password from ADMIN_PASSWORD"
        return username, "(existing user; `manage.py changepassword admin` resets its password)"


def _spawn(command: list[str]) -> subprocess.Popen:
    # Its own session and process group: Ctrl-C reaches run_portal alone (the cluster must not be
    # signalled twice, once by the terminal and once by us), and the whole group — the cluster's
    # workers included — can be stopped together.
    return subprocess.Popen(command, start_new_session=True)


def _group_alive(pgid: int) -> bool:
    """Whether any process of the group is still running (zombies do not count)."""
    proc = Path("/proc")
    if not proc.is_dir():
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        return True
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # gone meanwhile
        # pid (comm) state ppid pgrp …: comm may hold spaces and parentheses.
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def _stop_all(children: list[subprocess.Popen]) -> None:
    """SIGTERM to each child (each stops its own children: the cluster its workers), then, after
    STOP_GRACE_SECONDS, SIGKILL to every process left in the children's groups."""
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    while time.monotonic() < deadline:
        for child in children:
            child.poll()  # reap the leaders
        if not any(_group_alive(child.pid) for child in children):
            return
        time.sleep(0.1)
    for child in children:
        try:
            os.killpg(child.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            child.wait(timeout=2)
        except subprocess.TimeoutExpired:
            pass


def _port_in_use(host: str, port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex((host, port)) == 0


def _wait_for_port(host: str, port: int, *, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not _port_in_use(host, port):
        if time.monotonic() > deadline:
            raise CommandError(f"The web server did not start listening on {host}:{port}.")
        time.sleep(0.2)
