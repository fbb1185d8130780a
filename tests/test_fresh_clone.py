"""What a newcomer runs first works on a fresh clone: `make check-deploy` passes (it sets its own
throwaway credentials), and `.ci/run` talks to PostgreSQL as the postgres user from a directory
that user can read, so it prints no "could not change directory … Permission denied"."""

from __future__ import annotations

import os
import pwd
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
VENV = Path(sys.executable).parent.parent


def _shell_env() -> dict[str, str]:
    """A user's shell: none of the variables the test settings export."""
    ours = ("GENESYS_", "DJANGO_", "SIMULATOR_", "SECURE_", "INGEST_", "DOWNSTREAM_", "Q_")
    named = {"SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL", "REDIS_URL", "CACHE_URL", "DEBUG"}
    return {k: v for k, v in os.environ.items() if not k.startswith(ours) and k not in named}


def test_make_check_deploy_passes_on_a_fresh_clone(tmp_path):
    """The committed tree (a clone has no .env and no db.sqlite3), with this suite's virtualenv
    standing in for the one `make` would install."""
    if not (shutil.which("git") and shutil.which("make") and (ROOT / ".git").exists()):
        pytest.skip("needs git, make and a git checkout")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True, timeout=120)
    installed = VENV / ".installed"
    result = subprocess.run(
        ["make", "--no-print-directory", "-o", str(installed), f"VENV={VENV}", "check-deploy"],
        cwd=clone, env=_shell_env(), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def _as_postgres_definition() -> str:
    (line,) = [
        line for line in (ROOT / ".ci" / "run").read_text().splitlines()
        if line.startswith("as_postgres()")
    ]  # fmt: skip
    return line


def test_ci_runs_every_command_as_postgres_through_one_helper():
    script = (ROOT / ".ci" / "run").read_text()
    calls = [line for line in script.splitlines() if re.search(r"\bsu postgres\b", line)]
    assert calls == [_as_postgres_definition()]


def test_the_helper_runs_from_a_directory_postgres_can_read(tmp_path):
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        pytest.skip("no postgres user on this machine")
    if os.geteuid() != 0:
        pytest.skip("su needs root, as .ci/run has")
    private = tmp_path / "checkout"
    private.mkdir(mode=0o700)
    result = subprocess.run(
        ["bash", "-c", f'{_as_postgres_definition()}\nas_postgres "pwd"'],
        cwd=private, capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "/"
    assert "could not change directory" not in result.stderr and result.stderr == ""
