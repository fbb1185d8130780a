"""A stored routability report, arranged for reading: what must be fixed first (FAIL), then what
to know (WARN), the passed checks folded; numbers in words; worktype settings as notes; and
whether an edit has made the verdict stale since."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from workitems.models import Verdict
from workitems.services.routability import FAIL, PASS, WARN, check_figures, check_label
from workitems.text import count_noun, when_text


@dataclass(frozen=True)
class CheckRow:
    name: str
    label: str
    result: str
    message: str
    figures: list[str]


@dataclass
class ReportView:
    verdict: str
    checked_at: datetime | None
    problems: list[CheckRow] = field(default_factory=list)  # FAIL rows, then WARN rows
    passes: list[CheckRow] = field(default_factory=list)
    worktype_notes: list[str] = field(default_factory=list)
    stale: bool = False

    @property
    def verdict_label(self) -> str:
        try:
            return Verdict(self.verdict).label
        except ValueError:
            return self.verdict or "No verdict"

    @property
    def css(self) -> str:
        return "stale" if self.stale else self.verdict or "none"

    @property
    def summary(self) -> str:
        fails = sum(1 for row in self.problems if row.result == FAIL)
        warns = len(self.problems) - fails
        return (
            f"{count_noun(fails, 'check')} failed, {count_noun(warns, 'warning')}, "
            f"{len(self.passes)} passed"
        )

    @property
    def checked_at_text(self) -> str:
        return when_text(self.checked_at)


def _row(check: dict[str, Any]) -> CheckRow:
    name = str(check.get("name") or "")
    return CheckRow(
        name=name,
        label=check_label(name),
        result=str(check.get("result") or ""),
        message=str(check.get("message") or ""),
        figures=check_figures(name, check.get("numbers") or {}),
    )


def routability_report_view(
    *, report: dict[str, Any] | None, stale: bool = False
) -> ReportView | None:
    """None when the item was never checked."""
    if not isinstance(report, dict) or not report.get("checks"):
        return None
    rows = [_row(c) for c in report["checks"] if isinstance(c, dict)]
    try:
        checked_at = datetime.fromisoformat(report.get("checked_at") or "")
    except ValueError:
        checked_at = None
    return ReportView(
        verdict=str(report.get("verdict") or ""),
        checked_at=checked_at,
        problems=[r for r in rows if r.result == FAIL] + [r for r in rows if r.result == WARN],
        passes=[r for r in rows if r.result == PASS],
        worktype_notes=list(report.get("worktype_notes") or []),
        stale=stale,
    )
