"""Page context and URLs for whichever mount served the request (an include or the admin)."""

from __future__ import annotations

from typing import Any

from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django_htmx.middleware import HtmxDetails

from dashboard import conf
from dashboard.views.chrome import chrome

#: Set on the request by the admin mount; pages then extend admin's base template.
ADMIN_SITE_ATTR = "queue_dashboard_admin_site"


class HtmxHttpRequest(HttpRequest):
    """A request as views see it: django-htmx's middleware (a requirement of the app) has set
    ``request.htmx``. For annotations only; Django builds the requests."""

    htmx: HtmxDetails


def namespace(request: HttpRequest) -> str:
    """The URL namespace this request came through."""
    match = request.resolver_match
    return match.namespace if match and match.namespace else "queue_dashboard"


def url(request: HttpRequest, name: str, *args: Any, query: str = "") -> str:
    path = reverse(f"{namespace(request)}:{name}", args=args)
    return f"{path}?{query}" if query else path


def served_by_asgi(request: HttpRequest) -> bool:
    """False under a WSGI server (``runserver`` without daphne, gunicorn): no websockets."""
    return isinstance(request, ASGIRequest)


def page_context(request: HttpRequest, **extra: Any) -> dict[str, Any]:
    admin_site = getattr(request, ADMIN_SITE_ATTR, None)
    settings = conf.get_settings()
    context: dict[str, Any] = {}
    if admin_site is not None:
        context.update(admin_site.each_context(request))
        context["dashboard_base"] = "queue_dashboard/admin_base.html"
    else:
        context["dashboard_base"] = "queue_dashboard/base.html"
        context["qd_chrome"] = chrome(request)
    context.update(
        request=request,
        dashboard_ns=namespace(request),
        dashboard_settings=settings,
        read_only=settings.read_only,
        live_served=served_by_asgi(request),
    )
    context.update(extra)
    return context


def render_page(
    request: HttpRequest, template: str, status: int = 200, **extra: Any
) -> HttpResponse:
    return render(request, template, page_context(request, **extra), status=status)
