"""Admin lists filter only on what they declare.

Django's changelist turns every query-string parameter that no list filter takes into a
`.filter()` on the model (`ModelAdmin.lookup_allowed` allows any lookup on a local field): on the
audit list, `?context__icontains=…` scanned the JSON of millions of rows and `?actor__regex=.*`
ran a regular expression over them, bypassing the indexed filters the list offers — and the
export did the same.

`DeclaredFiltersOnly` (a ModelAdmin mixin) appends one more list filter, `UndeclaredFilters`,
after the declared ones. Each declared filter takes its own parameters out of the query first, so
what reaches it is exactly what nothing declared; it drops all of that, except the admin's
`accepted_lookups` (named look-ups our own links build). Then:

- the list redirects to its URL without them, with a message naming them;
- an export that builds its rows from the changelist refuses, naming them
  (`refused_filters(request)`);
- an action posted with them does not run (the changelist reports bad parameters).
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.http import HttpRequest, HttpResponseRedirect

_REFUSED = "_refused_filters"


def refused_filters(request: HttpRequest) -> list[str]:
    """The query parameters the last changelist built for this request dropped, sorted."""
    return sorted(getattr(request, _REFUSED, ()))


def refused_message(names: list[str]) -> str:
    one = len(names) == 1
    return (
        f"{', '.join(names)} {'is' if one else 'are'} not a filter of this list; use the filters "
        "it offers."
    )


class UndeclaredFilters:
    """The last list filter: takes every lookup parameter the declared filters left, and drops it.

    Called like a SimpleListFilter class; never shown (has_output is False).
    """

    def __init__(self, request, params, model, model_admin):
        keep = set(getattr(model_admin, "accepted_lookups", ()))
        if model_admin.date_hierarchy:
            keep |= {f"{model_admin.date_hierarchy}__{part}" for part in ("year", "month", "day")}
        dropped = [name for name in params if name not in keep]
        for name in dropped:
            params.pop(name)
        refused = getattr(request, _REFUSED, set())
        refused.update(dropped)
        setattr(request, _REFUSED, refused)
        if dropped and request.method != "GET":
            # An action must not run on a selection other than the one the list showed.
            raise IncorrectLookupParameters(refused_message(sorted(dropped)))

    def has_output(self) -> bool:
        return False


class DeclaredFiltersOnly:
    """ModelAdmin mixin: the list filters on its list_filter (and `accepted_lookups`) only."""

    # Look-ups that our own pages put in links to this list, beyond its list filters.
    accepted_lookups: tuple[str, ...] = ()

    def get_list_filter(self, request):
        return (*super().get_list_filter(request), UndeclaredFilters)

    def lookup_allowed(self, lookup, value, request=None):
        # Every parameter may reach the list filters: UndeclaredFilters, last among them, drops
        # what none declared (with a message, instead of a bare 400 for a lookup across a relation).
        return True

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        dropped = refused_filters(request)
        if dropped and request.method == "GET":
            without = "it" if len(dropped) == 1 else "them"
            messages.warning(
                request, f"{refused_message(dropped)} The list is shown without {without}."
            )
            query = request.GET.copy()
            for name in dropped:
                query.pop(name, None)
            return HttpResponseRedirect(f"{request.path}?{query.urlencode()}")
        return response
