"""The benchmarks' scratch databases are dropped even when another role is connected to one (which
makes `DROP DATABASE … WITH (FORCE)` fail for a role that may not end its sessions): only our own
sessions are ended, the others waited for, and a database that cannot be dropped is reported."""

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
from scratch_db import scratch_create, scratch_drop  # noqa: E402

URL = os.environ.get("DATABASE_URL", "").split("?")[0]

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not URL.startswith("postgres"), reason="needs PostgreSQL"),
]


def _superuser_psql_works() -> bool:
    if shutil.which("runuser") is None or os.geteuid() != 0:
        return False
    probe = subprocess.run(
        ["runuser", "-u", "postgres", "--", "psql", "-Atqc", "SELECT 1"],
        capture_output=True,
        text=True,
        timeout=20,
    )
    return probe.returncode == 0 and probe.stdout.strip() == "1"


def _sessions(url: str, name: str) -> list[str]:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        return [
            r[0]
            for r in conn.execute(
                "SELECT usename FROM pg_stat_activity WHERE datname = %s", [name]
            ).fetchall()
        ]


def _other_role_session(name: str, seconds: float) -> subprocess.Popen:
    """A session of the superuser `postgres` on the database, for `seconds`."""
    return subprocess.Popen(
        [
            "runuser",
            "-u",
            "postgres",
            "--",
            "psql",
            "-d",
            name,
            "-Atqc",
            f"SELECT pg_sleep({seconds})",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for(condition, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)


def _exists(url: str, name: str) -> bool:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        return bool(conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone())


@pytest.fixture
def superuser():
    if not _superuser_psql_works():
        pytest.skip("needs root and a local `postgres` superuser (runuser … psql)")


def test_another_roles_session_is_waited_for_and_only_our_own_are_ended(superuser, capsys):
    import psycopg

    name, scratch_url = scratch_create(URL, "test_scratch_wait")
    ours = psycopg.connect(scratch_url, autocommit=True)
    other = _other_role_session(name, 2)
    try:
        _wait_for(lambda: "postgres" in _sessions(URL, name))
        assert scratch_drop(URL, name, wait_seconds=60) is True
    finally:
        other.wait(30)
    out = capsys.readouterr().out
    assert "after ending 1 session(s) of our own" in out
    assert other.returncode == 0, other.stderr.read()  # its query ran to the end: not ended
    assert ours.closed or ours.broken or not _exists(URL, name)
    assert not _exists(URL, name)
    ours.close()


def test_a_database_held_by_another_role_past_the_wait_is_left_and_reported(superuser, capsys):
    name, _ = scratch_create(URL, "test_scratch_left")
    other = _other_role_session(name, 4)
    try:
        _wait_for(lambda: "postgres" in _sessions(URL, name))
        assert scratch_drop(URL, name, wait_seconds=0.5) is False
        out = capsys.readouterr().out
        assert f"Could not drop database {name}" in out
        assert "1 of role 'postgres'" in out and "WITH (FORCE)" in out
        assert _exists(URL, name)
    finally:
        other.wait(30)
        scratch_drop(URL, name, wait_seconds=30)
    assert not _exists(URL, name)


def test_without_other_roles_force_drops_at_once(capsys):
    import psycopg

    name, scratch_url = scratch_create(URL, "test_scratch_force")
    ours = psycopg.connect(scratch_url, autocommit=True)
    assert scratch_drop(URL, name) is True
    assert capsys.readouterr().out.strip() == f"Dropped database {name}."
    assert not _exists(URL, name)
    ours.close()
