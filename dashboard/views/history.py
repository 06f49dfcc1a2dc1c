"""History charts: a queue's (a fragment the queue page loads and refreshes every 30 s) and a
connection's (its queues summed, a page of its own)."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers

from dashboard import charts, connections, permissions
from dashboard.services.common import READ_ERRORS, describe
from dashboard.services.discovery import queue_names
from dashboard.services.history import History, connection_history, queue_history
from dashboard.views.base import dashboard_view, render_page
from dashboard.views.context import HtmxHttpRequest

#: Seconds between refreshes of the chart fragment (htmx polling; the page's socket carries
#: no history).
REFRESH_SECONDS = 30


def _render(request: HtmxHttpRequest, history: History, **context: Any) -> HttpResponse:
    fragment = bool(request.htmx)
    return render_page(
        request,
        "queue_dashboard/charts/_history.html" if fragment
        else "queue_dashboard/charts/history_page.html",
        history=history, ranges=list(charts.RANGES), refresh_seconds=REFRESH_SECONDS,
        **context)


@require_GET
@vary_on_headers("HX-Request")
@dashboard_view()
def queue_history_view(request: HtmxHttpRequest, connection: str, queue: str) -> HttpResponse:
    """Throughput, failures and wait/processing percentiles of one queue (``?range=``)."""
    range_key = charts.parse_range(request.GET.get("range"))
    return _render(request, queue_history(connection, queue, range_key), connection=connection,
                   queue=queue)


@require_GET
@vary_on_headers("HX-Request")
@dashboard_view()
def connection_history_view(request: HtmxHttpRequest, connection: str) -> HttpResponse:
    """The same for every visible queue of a connection, summed."""
    range_key = charts.parse_range(request.GET.get("range"))
    conn = connections.connection_settings(connection)
    try:
        names = [n for n in queue_names(conn)
                 if permissions.can(request.user, "view", connection, n)]
        history = connection_history(connection, names, range_key)
    except READ_ERRORS as exc:
        history = History(range_key, charts.slot_starts(0, range_key), error=describe(exc))
    return _render(request, history, connection=connection)
