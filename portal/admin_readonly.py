"""Admins whose rows are seen, never added, changed or deleted through the admin.

Append-only records (the outbox, inbound events, sync runs) and mirrors of Genesys are written by
services; an operator's verbs on them are admin actions with permissions of their own (replay,
skip, refresh), never the model's add/change/delete. One mixin, so "read-only" means the same on
every page.

A module of its own rather than portal/admin.py: importing that one re-registers third-party
admins as a side effect, which an app's admin module must not trigger early.
"""

from __future__ import annotations


class ReadOnlyAdmin:
    """Mixed in front of a ModelAdmin or an inline (the `obj` argument serves both)."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class ReadOnlyInline(ReadOnlyAdmin):
    """An inline that shows its rows and offers no empty forms and no delete boxes."""

    extra = 0
    max_num = 0
    can_delete = False
