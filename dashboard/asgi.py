"""The one-call ASGI application for projects that route no websockets of their own::

    # yourproject/asgi.py
    import os

    from django.core.asgi import get_asgi_application

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "yourproject.settings")
    django_application = get_asgi_application()  # sets Django up first

    from dashboard.asgi import with_dashboard  # noqa: E402

    application = with_dashboard(django_application)

Projects that already route websockets mount ``dashboard.routing.websocket_urlpatterns``
in their own router instead (see ``dashboard.routing``).
"""

from __future__ import annotations

from typing import Any

from channels.routing import ProtocolTypeRouter
from django.apps import apps
from django.conf import settings
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler

from dashboard.routing import websocket_application


def with_dashboard(django_application: Any, *, serve_static: bool | None = None) -> Any:
    """HTTP to ``django_application``, websockets to the dashboard's live pages.

    Static files: with ``serve_static`` (default: ``DEBUG``) Django's development handler
    serves them from the apps' folders, as ``runserver`` does, so ``daphne`` alone shows a
    styled page while developing. Otherwise the project serves them (WhiteNoise, or a web
    server in front of ``collectstatic``'s output): the development handler knows only the
    source names, not a manifest storage's hashed ones, so it stays out of the way.
    """
    if serve_static is None:
        serve_static = bool(settings.DEBUG)
    http = django_application
    if serve_static and apps.is_installed("django.contrib.staticfiles"):
        http = ASGIStaticFilesHandler(django_application)
    # The alert evaluator, when QUEUE_DASHBOARD['ALERTS_IN_ASGI'] says so (imported here: this
    # module may be imported before Django's apps are ready, the alert models may not).
    from dashboard.alerts.runner import start_in_asgi

    start_in_asgi()
    return ProtocolTypeRouter({"http": http, "websocket": websocket_application()})
