"""After `make run`, the manage.py commands it suggests work in the same shell, with nothing
exported: run_portal's first start writes a generated SECRET_KEY to the checkout's .env, and the
settings read it (`manage.py changepassword admin` used to fail with "SECRET_KEY must be set").

run_portal writes into the checkout it runs from, so the end-to-end test runs in a copy.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from portal.env import ensure_local_secret_key, remember_locally

ROOT = Path(__file__).resolve().parent.parent.parent
CODE = ["manage.py", "portal", "workitems", "audits", "simulator", "templates"]
DEADLINE_SECONDS = 120


def _shell_env(**extra: str) -> dict[str, str]:
    """A user's shell: none of the variables the test settings export."""
    ours = ("GENESYS_", "DJANGO_", "SIMULATOR_", "SECURE_", "INGEST_", "DOWNSTREAM_", "Q_")
    named = {"SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL", "REDIS_URL", "CACHE_URL", "DEBUG"}
    env = {k: v for k, v in os.environ.items() if not k.startswith(ours) and k not in named}
    return {**env, "PYTHONUNBUFFERED": "1", **extra}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_the_key_is_written_once_beside_existing_lines_and_only_the_owner_reads_it(
    tmp_path, monkeypatch
):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    env_file = tmp_path / ".env"
    env_file.write_text("TIME_ZONE=Europe/Dublin")
    assert ensure_local_secret_key(env_file) is True
    lines = env_file.read_text().splitlines()
    assert lines[0] == "TIME_ZONE=Europe/Dublin"
    (key_line,) = [line for line in lines if line.startswith("SECRET_KEY=")]
    assert len(key_line) > len("SECRET_KEY=") + 40
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    monkeypatch.delenv("SECRET_KEY")
    assert ensure_local_secret_key(env_file) is False  # the file has one: kept
    assert env_file.read_text().count("SECRET_KEY=") == 1


def test_no_key_is_written_when_one_is_exported(tmp_path, monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "exported-by-the-user")
    assert ensure_local_secret_key(tmp_path / ".env") is False
    assert not (tmp_path / ".env").exists()


def test_a_region_the_user_exported_is_not_written_over(tmp_path, monkeypatch):
    monkeypatch.setenv("GENESYS_REGION", "eu_west_1")
    assert remember_locally("GENESYS_REGION", "simulator", tmp_path / ".env") is False
    assert not (tmp_path / ".env").exists()


@pytest.fixture
def checkout(tmp_path) -> Path:
    copy = tmp_path / "checkout"
    for name in CODE:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, copy / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            copy.mkdir(exist_ok=True)
            shutil.copy2(source, copy / name)
    return copy


def test_after_make_run_changepassword_works_in_the_same_shell(checkout):
    port = _free_port()
    log = checkout / "run_portal.log"
    with log.open("w") as out:
        # `make run`: DEBUG=true, no SECRET_KEY anywhere.
        portal = subprocess.Popen(
            [sys.executable, "manage.py", "run_portal", "--port", str(port)],
            cwd=checkout, env=_shell_env(DEBUG="true"), stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + DEADLINE_SECONDS
            while "Portal running" not in log.read_text():
                assert portal.poll() is None, log.read_text()[-4000:]
                assert time.monotonic() < deadline, log.read_text()[-4000:]
                time.sleep(0.5)
            os.killpg(portal.pid, signal.SIGINT)  # Ctrl-C
            assert portal.wait(timeout=30) == 0, log.read_text()[-4000:]
        finally:
            if portal.poll() is None:
                os.killpg(portal.pid, signal.SIGKILL)
                portal.wait(timeout=10)
    assert "SECRET_KEY=" in (checkout / ".env").read_text()
    assert "SECRET_KEY=" not in log.read_text()  # the key itself is never printed

    # The same shell: DEBUG is not exported there, and nothing else is either.
    new_password = "Correct-Horse-Battery-42\n"
    result = subprocess.run(
        [sys.executable, "manage.py", "changepassword", "admin"],
        cwd=checkout, env=_shell_env(), input=new_password * 2, capture_output=True, text=True,
        timeout=60, start_new_session=True,  # no terminal: getpass reads stdin
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Password changed successfully for user 'admin'" in result.stdout

    # The Genesys commands there (genesys_sync, submit_workitems) talk to the simulator that
    # make run used, not to no Genesys at all.
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=checkout, env=_shell_env(), capture_output=True, text=True, timeout=60,
        start_new_session=True,
    )  # fmt: skip
    assert "GENESYS_REGION is not set" not in result.stdout + result.stderr
    assert "GENESYS_REGION=simulator" in (checkout / ".env").read_text()
