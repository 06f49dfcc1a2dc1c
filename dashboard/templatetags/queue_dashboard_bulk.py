"""``{% load queue_dashboard_bulk %}``: the queue page's recent removals with their Undo, and
the bulk actions a state's jobs are offered (the selection bar's and a search's)."""

from __future__ import annotations

import time
from typing import Any

from django import template

from dashboard.bulk import groups as fg
from dashboard.bulk import operations as ops
from queuecore import QueueCoreError

register = template.Library()


@register.simple_tag
def undoable_operations(connection: str, queue: str) -> list[Any]:
    """Removals of this queue whose trash still lasts (newest first, at most five)."""
    try:
        t = fg.triage(connection, queue)
        recent = ops.recent(t, time.time() - ops.trash_seconds())
    except QueueCoreError:
        return []  # the page says Redis is away elsewhere
    return [op for op in recent if op.undoable][:5]


@register.simple_tag
def bulk_actions_for(state: str, allowed: Any) -> list[str]:
    """The bulk actions offered on jobs of ``state`` to someone ``allowed`` these actions
    (``operations.actions_for``: one table for every bar that offers them)."""
    return ops.actions_for(state, allowed or ())
