"""``manage.py check`` names what the dashboard lacks in a project: a channel layer, an ASGI
application routing its socket, a LOGIN_URL that resolves, daphne for runserver."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.core.checks import run_checks

ROOT = Path(__file__).resolve().parents[2]
V = "tests.dashboard.asgi_variants."


def ids() -> set[str]:
    return {m.id for m in run_checks(tags=["queue_dashboard"]) if m.id}


def test_the_example_project_passes() -> None:
    assert ids() == set()


def test_no_channel_layer(settings: Any) -> None:
    del settings.CHANNEL_LAYERS
    assert ids() == {"queue_dashboard.W001"}


def test_no_channel_layer_is_fine_without_live_updates(settings: Any) -> None:
    del settings.CHANNEL_LAYERS
    settings.QUEUE_DASHBOARD = {**settings.QUEUE_DASHBOARD, "LIVE": False}
    assert ids() == set()


@pytest.mark.parametrize(("app", "found"), [
    ("wrapped", set()),
    ("own_router", set()),
    ("http_only", {"queue_dashboard.W002"}),
    ("elsewhere", {"queue_dashboard.W002"}),
])
def test_asgi_application_must_route_the_socket(settings: Any, app: str, found: set[str]) -> None:
    settings.ASGI_APPLICATION = V + app
    assert ids() == found


def test_socket_at_a_custom_live_url(settings: Any) -> None:
    settings.ASGI_APPLICATION = V + "elsewhere"
    settings.QUEUE_DASHBOARD = {**settings.QUEUE_DASHBOARD, "LIVE_URL": "/sockets/"}
    assert ids() == set()


def test_no_or_a_broken_asgi_application(settings: Any) -> None:
    del settings.ASGI_APPLICATION
    assert ids() == {"queue_dashboard.W002"}
    settings.ASGI_APPLICATION = "tests.dashboard.nowhere.application"
    [message] = run_checks(tags=["queue_dashboard"])
    assert "cannot be imported: ModuleNotFoundError" in message.msg


@pytest.mark.parametrize(("login_url", "found"), [
    ("admin:login", set()),
    ("/ops/admin/login/", set()),
    ("https://sso.example/login", set()),
    ("/accounts/login/", {"queue_dashboard.W003"}),
    ("accounts:login", {"queue_dashboard.W003"}),
])
def test_login_url_must_resolve(settings: Any, login_url: str, found: set[str]) -> None:
    settings.LOGIN_URL = login_url
    assert ids() == found


def test_runserver_needs_daphne_while_debugging(settings: Any) -> None:
    settings.DEBUG = True
    assert ids() == {"queue_dashboard.W004"}
    settings.INSTALLED_APPS = ["daphne", *settings.INSTALLED_APPS]
    assert ids() == set()


def test_manage_py_check_prints_the_fix() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "django", "check"], cwd=ROOT, capture_output=True, text=True,
        timeout=60, check=False,
        env={**os.environ,
             "DJANGO_SETTINGS_MODULE": "tests.dashboard.example_project.bare_settings"})
    text = out.stdout + out.stderr
    assert "queue_dashboard.W001" in text and "CHANNEL_LAYERS" in text
    assert "queue_dashboard.W003" in text and 'LOGIN_URL = "admin:login"' in text
