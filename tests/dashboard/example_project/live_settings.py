"""The example project served by real daphne processes (browser, multi-process and bench
runs): a SQLite file shared by the processes, the private Redis, and channels_redis when
``QD_LIVE_CHANNEL_REDIS`` names a Redis for the channel layer."""

from __future__ import annotations

import json
import os

from tests.dashboard.example_project.settings import *  # noqa: F403

DATABASES = {
    "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": os.environ["QD_LIVE_DB"]}
}
QUEUE_DASHBOARD = {
    "CONNECTIONS": {"default": {"URL": os.environ["QD_LIVE_REDIS"], "LABEL": "Main"}},
    "PAGE_SIZE": int(os.environ.get("QD_LIVE_PAGE_SIZE", "10")),
    "LIVE_UPDATES_PER_SECOND": int(os.environ.get("QD_LIVE_RATE", "4")),
    # More settings of a run (caps, limits), as JSON.
    **json.loads(os.environ.get("QD_LIVE_SETTINGS") or "{}"),
}
if os.environ.get("QD_LIVE_CHANNEL_REDIS"):
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            # redis-py 8 reads with a 5 s timeout unless told otherwise; channels_redis 4.3
            # blocks 5 s in BZPOPMIN, so an idle socket would fail: give reads more time.
            "CONFIG": {
                "hosts": [{"address": os.environ["QD_LIVE_CHANNEL_REDIS"], "socket_timeout": 30}],
                "prefix": "qd-asgi",
            },
        }
    }
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
    # A run that reads the live side's log (sockets behind, closed by a cap) asks for INFO.
    "loggers": {"dashboard.live": {"level": os.environ.get("QD_LIVE_LOG_LEVEL", "WARNING")}},
}
