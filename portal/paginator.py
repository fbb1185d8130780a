"""A paginator that never counts a whole big table.

Unfiltered on PostgreSQL: the planner's estimate (pg_class.reltuples), labelled "about N".
Otherwise: a count capped at CAP + 1 rows (`SELECT COUNT(*) FROM (SELECT … LIMIT 10001)`), labelled
"more than 10,000" when the cap is hit. Paging stops at the cap: narrow the filters to go deeper.
"""

from __future__ import annotations

from django.contrib.admin.utils import quote
from django.contrib.admin.views.main import ChangeList
from django.core.paginator import Paginator
from django.db import connections
from django.db.models.expressions import OrderBy
from django.urls import reverse
from django.utils.functional import cached_property

CAP = 10_000
PK_PLACEHOLDER = "__pk__"


class CappedCountPaginator(Paginator):
    cap = CAP

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.estimated = False
        self.capped = False

    @cached_property
    def count(self) -> int:
        qs = self.object_list
        if not hasattr(qs, "query"):
            return len(qs)
        estimate = self._estimate(qs)
        if estimate is not None and estimate > self.cap:
            self.estimated = True
            return estimate
        n = qs.order_by()[: self.cap + 1].count()
        self.capped = n > self.cap
        return n

    @staticmethod
    def _estimate(qs) -> int | None:
        """reltuples for an unfiltered PostgreSQL table; None where that is not an option."""
        connection = connections[qs.db]
        if connection.vendor != "postgresql" or qs.query.where or qs.query.is_sliced:
            return None
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass",
                [connection.ops.quote_name(qs.model._meta.db_table)],
            )
            row = cursor.fetchone()
        # -1: never vacuumed or analysed, no estimate yet.
        return row[0] if row and row[0] >= 0 else None

    @property
    def count_label(self) -> str:
        """Honest wording for the changelist: an estimate or a cap is never shown as exact."""
        if self.estimated:
            return f"about {self.count:,}"
        if self.capped:
            return f"more than {self.cap:,}"
        return f"{self.count:,}"


class CappedChangeList(ChangeList):
    """The changelist for admin/capped_pagination.html: page numbers come from the paginator."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Row links carry the list's filters from url_for_result: Django's add_preserved_filters
        # would resolve() every row's URL to learn what url_for_result already knows.
        self.row_filters, self.preserved_filters = self.preserved_filters, ""

    def _get_deterministic_ordering(self, ordering):
        ordering = super()._get_deterministic_ordering(ordering)
        # Django breaks ties by -pk whichever way the column sorts; breaking them the column's way
        # lets one index on (column, id) read the page in order, scanned forwards or backwards.
        if len(ordering) >= 2 and ordering[-1] == "-pk":
            lead = ordering[0]
            if (isinstance(lead, str) and not lead.startswith("-")) or (
                isinstance(lead, OrderBy) and not lead.descending
            ):
                ordering[-1] = "pk"
        return ordering

    @property
    def page_range(self):
        return self.paginator.get_elided_page_range(self.page_num)

    @cached_property
    def _change_url(self) -> str:
        return reverse(
            f"admin:{self.opts.app_label}_{self.opts.model_name}_change",
            args=(PK_PLACEHOLDER,),
            current_app=self.model_admin.admin_site.name,
        )

    def url_for_result(self, result) -> str:
        # One reverse() a page, not one a row (nor a resolve() a row, see __init__).
        url = self._change_url.replace(PK_PLACEHOLDER, str(quote(result.pk)), 1)
        return f"{url}?{self.row_filters}" if self.row_filters else url
