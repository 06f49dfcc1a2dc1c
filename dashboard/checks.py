"""``manage.py check``: what the dashboard needs from the project, each message naming the fix.

- W001: live updates on and no ``CHANNEL_LAYERS`` setting (a layer set in ``asgi.py`` does
  nothing there);
- W002: live updates on and no ``ASGI_APPLICATION``, or one that does not route the
  dashboard's socket at ``LIVE_URL``;
- W003: ``LOGIN_URL`` names no page of this project, so anonymous visitors would be sent to a
  404 (Django's default is ``/accounts/login/``);
- W004: ``DEBUG`` on and no ``daphne`` in ``INSTALLED_APPS``: ``runserver`` is then a WSGI
  server and serves no websockets.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Warning
from django.urls import NoReverseMatch, Resolver404, resolve, reverse
from django.utils.module_loading import import_string

from dashboard import conf

DOCS = "See “Install in your project” in the dashboard's docs (docs/dashboard.md)."
MAX_DEPTH = 20


def check_channel_layer(**kwargs: Any) -> list[CheckMessage]:
    if not conf.get_settings().live or getattr(settings, "CHANNEL_LAYERS", None):
        return []
    return [Warning(
        "Live updates are on but CHANNEL_LAYERS is not set, so actions done elsewhere and "
        "revoked access do not reach open pages.",
        hint='Set CHANNEL_LAYERS = {"default": {"BACKEND": '
             '"channels.layers.InMemoryChannelLayer"}} in settings (one server process; '
             "channels_redis for several), not in asgi.py. " + DOCS,
        id="queue_dashboard.W001",
    )]


def check_asgi_routes_the_socket(**kwargs: Any) -> list[CheckMessage]:
    dashboard_settings = conf.get_settings()
    if not dashboard_settings.live:
        return []
    hint = ("In asgi.py: application = with_dashboard(get_asgi_application()) "
            "(from dashboard.asgi), or dashboard.routing.websocket_urlpatterns under "
            f"{dashboard_settings.live_url!r} in your websocket URLRouter; and ASGI_APPLICATION "
            "naming it. " + DOCS)
    path = getattr(settings, "ASGI_APPLICATION", None)
    if not path:
        return [Warning("Live updates are on but ASGI_APPLICATION is not set.", hint=hint,
                        id="queue_dashboard.W002")]
    try:
        application = import_string(path)
    except Exception as exc:
        return [Warning(f"ASGI_APPLICATION {path!r} cannot be imported: "
                        f"{type(exc).__name__}: {exc}", hint=hint, id="queue_dashboard.W002")]
    found = routes_live_socket(application, dashboard_settings.live_url)
    if found is False:
        return [Warning(f"ASGI_APPLICATION {path!r} does not route the dashboard's websocket "
                        f"at {dashboard_settings.live_url!r}: live updates cannot connect.",
                        hint=hint, id="queue_dashboard.W002")]
    return []


def routes_live_socket(application: Any, live_url: str) -> bool | None:
    """Whether a websocket to ``live_url`` reaches the dashboard's consumer: True, False, or
    None when a wrapper of an unknown kind hides the routes (then nothing is claimed)."""
    from dashboard.live.consumers import LiveConsumer

    unknown = False
    for leaf in _leaves(application, live_url.lstrip("/"), 0):
        if leaf is None:
            unknown = True
        elif getattr(leaf, "consumer_class", None) is LiveConsumer:
            return True
    return None if unknown else False


def _leaves(app: Any, path: str, depth: int) -> Iterator[Any]:
    """Each application a websocket at ``path`` may end in (None: cannot look inside)."""
    if depth > MAX_DEPTH:
        yield None
        return
    mapping = getattr(app, "application_mapping", None)
    if isinstance(mapping, dict):  # ProtocolTypeRouter
        if "websocket" in mapping:
            yield from _leaves(mapping["websocket"], path, depth + 1)
        return
    routes = getattr(app, "routes", None)
    if routes is not None:  # URLRouter
        for route in routes:
            pattern = getattr(route, "pattern", None)
            match = pattern.match(path) if pattern is not None else None
            if match:
                yield from _leaves(route.callback, match[0], depth + 1)
        return
    if hasattr(app, "consumer_class"):
        yield app
        return
    for attr in ("application", "inner", "app"):  # channels' and most ASGI middleware
        inner = getattr(app, attr, None)
        if inner is not None:
            yield from _leaves(inner, path, depth + 1)
            return
    yield None


def check_login_url(**kwargs: Any) -> list[CheckMessage]:
    login_url = str(getattr(settings, "LOGIN_URL", "/accounts/login/"))
    if "://" in login_url or login_url.startswith("//"):
        return []  # another site: nothing to check here
    if login_url.startswith("/"):
        try:
            resolve(login_url.split("?", 1)[0])
            return []
        except Resolver404:
            pass
    else:
        try:
            reverse(login_url)
            return []
        except NoReverseMatch:
            pass
    return [Warning(
        f"LOGIN_URL {login_url!r} is no page of this project: visitors who are not signed in "
        "would be sent to a 404 instead of a login page.",
        hint='With django.contrib.admin: LOGIN_URL = "admin:login"; or a URL name or path '
             "of your own login view. " + DOCS,
        id="queue_dashboard.W003",
    )]


def check_runserver_serves_websockets(**kwargs: Any) -> list[CheckMessage]:
    if not settings.DEBUG or not conf.get_settings().live:
        return []
    if "daphne" in settings.INSTALLED_APPS:
        return []
    return [Warning(
        "Without daphne in INSTALLED_APPS, manage.py runserver is a WSGI server: pages work "
        "but live updates cannot connect.",
        hint='Put "daphne" first in INSTALLED_APPS (or serve with daphne). ' + DOCS,
        id="queue_dashboard.W004",
    )]


ALL = (check_channel_layer, check_asgi_routes_the_socket, check_login_url,
       check_runserver_serves_websockets)
