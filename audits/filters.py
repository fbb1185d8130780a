"""Changelist filters that stay cheap at millions of audit rows.

- Action and actor choices come from a loose index scan (a recursive walk from one distinct value
  to the next on the (action, occurred_at) / (actor, occurred_at) index): one index probe per
  distinct value, bounded, never a DISTINCT over the table. Any actor can also be typed in the
  changelist's search bar form, so a long tail of actors is not lost to the bound.
- The time filter is a range on the indexed occurred_at (`occurred_at__gte` from, `occurred_at__lte`
  to, both inclusive): preset ranges in the sidebar, two date inputs in the search bar, instead of
  date_hierarchy (which runs a DISTINCT over dates).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.db import connections, router
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from audits.labels import action_label
from audits.models import AuditEvent

ACTION_CHOICES_LIMIT = 200
ACTOR_CHOICES_LIMIT = 50


def distinct_values(column: str, *, limit: int) -> list[str]:
    """Distinct values of an indexed leading column, in order, at most `limit`: a loose index scan.

    Each step is `SELECT MIN(col) … WHERE col > previous`, answered by one index descent, so the
    cost grows with the number of distinct values returned, not with the table.
    """
    connection = connections[router.db_for_read(AuditEvent)]
    qn = connection.ops.quote_name
    table, col = qn(AuditEvent._meta.db_table), qn(AuditEvent._meta.get_field(column).column)
    sql = f"""
        WITH RECURSIVE walk(value, n) AS (
            SELECT MIN({col}), 1 FROM {table}
            UNION ALL
            SELECT (SELECT MIN({col}) FROM {table} WHERE {col} > walk.value), walk.n + 1
            FROM walk WHERE walk.value IS NOT NULL AND walk.n < %s
        )
        SELECT value FROM walk WHERE value IS NOT NULL
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, [limit])
        return [row[0] for row in cursor.fetchall()]


class _IndexedChoicesFilter(admin.SimpleListFilter):
    column = ""
    limit = 0

    def display(self, value: str) -> str:
        return value or "(blank)"

    def lookups(self, request, model_admin):
        values = distinct_values(self.column, limit=self.limit)
        current = self.value()
        if current and current not in values:
            values.append(current)  # a typed or bookmarked value stays visible as selected
        return [(v, self.display(v)) for v in values]

    def queryset(self, request, queryset):
        value = self.value()
        if value:
            return queryset.filter(**{self.column: value})
        return queryset


class ActionFilter(_IndexedChoicesFilter):
    title = "action"
    parameter_name = "action"
    column = "action"
    limit = ACTION_CHOICES_LIMIT

    def display(self, value: str) -> str:
        return action_label(value) if value else "(blank)"


class ActorFilter(_IndexedChoicesFilter):
    title = f"actor (first {ACTOR_CHOICES_LIMIT}; type any other above)"
    parameter_name = "actor"
    column = "actor"
    limit = ACTOR_CHOICES_LIMIT


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


class OccurredAtRangeFilter(DateRangeFilter):
    title_text = "time"
