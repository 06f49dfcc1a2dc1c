"""ASGI entry point for daphne: ``daphne config.asgi:application``.

HTTP goes to Django, static files included (the standalone site has no proxy in front and
uses plain storage, so Django's static handler serves them whatever ``DEBUG`` is; a deployment
behind a proxy serves ``collectstatic`` output there instead); websockets go to the
dashboard's live pages.
"""

from __future__ import annotations

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

from django.core.asgi import get_asgi_application

django_application = get_asgi_application()  # sets Django up before the routes import models

from dashboard.asgi import with_dashboard  # noqa: E402

application = with_dashboard(django_application, serve_static=True)
