"""Settings of the standalone site: SQLite, one local Redis, the dashboard at /queues/.

Environment:
- QUEUE_DASHBOARD_REDIS_URL (default redis://127.0.0.1:6379/0), QUEUE_DASHBOARD_PREFIX
  (default bull), QUEUE_DASHBOARD_READ_ONLY (1/0);
- QUEUE_DASHBOARD_CHANNEL_REDIS_URL: a Redis for Channels' layer (channels_redis), needed when
  several daphne processes serve the site; without it, the in-memory layer (one process);
- DJANGO_SECRET_KEY (else one made once and kept in var/secret_key), DJANGO_DEBUG (1/0),
  DJANGO_ALLOWED_HOSTS (comma separated), DJANGO_DB_PATH (the SQLite file).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent


def _local_secret_key() -> str:
    """A key made once per checkout and kept in var/ (ignored by git)."""
    path = BASE_DIR / "var" / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(50), encoding="utf-8")
        path.chmod(0o600)
    return path.read_text(encoding="utf-8").strip()


DEBUG = os.environ.get("DJANGO_DEBUG", "0") == "1"
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY") or _local_secret_key()
ALLOWED_HOSTS = [
    h for h in os.environ.get("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost").split(",") if h
]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "dashboard",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "config.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("DJANGO_DB_PATH", str(BASE_DIR / "db.sqlite3")),
    }
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# Site-level static overrides, when the folder has any.
STATICFILES_DIRS = [d for d in (BASE_DIR / "static",) if d.is_dir()]
STATIC_ROOT = BASE_DIR / "var" / "static"

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LOGIN_URL = "admin:login"
LOGIN_REDIRECT_URL = "/queues/"

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_SAMESITE = "Strict"
X_FRAME_OPTIONS = "SAMEORIGIN"

_CHANNEL_REDIS = os.environ.get("QUEUE_DASHBOARD_CHANNEL_REDIS_URL", "")
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        # redis-py 8 reads with a 5 s timeout by default, as long as channels_redis blocks.
        "CONFIG": {"hosts": [{"address": _CHANNEL_REDIS, "socket_timeout": 30}]},
    }
    if _CHANNEL_REDIS
    else {"BACKEND": "channels.layers.InMemoryChannelLayer"}
}

QUEUE_DASHBOARD = {
    "CONNECTIONS": {
        "default": {
            "URL": os.environ.get("QUEUE_DASHBOARD_REDIS_URL", "redis://127.0.0.1:6379/0"),
            "PREFIX": os.environ.get("QUEUE_DASHBOARD_PREFIX", "bull"),
            "LABEL": "Local Redis",
        },
    },
    "READ_ONLY": os.environ.get("QUEUE_DASHBOARD_READ_ONLY", "0") == "1",
}
