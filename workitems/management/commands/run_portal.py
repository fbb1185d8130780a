"""`make run`: set up and run the portal (web server + django-q2 cluster) until Ctrl-C."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

# Stands for the Architect workflow a real org would target; the simulator only checks its shape.
DEMO_WORKFLOW_ID = "5f0c1d2e-3b4a-4c5d-8e6f-7a8b9c0d1e2f"


class Command(BaseCommand):
    help = "Migrate, seed and sync the simulator, create an admin user, then run web and worker."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)

    def handle(self, *args, host: str, port: int, **options):
        call_command("migrate", interactive=False, verbosity=0)
        call_command("createcachetable", verbosity=0)
        call_command("register_schedules")
        username, password = self._ensure_admin()
        if _port_in_use(host, port):
            raise CommandError(f"Port {port} on {host} is taken; stop what uses it or pass --port.")

        manage = [sys.executable, "manage.py"]
        web = subprocess.Popen([*manage, "runserver", "--noreload", f"{host}:{port}"])
        children = [web]
        try:
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
            target = f"http://{host}:{port}/api/genesys/events/"
            env = {**os.environ, "SIMULATOR_EVENT_TARGET_URL": target}
            for worker in workers:
                children.append(subprocess.Popen([*manage, *worker], env=env))
            self.stdout.write(
                self.style.SUCCESS(
                    f"\nPortal running: http://{host}:{port}/admin/  user {username!r} {password}\n"
                    "Press Ctrl-C to stop the web server and the workers.\n"
                )
            )
            while all(child.poll() is None for child in children):
                time.sleep(0.5)
            raise CommandError("A child process stopped; shutting the others down.")
        except KeyboardInterrupt:
            self.stdout.write("\nStopping…")
        finally:
            for child in children:
                if child.poll() is None:
                    child.send_signal(signal.SIGINT)
            for child in children:
                try:
                    child.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    child.kill()

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


def _port_in_use(host: str, port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex((host, port)) == 0


def _wait_for_port(host: str, port: int, *, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not _port_in_use(host, port):
        if time.monotonic() > deadline:
            raise CommandError(f"The web server did not start listening on {host}:{port}.")
        time.sleep(0.2)
