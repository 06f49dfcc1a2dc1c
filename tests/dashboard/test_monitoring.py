from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from dashboard import services
from dashboard.views.monitoring import render_metrics
from tests.dashboard.conftest import MOUNT

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("dash_redis")]


def test_health_ok_is_public_and_names_no_queue(client: Client, queue: Any) -> None:
    queue.add("secret-name", {})
    response = client.get(f"{MOUNT}health/")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "connections": {"default": {"ok": True}, "other": {"ok": True}},
    }
    assert "emails" not in response.content.decode()


def test_health_503_when_redis_is_down(client: Client, settings: Any) -> None:
    settings.QUEUE_DASHBOARD = {"CONNECTIONS": {"down": {"URL": "redis://127.0.0.1:1/0"}}}
    response = client.get(f"{MOUNT}health/")
    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"


def test_health_can_be_private(client: Client, settings: Any) -> None:
    settings.QUEUE_DASHBOARD = {**settings.QUEUE_DASHBOARD, "HEALTH_PUBLIC": False}
    assert client.get(f"{MOUNT}health/").status_code == 403


def test_metrics_need_token_or_permission(
    client: Client, make_user: Callable[..., User], settings: Any, queue: Any
) -> None:
    queue.add("a", {})
    assert client.get(f"{MOUNT}metrics/").status_code == 403
    settings.QUEUE_DASHBOARD = {**settings.QUEUE_DASHBOARD, "API_TOKEN": "s3cret"}
    assert (
        client.get(f"{MOUNT}metrics/", headers={"Authorization": "Bearer nope"}).status_code == 403
    )
    response = client.get(f"{MOUNT}metrics/", headers={"Authorization": "Bearer s3cret"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    body = response.content.decode()
    assert 'queue_dashboard_jobs{connection="default",queue="emails",state="waiting"} 1' in body
    assert 'queue_dashboard_jobs{connection="other",queue="reports",state="failed"} 0' in body
    assert 'queue_dashboard_paused{connection="default",queue="emails"} 0' in body
    assert 'queue_dashboard_up{connection="default"} 1' in body
    client.force_login(make_user("view"))
    assert client.get(f"{MOUNT}metrics/").status_code == 200


def test_metrics_label_escaping() -> None:
    summary = services.QueueSummary(connection="c", name='we"ird\\q\n', counts={"waiting": 3})
    text = render_metrics([summary])
    assert 'queue="we\\"ird\\\\q\\n",state="waiting"} 3' in text
