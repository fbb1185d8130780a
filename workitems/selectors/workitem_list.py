"""What the work item list selects by: search and "ready to submit".

Search takes a term as the start of an external ref or of a name (any case), or a whole Genesys
id. `istartswith` is `UPPER(col::text) LIKE UPPER('term%')` on PostgreSQL, which the expression
indexes `workitem_ref_prefix` and `workitem_name_prefix` (migration 0011, text_pattern_ops)
serve whatever the collation; the Genesys id has its unique index. A word in the middle of a name
is not found: that would need a trigram index, and a prefix is what supervisors type.
"""

from __future__ import annotations

from django.db.models import Q

from workitems.models import LocalState, Verdict


def workitem_search_q(term: str) -> Q:
    term = term.strip()
    return Q(external_ref__istartswith=term) | Q(name__istartswith=term) | Q(genesys_id=term)


def ready_to_submit_q() -> Q:
    """Checked, with a verdict that lets it through (routable, or routable with warnings), and
    not edited since: submitting it needs no further check and will not be refused."""
    return Q(
        local_state=LocalState.CHECKED,
        routability_verdict__in=[Verdict.ROUTABLE, Verdict.WARNINGS],
        routability_stale=False,
    )
