"""Every django-q2 job runs a function of a `tasks` module (workitems/tasks.py, audits/tasks.py),
and each such name resolves."""

import ast
import importlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def queued_function_names() -> list[tuple[str, str]]:
    found = []
    for package in ("workitems", "audits", "portal"):
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not isinstance(node, ast.Call):
                    continue
                name = getattr(node.func, "id", getattr(node.func, "attr", ""))
                values = []
                if name == "async_task" and node.args:
                    values.append(node.args[0])
                values += [k.value for k in node.keywords if k.arg == "func"]
                for value in values:
                    if isinstance(value, ast.Constant) and isinstance(value.value, str):
                        found.append((str(path.relative_to(ROOT)), value.value))
    return found


def test_every_queued_job_is_a_function_of_a_tasks_module():
    names = queued_function_names()
    assert len(names) >= 8  # the scan sees the schedules and the requests
    for where, dotted in names:
        module, _, function = dotted.rpartition(".")
        assert module.endswith(".tasks"), f"{where}: {dotted}"
        assert callable(getattr(importlib.import_module(module), function)), f"{where}: {dotted}"
