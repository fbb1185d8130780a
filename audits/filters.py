"""Changelist filters that stay cheap at millions of audit rows.

- Action and actor choices come from a loose index scan (a recursive walk from one distinct value
  to the next on the (action, occurred_at) / (actor, occurred_at) index): one index probe per
  distinct value, bounded, never a DISTINCT over the table. Any actor can also be typed in the
  changelist's search bar form, so a long tail of actors is not lost to the bound.
- The time filter is portal's DateRangeFilter on the indexed occurred_at (`occurred_at__gte` from,
  `occurred_at__lte` to, both inclusive).
"""

from __future__ import annotations

from django.contrib import admin
from django.db import connections, router

from audits.labels import action_label
from audits.models import AuditEvent
from portal.date_range_filter import DateRangeFilter

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


class OccurredAtRangeFilter(DateRangeFilter):
    title_text = "time"
