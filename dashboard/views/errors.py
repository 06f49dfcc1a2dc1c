"""Not-found pages inside the dashboard's layout (status 404): a removed job, an unknown
queue (with the close names), an unknown connection or state, instead of Django's bare 404."""

from __future__ import annotations

import difflib
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext as _

from dashboard import conf, connections, permissions
from dashboard.services.common import READ_ERRORS
from dashboard.services.discovery import queue_names

#: How many close names an unknown queue or connection lists.
CLOSE_NAMES = 5


class NotFound(Http404):
    """A 404 the dashboard explains: ``kind`` picks the page's wording, ``context`` fills it."""

    def __init__(self, kind: str, **context: Any) -> None:
        super().__init__(kind)
        self.kind = kind
        self.context = context


def close_names(name: str, known: list[str]) -> list[str]:
    return difflib.get_close_matches(name, known, n=CLOSE_NAMES, cutoff=0.5)


def _has_keys(connection: str, queue: str) -> bool:
    """Whether Redis holds the queue's markers (what discovery looks for): a queue the SCAN
    missed (cut short, or cached) is still found. A read error says yes: the page then shows
    the error itself rather than a wrong "no such queue"."""
    conn = connections.connection_settings(connection)
    client = connections.get_queue(connection, queue).client
    base = f"{conn.prefix}:{queue}"
    try:
        return bool(client.exists(f"{base}:meta", f"{base}:id"))
    except Exception:  # redis-py's errors (the dashboard does not import redis): can't tell
        return True


def require_queue(request: HttpRequest, connection: str, queue: str) -> list[str] | None:
    """Check the queue in the URL before its page is built.

    A connection that lists its queues (``QUEUES``) knows them all: another name is a
    ``NotFound`` with the close names. A discovered connection cannot tell a mistyped name
    from a queue no job was ever added to (an operator may open a new queue's page and watch
    its first jobs arrive), so a name Redis holds no keys of gets its page, and this returns
    the close names for a notice on it; None when the queue is known."""
    conn = connections.connection_settings(connection)
    if conn.queues is not None:
        if queue in conn.queues:
            return None
        raise NotFound(
            "queue", queue=queue, connection=connection,
            close=close_names(queue, list(conn.queues)), configured=True,
        )
    # Two EXISTS, not a SCAN: the queue page of a big keyspace stays O(1).
    if _has_keys(connection, queue):
        return None
    try:
        known = queue_names(conn)
    except READ_ERRORS:
        return []  # Redis is away: the page says so
    return [n for n in close_names(queue, known)
            if permissions.can(request.user, "view", connection, n)]


def unknown_connection(name: str) -> NotFound:
    return NotFound("connection", connection=name)


def _visible_close(request: HttpRequest, kind: str, context: dict[str, Any]) -> list[str]:
    """Close names the user may view (a suggestion never shows what a permission hides)."""
    user = request.user
    if kind == "connection":
        names = [c.name for c in conf.get_settings().connections]
        visible = [n for n in names if permissions.can(user, "view", n)]
        return close_names(str(context.get("connection", "")), visible)
    connection = str(context.get("connection", ""))
    return [n for n in context.get("close", ()) if permissions.can(user, "view", connection, n)]


def not_found_page(
    request: HttpRequest, exc: Http404, url_kwargs: dict[str, Any] | None = None
) -> HttpResponse:
    # Imported here: context imports this package's chrome, and views import base first.
    from dashboard.views.context import render_page

    if isinstance(exc, NotFound):
        kind, extra = exc.kind, dict(exc.context)
        if kind in ("connection", "queue"):
            extra["close"] = _visible_close(request, kind, extra)
    else:  # the URL's connection and queue give the way back
        kind = "other"
        extra = {k: v for k, v in (url_kwargs or {}).items() if k in ("connection", "queue")}
    titles = {
        "job": _("Job not found"),
        "queue": _("No such queue"),
        "connection": _("No such connection"),
        "state": _("No such state"),
        "other": _("Not found"),
    }
    return render_page(
        request,
        "queue_dashboard/not_found.html",
        status=404,
        kind=kind,
        title=titles.get(kind, titles["other"]),
        **extra,
    )
