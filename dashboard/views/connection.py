"""Pages about one Redis connection: its workers and the server itself."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from dashboard import connections, permissions, services
from dashboard.views.base import dashboard_view, render_page


@require_GET
@dashboard_view()
def workers(request: HttpRequest, connection: str) -> HttpResponse:
    conn = connections.connection_settings(connection)
    error = ""
    rows: list[services.WorkerRow] = []
    try:
        names = [
            n
            for n in services.queue_names(conn)
            if permissions.can(request.user, "view", connection, n)
        ]
        rows = services.workers(connection, names)
    except services.READ_ERRORS as exc:
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
        info=services.redis_summary(connection),
        connection=connection,
    )
