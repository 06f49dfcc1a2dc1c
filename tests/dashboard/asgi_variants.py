"""ASGI applications for the system-check tests: ones that route the dashboard's socket
(the one-call wrapper, a project's own router) and ones that do not."""

from __future__ import annotations

from channels.auth import AuthMiddlewareStack
from channels.routing import ProtocolTypeRouter, URLRouter
from channels.security.websocket import AllowedHostsOriginValidator
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler
from django.core.asgi import get_asgi_application
from django.urls import path

from dashboard.asgi import with_dashboard
from dashboard.routing import websocket_urlpatterns

django_application = get_asgi_application()

wrapped = with_dashboard(django_application)

own_router = ProtocolTypeRouter({
    "http": django_application,
    "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter([
        path("ws/chat/", URLRouter([])),
        path("ws/queue-dashboard/", URLRouter(websocket_urlpatterns)),
    ]))),
})

# An asgi.py that forgot the websockets (static files served, so the page is styled).
http_only = ProtocolTypeRouter({"http": ASGIStaticFilesHandler(django_application)})

elsewhere = ProtocolTypeRouter({
    "http": django_application,
    "websocket": AuthMiddlewareStack(URLRouter([
        path("sockets/", URLRouter(websocket_urlpatterns)),
    ])),
})
