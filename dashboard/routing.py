"""Websocket routes of the live pages, to mount in the host project's ASGI application::

    from channels.routing import ProtocolTypeRouter
    from dashboard.routing import websocket_application

    application = ProtocolTypeRouter({
        "http": get_asgi_application(),
        "websocket": websocket_application(),  # at QUEUE_DASHBOARD["LIVE_URL"]
    })

or, to combine with other websocket routes, ``websocket_urlpatterns`` under a prefix equal to
``LIVE_URL`` inside your own ``AllowedHostsOriginValidator(AuthMiddlewareStack(...))``.
"""

from __future__ import annotations

from typing import Any

from channels.auth import AuthMiddlewareStack
from channels.routing import URLRouter
from channels.security.websocket import AllowedHostsOriginValidator
from django.urls import path, register_converter

from dashboard import conf
from dashboard.live.consumers import LiveConsumer
from dashboard.names import SocketSegmentConverter

# Decoded here, checked by the consumer before it accepts (see ``dashboard.names``).
register_converter(SocketSegmentConverter, "queue_dashboard_segment")

_consumer = LiveConsumer.as_asgi()

websocket_urlpatterns = [
    path("", _consumer, {"kind": "overview"}),
    path("<str:connection>/q/<queue_dashboard_segment:queue>/", _consumer, {"kind": "queue"}),
    path(
        "<str:connection>/q/<queue_dashboard_segment:queue>/jobs/<queue_dashboard_segment:job_id>/",
        _consumer,
        {"kind": "job"},
    ),
]


def websocket_application(url: str | None = None) -> Any:
    """Origin check, session and user, then the routes under ``url`` (default ``LIVE_URL``)."""
    prefix = (url or conf.get_settings().live_url).lstrip("/")
    return AllowedHostsOriginValidator(
        AuthMiddlewareStack(URLRouter([path(prefix, URLRouter(websocket_urlpatterns))]))
    )
