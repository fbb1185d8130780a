"""Settings are read only as declared: every `settings.X` the code reads is declared in
portal/settings.py (or is one of Django's own), no read restates a default with
`getattr(settings, X, default)`, and every variable read from the environment is in the README."""

import ast
import re
from pathlib import Path

from django.conf import global_settings

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("portal", "workitems", "audits", "simulator", "benchmarks")


def source_files():
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" not in path.parts:
                yield path


def declared() -> set[str]:
    tree = ast.parse((ROOT / "portal/settings.py").read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        targets = node.targets if isinstance(node, ast.Assign) else []
        for target in targets:
            for elt in target.elts if isinstance(target, ast.Tuple) else [target]:
                if isinstance(elt, ast.Name) and elt.id.isupper():
                    names.add(elt.id)
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return names | {name for name in dir(global_settings) if name.isupper()}


def reads(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "settings"
            and node.attr.isupper()
        ):
            yield node.attr, node.lineno
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "getattr"
            and node.args
            and isinstance(node.args[0], ast.Name)
            and node.args[0].id == "settings"
            and len(node.args) > 2
        ):
            yield "getattr-with-default", node.lineno


def test_every_setting_the_code_reads_is_declared_and_read_plainly():
    known = declared()
    problems = [
        f"{path.relative_to(ROOT)}:{line}: {name}"
        for path in source_files()
        if path.name not in {"settings.py", "settings_test.py"}
        for name, line in reads(path)
        if name not in known
    ]
    assert problems == []


def test_every_variable_read_from_the_environment_is_in_the_readme_settings_table():
    text = (ROOT / "portal/settings.py").read_text(encoding="utf-8")
    env_names = set(
        re.findall(r"read(?:_secret|_bool|_list|_positive_int)?\(\s*\"([A-Z0-9_]+)\"", text)
    )
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table_rows = "\n".join(line for line in readme.splitlines() if line.startswith("| `"))
    missing = sorted(name for name in env_names if f"`{name}`" not in table_rows)
    assert missing == []


def test_the_event_back_off_and_the_content_security_policy_are_declared_and_documented():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name in (
        "EVENT_BACKOFF_BASE_SECONDS",
        "EVENT_BACKOFF_MAX_SECONDS",
        "CONTENT_SECURITY_POLICY",
    ):
        assert name in declared()
        assert f"`{name}`" in readme
