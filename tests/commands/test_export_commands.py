"""export_audit and export_sla share their window, format and output arguments and their checks
(portal/export_command.py): one behaviour, whichever export."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command, load_command_class

from audits.models import AuditEvent

pytestmark = pytest.mark.django_db
EXPORTS = [("audits", "export_audit"), ("workitems", "export_sla")]
NAMES = [name for _, name in EXPORTS]


@pytest.mark.parametrize(("app", "name"), EXPORTS)
def test_both_exports_offer_the_window_the_format_and_the_output(app, name):
    parser = load_command_class(app, name).create_parser("manage.py", name)
    offered = {option for action in parser._actions for option in action.option_strings}
    assert {"--since", "--until", "--format", "--output"} <= offered
    formats = next(a for a in parser._actions if "--format" in a.option_strings).choices
    assert formats == ["csv", "excel", "jsonl"]


@pytest.mark.parametrize("name", NAMES)
def test_a_malformed_since_is_refused_naming_the_flag_and_nothing_is_recorded(name):
    with pytest.raises(CommandError, match=r"^--since: 'last week' is not an ISO date"):
        call_command(name, "--since", "last week", stdout=io.StringIO(), stderr=io.StringIO())
    assert not AuditEvent.objects.exists()


@pytest.mark.parametrize("name", NAMES)
def test_an_until_not_after_since_is_refused(name):
    with pytest.raises(CommandError, match="--until must be later than --since"):
        call_command(
            name,
            "--since",
            "2024-05-02",
            "--until",
            "2024-05-02",
            stdout=io.StringIO(),
            stderr=io.StringIO(),
        )
    assert not AuditEvent.objects.exists()


@pytest.mark.parametrize("name", NAMES)
def test_each_export_is_recorded_as_run_from_the_command(name, tmp_path):
    call_command(name, "--output", str(tmp_path), stderr=io.StringIO())
    recorded = AuditEvent.objects.get()
    assert recorded.context["via"] == "command"
    assert recorded.context["output"] == str(tmp_path)
    assert recorded.action == {"export_audit": "audit.export", "export_sla": "sla.export"}[name]
    written = sorted(p.name for p in tmp_path.iterdir())
    assert len(written) == 2 and written[1] == written[0] + ".manifest.json"
