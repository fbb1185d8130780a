"""Import rules of the event walk: the wire modules are pure, and applying an event does not
reach back into the HTTP-side ingest module."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PURE = ["workitems/genesys_wire.py", "workitems/genesys_events.py"]
# Standard library only; and within the project, only each other.
ALLOWED_PROJECT = {"workitems.genesys_wire", "workitems.genesys_events"}


def imported_modules(path: str) -> set[str]:
    tree = ast.parse((ROOT / path).read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


@pytest.mark.parametrize("path", PURE)
def test_the_wire_modules_import_neither_django_nor_anything_doing_io(path):
    names = imported_modules(path)
    tops = {name.split(".")[0] for name in names}
    assert "django" not in tops
    assert not tops & {"requests", "socket", "urllib", "http", "sqlite3", "psycopg", "logging"}
    project = {n for n in names if n.split(".")[0] in {"workitems", "audits", "portal"}}
    assert {n.rsplit(".", 1)[0] if n not in ALLOWED_PROJECT else n for n in project} <= (
        ALLOWED_PROJECT
    )


def test_the_module_that_applies_events_imports_nothing_from_ingest():
    names = imported_modules("workitems/services/event_apply.py")
    assert not {n for n in names if n.startswith("workitems.services.ingest")}


@pytest.mark.parametrize(
    "path",
    ["workitems/services/reconcile.py", "workitems/services/event_batch.py"],
)
def test_reconcile_and_the_batch_writer_import_nothing_from_ingest(path):
    assert not {n for n in imported_modules(path) if n.startswith("workitems.services.ingest")}


def test_the_event_column_sizes_are_the_ones_normalisation_cuts_to():
    from workitems.genesys_events import OPERATION_MAX, TOPIC_MAX, WORKITEM_ID_MAX
    from workitems.models import InboundEvent

    sizes = {
        f: InboundEvent._meta.get_field(f).max_length
        for f in ("workitem_genesys_id", "topic_name", "operation")
    }
    assert sizes == {
        "workitem_genesys_id": WORKITEM_ID_MAX,
        "topic_name": TOPIC_MAX,
        "operation": OPERATION_MAX,
    }
