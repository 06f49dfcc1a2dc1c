"""The access check every dashboard view shares."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponseBase

from dashboard import conf, connections, permissions
from dashboard.csp import with_csp
from dashboard.views.context import render_page, url
from dashboard.views.errors import not_found_page, unknown_connection
from queuecore import RedisResponseError

__all__ = ["check_access", "dashboard_view", "render_page", "url"]

View = Callable[..., HttpResponseBase]


def check_access(
    request: HttpRequest, action: str, connection: str | None = None, queue: str | None = None
) -> None:
    """Raise ``PermissionDenied`` unless the user may do ``action``; 404 for a bad connection."""
    if connection is not None and conf.get_settings().connection(connection) is None:
        raise unknown_connection(connection)
    if not permissions.can(request.user, action, connection, queue):
        raise PermissionDenied(f"not allowed: {action}")


def _checked(
    view: View, request: HttpRequest, scoped: bool, *args: Any, **kwargs: Any
) -> HttpResponseBase:
    if scoped:
        check_access(request, "view", kwargs.get("connection"), kwargs.get("queue"))
    else:
        check_access(request, "view")
    try:
        return view(request, *args, **kwargs)
    except connections.UnknownConnectionError as exc:
        raise unknown_connection(str(exc.args[0]) if exc.args else "") from exc
    except RedisResponseError as exc:
        if "WRONGTYPE" not in str(exc):
            raise
        raise Http404("not a job or queue key") from exc  # an id naming another key


def dashboard_view(*, scoped: bool = True) -> Callable[[View], View]:
    """Staff login, then the ``view`` permission on the connection and queue in the URL."""

    def decorate(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            try:
                return _checked(view, request, scoped, *args, **kwargs)
            except Http404 as exc:  # inside the layout, saying what is missing
                return not_found_page(request, exc, kwargs)

        return with_csp(wrapper)

    return decorate
