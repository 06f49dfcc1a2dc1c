from __future__ import annotations

import json
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from dashboard import permissions
from dashboard.services.common import STATES
from dashboard.services.overview import OverviewQuery
from dashboard.services.overview import overview as connections_overview
from dashboard.views.base import dashboard_view, render_page


def _page_url(query: OverviewQuery, page: int) -> str:
    params = {"q": query.q, "sort": query.sort, "page": page}
    return "?" + urlencode({k: v for k, v in params.items() if v not in ("", "attention", 1)})


@require_GET
@dashboard_view(scoped=False)
def overview(request: HttpRequest) -> HttpResponse:
    """Every visible queue with counts, workers and a last-hour sparkline: filtered by name
    (``?q=``), sorted (``?sort=``, by what needs attention first), paginated (``?page=``);
    unknown values fall back to the defaults."""

    def visible(connection: str, queue: str) -> bool:
        return permissions.can(request.user, "view", connection, queue)

    query = OverviewQuery.parse(request.GET.get("q"), request.GET.get("sort"),
                                request.GET.get("page"))
    data = connections_overview(visible, query)
    page = data.page
    return render_page(
        request,
        "queue_dashboard/overview.html",
        overview=data.connections,
        data=data,
        states=STATES,
        # The live socket follows exactly the queues on this page (whatever page and filter).
        visible_queues=json.dumps([[r.connection, r.name] for r in data.rows]),
        previous_url=_page_url(query, page.previous_number) if page.has_previous else "",
        next_url=_page_url(query, page.next_number) if page.has_next else "",
    )
