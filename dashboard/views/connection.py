"""Pages about one Redis connection: its workers and the server itself."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from dashboard import connections, permissions
from dashboard.services.common import READ_ERRORS
from dashboard.services.discovery import queue_names
from dashboard.services.redis_info import redis_summary
from dashboard.services.workers import WorkerRow
from dashboard.services.workers import workers as worker_rows
from dashboard.views.base import dashboard_view, render_page


@require_GET
@dashboard_view()
def workers(request: HttpRequest, connection: str) -> HttpResponse:
    conn = connections.connection_settings(connection)
    error = ""
    rows: list[WorkerRow] = []
    try:
        names = [
            n
            for n in queue_names(conn)
            if permissions.can(request.user, "view", connection, n)
        ]
        rows = worker_rows(connection, names)
    except READ_ERRORS as exc:
        error = f"{type(exc).__name__}: {exc}"
    return render_page(
        request, "queue_dashboard/workers.html", rows=rows, error=error, connection=connection
    )


@require_GET
@dashboard_view()
def redis_info(request: HttpRequest, connection: str) -> HttpResponse:
    return render_page(
        request,
        "queue_dashboard/redis.html",
        info=redis_summary(connection),
        connection=connection,
    )
