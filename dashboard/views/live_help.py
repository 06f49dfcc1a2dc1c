"""What live updates need, linked from the live pill when the page's socket cannot connect."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from dashboard import conf
from dashboard.views.base import dashboard_view, render_page
from dashboard.views.context import served_by_asgi


@require_GET
@dashboard_view(scoped=False)
def live_help(request: HttpRequest) -> HttpResponse:
    return render_page(
        request,
        "queue_dashboard/live_help.html",
        asgi=served_by_asgi(request),
        live_url=conf.get_settings().live_url,
    )
