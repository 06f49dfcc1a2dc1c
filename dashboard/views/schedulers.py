from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from dashboard import conf, permissions
from dashboard.pagination import Page, parse_int
from dashboard.services.schedulers import schedulers as scheduler_rows
from dashboard.views.base import dashboard_view, render_page


@require_GET
@dashboard_view()
def schedulers(request: HttpRequest, connection: str, queue: str) -> HttpResponse:
    """Job schedulers of a queue: next run, pattern or interval, and a remove button."""
    size = conf.get_settings().page_size
    number = parse_int(request.GET.get("page"), 1)
    page = Page(number=number, size=size, total=number * size + 1)
    rows = scheduler_rows(connection, queue, page.start, page.end)
    return render_page(
        request,
        "queue_dashboard/schedulers.html",
        rows=rows,
        page=page,
        has_next=len(rows) == size,
        connection=connection,
        queue=queue,
        allowed=permissions.allowed_actions(request.user, connection, queue),
    )
