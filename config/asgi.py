"""ASGI entry point for daphne: ``daphne config.asgi:application``.

Static files are served by Django's static handler (the standalone site has no proxy in
front); a deployment behind a proxy serves ``collectstatic`` output there instead.
"""

from __future__ import annotations

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler
from django.core.asgi import get_asgi_application

application = ASGIStaticFilesHandler(get_asgi_application())
