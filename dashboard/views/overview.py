from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from dashboard import permissions
from dashboard.services.common import STATES
from dashboard.services.overview import overview as connections_overview
from dashboard.views.base import dashboard_view, render_page


@require_GET
@dashboard_view(scoped=False)
def overview(request: HttpRequest) -> HttpResponse:
    """Every visible queue of every connection with counts, workers and throughput."""

    def visible(connection: str, queue: str) -> bool:
        return permissions.can(request.user, "view", connection, queue)

    return render_page(
        request,
        "queue_dashboard/overview.html",
        overview=connections_overview(visible),
        states=STATES,
    )
