"""Tampering as PostgreSQL's superuser would do it — `SET session_replication_role = replica`, so
the append-only triggers do not fire — in its own session (psql as `postgres`), on committed rows:
verify_audit names each changed, deleted or inserted row."""

from __future__ import annotations

import io
import os
import shutil
import subprocess

import pytest
from django.core.management import call_command
from django.db import connection

from audits.chain import audit_seal
from audits.services import record

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's superuser"),
    pytest.mark.skipif(
        os.geteuid() != 0 or not shutil.which("runuser") or not shutil.which("psql"),
        reason="needs root to run psql as the postgres superuser",
    ),
]


def as_superuser(sql: str) -> None:
    """psql as `postgres` over the local socket (peer authentication), on the test database."""
    result = subprocess.run(
        ["runuser", "-u", "postgres", "--", "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d"]
        + [
            connection.settings_dict["NAME"],
            "-c",
            f"SET session_replication_role = replica; {sql}",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if result.returncode != 0:
        pytest.skip(f"cannot run psql as postgres here: {result.stderr.strip()[:200]}")


def verify() -> str:
    out = io.StringIO()
    with pytest.raises(SystemExit) as exited:
        call_command("verify_audit", "--wait", "5", stdout=out)
    assert exited.value.code == 1
    return out.getvalue()


@pytest.fixture
def trail():
    events = [record(actor="alice", action="workitem.submit", object_id=str(i)) for i in range(5)]
    audit_seal(wait=5)
    return events


def test_a_row_changed_by_the_superuser_is_named(trail):
    as_superuser(f"UPDATE audits_auditevent SET outcome = 'failure' WHERE id = {trail[2].pk}")
    assert f"Audit chain BROKEN: Row {trail[2].pk} was changed" in verify()


def test_a_row_deleted_by_the_superuser_is_named(trail):
    as_superuser(f"DELETE FROM audits_auditevent WHERE id = {trail[1].pk}")
    assert f"Audit chain BROKEN: Row {trail[1].pk} was removed" in verify()


def test_a_row_inserted_by_the_superuser_is_named(trail):
    forged = trail[-1].pk + 1000  # an id the sequence has not reached: "a new row"…
    as_superuser(
        "INSERT INTO audits_auditevent (id, occurred_at, actor, action, object_type, object_id, "
        "correlation_id, outcome, context) VALUES "
        f"({forged}, now() - interval '3 days', 'mallory', 'workitem.submit', 'WorkItem', '1', "
        "'', 'success', '{}')"
    )
    # …dated three days back, behind rows already sealed: inserted out of order.
    assert f"Row {forged} was inserted out of order" in verify()


def test_a_row_inserted_below_the_chain_end_by_the_superuser_is_named(trail):
    gap = trail[2].pk
    as_superuser(
        f"DELETE FROM audits_auditevent WHERE id = {gap}; "
        f"DELETE FROM audits_auditseal WHERE event_id = {gap}"
    )
    as_superuser(
        "INSERT INTO audits_auditevent (id, occurred_at, actor, action, object_type, object_id, "
        f"correlation_id, outcome, context) VALUES ({gap}, now(), 'mallory', 'x', '', '', '', "
        "'success', '{}')"
    )
    out = verify()
    assert f"Row {gap} was inserted out of order: it has no seal" in out
