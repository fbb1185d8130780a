"""A from/to range filter on an indexed date-time column, for admin lists at millions of rows.

Preset ranges in the sidebar and two date inputs in the search bar
(admin/date_range_filter.html), instead of date_hierarchy, which runs a DISTINCT over dates. Used
by the audit list (occurred_at) and the work item list (date_created); `parse_moment` also reads
the export commands' --since/--until.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime


def parse_moment(value: str) -> datetime | None:
    """An ISO date (local midnight) or datetime (naive: local time) as an aware datetime.

    None for an empty value; ValueError for anything else unreadable.
    """
    value = value.strip()
    if not value:
        return None
    moment = parse_datetime(value)
    if moment is None:
        day = parse_date(value)
        if day is None:
            raise ValueError(f"{value!r} is not an ISO date or datetime")
        moment = datetime.combine(day, time.min)
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment


class DateRangeFilter(admin.FieldListFilter):
    """A from/to range on an indexed date-time column, both ends inclusive, saying so.

    Parameters (`f` is the field):
    - `f__gte`: from (a date: that day's start in the portal's time zone; or a date-time);
    - `f__lte`: to, inclusive (a date: the whole of that day; or a date-time, up to it);
    - `f__lt`: before, exclusive (kept for links built with it, e.g. the dashboard's).
    Presets are whole days (or the past 24 hours), so a preset stays selected all day.
    """

    template = "admin/date_range_filter.html"
    title_text = ""

    def __init__(self, field, request, params, model, model_admin, field_path):
        self.lookup_gte = f"{field_path}__gte"
        self.lookup_lte = f"{field_path}__lte"
        self.lookup_lt = f"{field_path}__lt"
        super().__init__(field, request, params, model, model_admin, field_path)
        self.title = self.title_text or field.verbose_name
        for key in self.expected_parameters():
            if key in self.used_parameters:
                self.used_parameters[key] = self._last(self.used_parameters[key])
        # An empty date input (the search bar sends both) is no filter.
        self.used_parameters = {k: v for k, v in self.used_parameters.items() if v.strip()}
        try:
            self.since = parse_moment(self.used_parameters.get(self.lookup_gte, ""))
            self.to_text = self.used_parameters.get(self.lookup_lte, "").strip()
            self.until = range_end(self.to_text)
            before = parse_moment(self.used_parameters.get(self.lookup_lt, ""))
        except ValueError as exc:
            raise IncorrectLookupParameters(exc) from exc
        self.before = before

    @staticmethod
    def _last(value) -> str:
        if isinstance(value, list | tuple):
            return str(value[-1]) if value else ""
        return str(value)

    def expected_parameters(self):
        return [self.lookup_gte, self.lookup_lte, self.lookup_lt]

    def has_output(self):
        return True

    def queryset(self, request, queryset):
        if self.since is not None:
            queryset = queryset.filter(**{self.lookup_gte: self.since})
        if self.until is not None:
            queryset = queryset.filter(**{self.lookup_lt: self.until})
        if self.before is not None:
            queryset = queryset.filter(**{self.lookup_lt: self.before})
        return queryset

    def presets(self) -> list[tuple[str, dict[str, str]]]:
        now = timezone.localtime()
        hour = now.replace(minute=0, second=0, microsecond=0)
        today = now.date()
        month = date(today.year, today.month, 1)
        days = [
            ("Today", today),
            ("Past 7 days", today - timedelta(days=6)),
            ("Past 30 days", today - timedelta(days=29)),
            ("This month", month),
        ]
        presets = [("Past 24 hours", {self.lookup_gte: (hour - timedelta(hours=23)).isoformat()})]
        presets += [
            (title, {self.lookup_gte: start.isoformat(), self.lookup_lte: today.isoformat()})
            for title, start in days
        ]
        return presets

    def _current(self) -> dict[str, str]:
        return {k: v for k in self.expected_parameters() if (v := self.used_parameters.get(k))}

    @property
    def from_text(self) -> str:
        return self.used_parameters.get(self.lookup_gte, "")

    def choices(self, changelist):
        remove = self.expected_parameters()
        # The date inputs' form keeps every other filter (and the search) as it is.
        self.kept_params = [
            (k, v) for k, v in changelist.params.items() if k not in remove and k != "p"
        ]
        yield {
            "selected": not self._current(),
            "query_string": changelist.get_query_string(remove=remove),
            "display": "Any time",
        }
        current = self._current()
        matched = False
        for title, params in self.presets():
            selected = current == params
            matched = matched or selected
            yield {
                "selected": selected,
                "query_string": changelist.get_query_string(params, remove),
                "display": title,
            }
        if current and not matched:
            yield {
                "selected": True,
                "query_string": changelist.get_query_string(),
                "display": self.describe(),
            }

    def describe(self) -> str:
        """`2026-12-02`, `2026-12-01 to 2026-12-07 (inclusive)`, `from …`, `before …`."""
        since = _shown(self.since) if self.since else ""
        to = self.to_text if self.to_text and parse_date(self.to_text) else ""
        if not to and self.until is not None:
            to = _shown(timezone.localtime(self.until) - timedelta(microseconds=1))
        if since and since == to:
            return since
        parts = []
        if since and to:
            parts.append(f"{since} to {to} (inclusive)")
        elif since:
            parts.append(f"from {since}")
        elif to:
            parts.append(f"to {to} (inclusive)")
        if self.before is not None:
            parts.append(f"before {_shown(self.before)}")
        return " ".join(parts)


def _shown(moment: datetime) -> str:
    """A range end as typed: the date alone at local midnight, else date and time."""
    local = timezone.localtime(moment)
    if local.time() == time.min:
        return f"{local:%Y-%m-%d}"
    return f"{local:%Y-%m-%d %H:%M}" if not local.second else f"{local:%Y-%m-%d %H:%M:%S}"


def range_end(value: str) -> datetime | None:
    """The exclusive end of an inclusive "to": a date means the whole day, so the next midnight;
    a date-time means up to and including that second."""
    value = (value or "").strip()
    if not value:
        return None
    day = parse_date(value) if "T" not in value and " " not in value else None
    if day is not None:
        return timezone.make_aware(datetime.combine(day + timedelta(days=1), time.min))
    moment = parse_moment(value)
    return moment.replace(microsecond=0) + timedelta(seconds=1)
