"""A newcomer's path has no dead ends: the README and docs/ stand alone in a clone, every link in
them opens a file that exists, and docs/ARCHITECTURE.md names every module."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Design notes that lived beside the repository, which a clone does not have. Spelled in two
# pieces so that this file does not match itself.
OUTSIDE = ("../" + "shared", "shared" + "/genesys")
PACKAGES = ("portal", "workitems", "audits", "simulator")
LINK = re.compile(r"\]\(([^)\s]+)\)")


def tracked_files() -> list[Path]:
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True, timeout=30
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout: nothing says which files are tracked")
    return [ROOT / name for name in listed.decode().split("\0") if name]


def markdown_pages() -> list[Path]:
    return [
        ROOT / "README.md",
        *sorted((ROOT / "docs").glob("*.md")),
        ROOT / "simulator/SOURCES.md",
    ]


def test_no_tracked_file_refers_to_design_notes_outside_the_repository():
    offenders = []
    for path in tracked_files():
        if not path.is_file():
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # binary
        for number, line in enumerate(text.splitlines(), 1):
            if any(needle in line for needle in OUTSIDE):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()[:100]}")
    assert offenders == []


@pytest.mark.parametrize("page", markdown_pages(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_opens_a_file_in_the_repository(page):
    broken = []
    for target in LINK.findall(page.read_text(encoding="utf-8")):
        if re.match(r"^[a-z]+:", target) or target.startswith("#"):
            continue  # a web address, or an anchor on the same page
        path = (page.parent / target.split("#", 1)[0]).resolve()
        if not path.exists() or ROOT not in path.parents:
            broken.append(target)
    assert broken == []


def test_the_readme_leads_to_the_architecture_and_genesys_pages():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "](docs/ARCHITECTURE.md)" in readme
    assert "](docs/GENESYS.md)" in readme


def test_the_architecture_page_names_every_module():
    text = (ROOT / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")
    missing = []
    for package in PACKAGES:
        for module in sorted((ROOT / package).rglob("*.py")):
            if module.name == "__init__.py" or "migrations" in module.parts:
                continue
            relative = module.relative_to(ROOT / package).as_posix()
            if relative in text:
                continue
            if f"`{module.name}`" in text or f"`{module.stem}`" in text:
                continue
            missing.append(f"{package}/{relative}")
    assert missing == []


def test_every_module_path_the_architecture_page_names_exists():
    # The map and the walk are read by someone about to open the file: a path left behind by a
    # rename (services/lifecycle.py became services/event_apply.py) is a dead end.
    text = (ROOT / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")
    named = set(re.findall(r"`((?:[a-z_]+/)*[a-z_]+\.py)`", text))
    named |= set(re.findall(r"\b((?:portal|workitems|audits|simulator)/[a-z_/]+\.py)\b", text))
    missing = []
    for name in sorted(named):
        candidates = [ROOT / name, *(ROOT / package / name for package in PACKAGES)]
        if "/" not in name:  # a sibling in a list ("export_audit.py`, `verify_audit.py")
            candidates += [p for package in PACKAGES for p in (ROOT / package).rglob(name)]
        if not any(path.is_file() for path in candidates):
            missing.append(name)
    assert missing == []


def test_no_tracked_file_cites_the_old_design_notes_by_section():
    # The Genesys notes beside the repository were cited by section ("API", ".md", "§4"); a clone
    # does not have them, and docs/GENESYS.md keeps their numbering.
    old = re.compile(r"(?<![\w/])" + "API" + r"\.md §\d")
    offenders = []
    for path in tracked_files():
        if not path.is_file() or path.suffix not in {".py", ".md", ".html", ".txt", ".toml"}:
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if old.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{number}")
    assert offenders == []
