"""The example project served by ``with_dashboard`` (static files on), so that
``ALERTS_IN_ASGI`` starts the evaluator inside the daphne process of the browser test."""

from __future__ import annotations

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.dashboard.example_project.settings")

from django.core.asgi import get_asgi_application

django_application = get_asgi_application()

from dashboard.asgi import with_dashboard  # noqa: E402

application = with_dashboard(django_application, serve_static=True)
