"""ASGI entry point for daphne: ``daphne config.asgi:application``.

HTTP goes to Django (static files through Django's static handler: the standalone site has no
proxy in front; a deployment behind a proxy serves ``collectstatic`` output there instead);
websockets go to the dashboard's live pages.
"""

from __future__ import annotations

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

from channels.routing import ProtocolTypeRouter
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler
from django.core.asgi import get_asgi_application

django_application = get_asgi_application()  # sets Django up before the routes import models

from dashboard.routing import websocket_application  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": ASGIStaticFilesHandler(django_application),
        "websocket": websocket_application(),
    }
)
