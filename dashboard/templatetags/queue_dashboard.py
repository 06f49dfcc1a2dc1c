"""``{% load queue_dashboard %}``: URLs inside whichever namespace served the page."""

from __future__ import annotations

import hashlib
from typing import Any
from urllib.parse import quote, urlencode

from django import template
from django.urls import get_script_prefix, reverse
from django.utils.translation import pgettext_lazy

from dashboard import conf
from dashboard.names import encode_segment

register = template.Library()


@register.simple_tag(takes_context=True)
def dash_url(context: template.Context, name: str, *args: Any) -> str:
    """Like ``{% url %}``, in the namespace of the current mount (include or admin)."""
    namespace = context.get("dashboard_ns") or "queue_dashboard"
    return reverse(f"{namespace}:{name}", args=[str(a) for a in args])


@register.filter
def get_item(mapping: Any, key: str) -> Any:
    try:
        return mapping[key]
    except (KeyError, TypeError, IndexError):
        return None


#: A job state as the pages name it (translated).
STATE_LABELS = {
    "waiting": pgettext_lazy("job state", "waiting"),
    "active": pgettext_lazy("job state", "active"),
    "prioritized": pgettext_lazy("job state", "prioritized"),
    "delayed": pgettext_lazy("job state", "delayed"),
    "waiting-children": pgettext_lazy("job state", "waiting children"),
    "completed": pgettext_lazy("job state", "completed"),
    "failed": pgettext_lazy("job state", "failed"),
    "paused": pgettext_lazy("job state", "paused"),
}

#: A queue action as the confirmation names it (translated).
ACTION_LABELS = {
    "retry-all": pgettext_lazy("queue action", "retry all failed"),
    "promote-all": pgettext_lazy("queue action", "promote all delayed"),
    "clean": pgettext_lazy("queue action", "clean"),
    "drain": pgettext_lazy("queue action", "drain"),
    "obliterate": pgettext_lazy("queue action", "obliterate"),
    # bulk actions (dashboard/bulk)
    "retry": pgettext_lazy("queue action", "retry"),
    "remove": pgettext_lazy("queue action", "remove"),
    "promote": pgettext_lazy("queue action", "promote"),
    "priority": pgettext_lazy("queue action", "change priority"),
}


@register.filter
def state_label(state: str) -> str:
    return str(STATE_LABELS.get(state, state.replace("-", " ")))


@register.filter
def action_label(action: str) -> str:
    return str(ACTION_LABELS.get(action, action))


def dom_id(connection: str, queue: str) -> str:
    """A short DOM id for one queue (its name may hold any character)."""
    digest = hashlib.sha1(f"{connection}\0{queue}".encode(), usedforsecurity=False)
    return "q" + digest.hexdigest()[:12]


@register.simple_tag(name="dom_id")
def dom_id_tag(connection: str, queue: str) -> str:
    return dom_id(connection, queue)


@register.simple_tag(takes_context=True)
def live_socket(
    context: template.Context, kind: str, connection: str = "", queue: str = "", job_id: str = ""
) -> str:
    """The websocket path of a page (``""`` when ``LIVE`` is off): see ``dashboard.routing``.

    It is under the script prefix (daphne's ``--root-path`` or ``FORCE_SCRIPT_NAME``), like
    the pages. The query names the page's URL namespace, for the links in the fragments it is
    sent; list and job pages add ``view=page``: the server then waits for the view the page
    sends (its tab, page and order, or its log lines) before the first fragment, so that a
    page opened on ``?state=failed`` never shows the waiting list first.
    """
    settings = conf.get_settings()
    if not settings.live:
        return ""
    parts = {
        "overview": (),
        "queue": (connection, "q", queue),
        "job": (connection, "q", queue, "jobs", job_id),
    }[kind]
    path = "".join(quote(encode_segment(str(p)), safe="") + "/" for p in parts)
    namespace = context.get("dashboard_ns") or "queue_dashboard"
    query = {"ns": namespace}
    if kind != "overview":
        query["view"] = "page"
    base = get_script_prefix().rstrip("/") + settings.live_url
    return base + path + "?" + urlencode(query)


@register.simple_tag
def pager_query(state: str, page: int, order: str, size: int) -> str:
    return "?" + urlencode({"state": state, "page": page, "order": order, "size": size})
