"""verify_audit --export FILE: a file against its manifest and against the chain."""

from __future__ import annotations

import hashlib
import io
import json

import pytest
from django.core.management import CommandError, call_command

from audits.models import AuditVerification
from audits.services import record
from tests.audits.test_chain import raw, tampering

pytestmark = pytest.mark.django_db


@pytest.fixture
def trail():
    return [
        record(actor="alice", action="workitem.submit", object_id=str(i), context={"error": "é"})
        for i in range(5)
    ]


def export(tmp_path, fmt: str):
    target = tmp_path / f"audit.{'jsonl' if fmt == 'jsonl' else 'csv'}"
    call_command("export_audit", "--format", fmt, "--output", str(target), stderr=io.StringIO())
    return target, target.with_name(target.name + ".manifest.json")


def verify(path) -> tuple[int, str]:
    out = io.StringIO()
    try:
        call_command("verify_audit", "--export", str(path), stdout=out)
    except SystemExit as exited:
        return exited.code, out.getvalue()
    return 0, out.getvalue()


@pytest.mark.parametrize("fmt", ["csv", "excel", "jsonl"])
def test_an_untouched_export_matches_its_manifest_and_the_chain(trail, tmp_path, fmt):
    path, _ = export(tmp_path, fmt)
    code, out = verify(path)
    assert code == 0, out
    assert "matches its manifest" in out and "Rows: 5" in out
    run = AuditVerification.objects.get()
    assert run.ok and run.export_file == str(path)


@pytest.mark.parametrize("fmt", ["csv", "excel", "jsonl"])
def test_an_edited_export_fails_its_manifest(trail, tmp_path, fmt):
    path, _ = export(tmp_path, fmt)
    path.write_bytes(path.read_bytes().replace(b"alice", b"alicf", 1))
    code, out = verify(path)
    assert code == 1
    assert "SHA-256" in out and "changed after it was exported" in out


@pytest.mark.parametrize("fmt", ["csv", "excel", "jsonl"])
def test_an_export_edited_with_its_manifest_forged_still_fails_against_the_chain(
    trail, tmp_path, fmt
):
    path, manifest_path = export(tmp_path, fmt)
    path.write_bytes(path.read_bytes().replace(b"alice", b"alicf", 1))
    manifest = json.loads(manifest_path.read_text())
    manifest["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    manifest_path.write_text(json.dumps(manifest))
    code, out = verify(path)
    assert code == 1
    assert "of the file differs from the audit trail" in out


def test_a_row_dropped_from_the_file_is_counted(trail, tmp_path):
    path, manifest_path = export(tmp_path, "csv")
    lines = path.read_bytes().split(b"\r\n")
    path.write_bytes(b"\r\n".join(lines[:2] + lines[3:]))
    manifest = json.loads(manifest_path.read_text())
    manifest["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    manifest["bytes"] = path.stat().st_size
    manifest_path.write_text(json.dumps(manifest))
    code, out = verify(path)
    assert code == 1 and "it has 4 rows, the manifest says 5" in out


def test_a_database_row_changed_after_the_export_is_caught(trail, tmp_path):
    path, _ = export(tmp_path, "csv")
    with tampering():
        raw("UPDATE audits_auditevent SET actor = 'mallory' WHERE id = %s", [trail[2].pk])
    code, out = verify(path)
    assert code == 1
    assert f"row {trail[2].pk} of the file differs" in out
    assert f"Row {trail[2].pk} was changed" in out


def test_a_missing_manifest_is_a_clear_error(trail, tmp_path):
    path, manifest_path = export(tmp_path, "csv")
    manifest_path.unlink()
    with pytest.raises(CommandError, match="no manifest"):
        call_command("verify_audit", "--export", str(path), stdout=io.StringIO())


def test_an_sla_export_is_checked_against_its_manifest(tmp_path):
    target = tmp_path / "sla.csv"
    call_command("export_sla", "--output", str(target), stderr=io.StringIO())
    assert verify(target)[0] == 0
    target.write_bytes(target.read_bytes() + b"1,x\r\n")
    code, out = verify(target)
    assert code == 1 and "SHA-256" in out
