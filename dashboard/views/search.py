"""The search's endpoints: one bounded step of a scan (an htmx fragment the page chains
until the end, the page's cap or a cancel) and the NDJSON export of every match."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpResponse, HttpResponseBase, StreamingHttpResponse
from django.urls import URLPattern, path
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from dashboard import audit, connections
from dashboard.search.exporter import aexport_lines, export_lines
from dashboard.search.page import PAGE_MATCHES, row_of, search_of
from dashboard.search.scanner import scan_step
from dashboard.services.common import READ_ERRORS, describe
from dashboard.views import search_io
from dashboard.views.base import check_access, dashboard_view, render_page, url
from dashboard.views.context import HtmxHttpRequest, served_by_asgi
from queuecore import AsyncQueue

STEP_TEMPLATE = "queue_dashboard/search/step.html"


@require_GET
@dashboard_view()
def search_step(request: HtmxHttpRequest, connection: str, queue: str) -> HttpResponse:
    """Scan on from ``cursor`` for a bounded time and answer the rows found, the progress
    and (unless done or the page is full) the element that asks for the next step."""
    search = search_of(request)
    context: dict[str, Any] = {"connection": connection, "queue": queue, "search": search}
    if search.error or search.query is None:
        return render_page(request, STEP_TEMPLATE, **context)
    try:
        step = scan_step(connections.get_queue(connection, queue), search.state,
                         search.query, search.cursor, limit=PAGE_MATCHES - search.shown)
    except READ_ERRORS as exc:
        return render_page(request, STEP_TEMPLATE, read_error=describe(exc), **context)
    shown = search.shown + len(step.matches)
    full = shown >= PAGE_MATCHES and not step.done

    def to(name: str, **changes: object) -> str:
        return url(request, name, connection, queue, query=search.params(**changes))

    return render_page(
        request, STEP_TEMPLATE, step=step, rows=[row_of(m) for m in step.matches],
        shown=shown, full=full, page_matches=PAGE_MATCHES,
        next_url=None if step.done or full else to("search", cursor=step.cursor, shown=shown),
        more_url=to("queue", cursor=step.cursor),
        stop_url=to("queue", cursor=step.cursor, stopped=1),
        **context,
    )


@require_GET
@dashboard_view()
def search_export(request: HtmxHttpRequest, connection: str, queue: str) -> HttpResponseBase:
    """Every match of the search (from its cursor) as NDJSON, streamed as it is scanned."""
    check_access(request, "export", connection, queue)
    search = search_of(request)
    if search.query is None:
        message = search.error.message if search.error else _("Search for something first.")
        return HttpResponse(message, status=400, content_type="text/plain; charset=utf-8")
    logs = request.GET.get("logs") == "1"
    audit.record(request.user, "export", outcome="started", connection=connection,
                 queue=queue, detail=f"state={search.state} q={search.text}")
    lines: Any
    if served_by_asgi(request):
        found = connections.connection_settings(connection)
        aqueue = AsyncQueue(queue, connection=found.url, prefix=found.prefix)
        lines = aexport_lines(aqueue, search.state, search.query, search.cursor, logs=logs)
    else:
        lines = export_lines(connections.get_queue(connection, queue), search.state,
                             search.query, search.cursor, logs=logs)
    response = StreamingHttpResponse(lines, content_type="application/x-ndjson")
    filename = f"{queue}-{search.state}.ndjson".replace('"', "")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response


def urlpatterns(prefix: str, wrap: Callable[[Callable[..., Any]], Callable[..., Any]]
                ) -> list[URLPattern]:
    """The search's URLs under a queue's ``prefix`` (``urls.build_urlpatterns`` adds them)."""
    return [
        path(prefix + "search/", wrap(search_step), name="search"),
        path(prefix + "search/export/", wrap(search_export), name="search-export"),
        path(prefix + "import/", wrap(search_io.import_page), name="import"),
        path(prefix + "import/run/", wrap(search_io.import_run), name="import-run"),
        path(prefix + "transfer/", wrap(search_io.transfer_page), name="transfer"),
        path(prefix + "transfer/run/", wrap(search_io.transfer_run), name="transfer-run"),
    ]
