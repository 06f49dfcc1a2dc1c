"""``{% load queue_dashboard_wire %}``: what a ``group:`` search is looking for (the failure
group's type, message and frame from the failures index), shown above its results. (The
bulk actions a search offers come from ``queue_dashboard_bulk``'s ``bulk_actions_for``.)"""

from __future__ import annotations

import json
from typing import Any

from django import template

from dashboard.bulk import groups as fg
from dashboard.search.page import SearchRequest
from dashboard.search.parser import GroupTerm
from queuecore import QueueCoreError

register = template.Library()


@register.simple_tag
def searched_group(connection: str, queue: str, search: SearchRequest) -> dict[str, Any] | None:
    """The first ``group:`` term's group (``known`` False when the index does not hold it)."""
    if search.query is None:
        return None
    key = next((t.key for t in search.query.terms if isinstance(t, GroupTerm)), None)
    if key is None:
        return None
    try:
        raw = fg.triage(connection, queue).side(("HGET", "fgroups", key))[0]
        meta = json.loads(raw) if raw else None
    except (QueueCoreError, ValueError):
        meta = None  # the page says Redis is away elsewhere; the search still runs
    if not isinstance(meta, dict):
        return {"key": key, "known": False}
    return {"key": key, "known": True, "type": str(meta.get("type", "")),
            "message": str(meta.get("message", "")), "frame": str(meta.get("frame", ""))}
