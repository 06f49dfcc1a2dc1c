"""The example project as a new user's first try: no channel layer, Django's default
LOGIN_URL (a 404 here): ``manage.py check`` must say so."""

from __future__ import annotations

from tests.dashboard.example_project.settings import *  # noqa: F403

del CHANNEL_LAYERS  # noqa: F821
del LOGIN_URL  # noqa: F821
