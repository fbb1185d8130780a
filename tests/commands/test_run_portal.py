"""run_portal's process handling (the whole `make run` over HTTP and Ctrl-C is
tests/integration/test_run_portal_process.py)."""

from __future__ import annotations

import os
import signal
import time

import pytest
from django.core.management import CommandError

from workitems.management.commands import run_portal
from workitems.management.commands.run_portal import Command, _group_alive, _spawn, _stop_all

STUBBORN = (
    # Ignores SIGTERM and SIGINT, and so does the child it starts: only SIGKILL ends them.
    "import os, signal, sys, time\n"
    "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    "signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
    "os.fork()\n"
    "time.sleep(60)\n"
)


def test_each_child_runs_in_its_own_process_group_so_ctrl_c_reaches_only_run_portal():
    child = _spawn(["sleep", "30"])
    try:
        assert os.getpgid(child.pid) == child.pid != os.getpgid(0)
    finally:
        child.kill()
        child.wait()


def test_stopping_ends_children_and_their_children_even_if_they_ignore_sigterm(monkeypatch):
    import sys

    monkeypatch.setattr(run_portal, "STOP_GRACE_SECONDS", 1.0)
    polite = _spawn(["sleep", "30"])
    stubborn = _spawn([sys.executable, "-c", STUBBORN])
    time.sleep(0.5)  # the stubborn one has forked
    assert _group_alive(stubborn.pid)
    started = time.monotonic()
    _stop_all([polite, stubborn])
    assert time.monotonic() - started < 10
    assert not _group_alive(polite.pid) and not _group_alive(stubborn.pid)
    assert polite.returncode == -signal.SIGTERM
    assert stubborn.returncode == -signal.SIGKILL


def test_another_port_points_the_simulator_urls_at_it_or_says_what_to_set(settings, monkeypatch):
    settings.SIMULATOR_ENABLED = True
    settings.SIMULATOR_BASE_URL = "http://127.0.0.1:8000/simulator"
    settings.SIMULATOR_EVENT_TARGET_URL = "http://127.0.0.1:8000/api/genesys/events/"
    settings.DOWNSTREAM_URL = "http://127.0.0.1:8000/demo-receiver/"
    for name in run_portal.SELF_URLS:
        monkeypatch.setenv(name, "x")  # so that the test's end restores the environment as it was
        monkeypatch.delenv(name)
    command = Command()
    command._point_at_this_server("127.0.0.1", 8000)  # the defaults already match: nothing to do
    monkeypatch.setattr("sys.argv", ["pytest"])  # not `manage.py run_portal`: cannot start again
    with pytest.raises(CommandError, match="SIMULATOR_BASE_URL=http://127.0.0.1:19150/simulator"):
        command._point_at_this_server("0.0.0.0", 19150)

    started_again = []
    monkeypatch.setattr("sys.argv", ["manage.py", "run_portal", "--port", "19150"])
    monkeypatch.setattr(run_portal.os, "execv", lambda *args: started_again.append(args))
    command._point_at_this_server("0.0.0.0", 19150)
    assert started_again and started_again[0][1][1:] == [
        "manage.py",
        "run_portal",
        "--port",
        "19150",
    ]
    assert os.environ["DOWNSTREAM_URL"] == "http://127.0.0.1:19150/demo-receiver/"
    assert os.environ["SIMULATOR_EVENT_TARGET_URL"] == "http://127.0.0.1:19150/api/genesys/events/"
