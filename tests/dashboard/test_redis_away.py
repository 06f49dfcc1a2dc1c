"""Redis going away under a running dashboard: pages say so calmly, naming queuecore's error
type (the dashboard catches queuecore's errors only, never redis-py's), actions are reported
and audited as failed, and a job key holding another type is a 404."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from django.contrib.auth.models import User
from django.test import Client

from dashboard.models import AuditLog
from queuecore import Queue
from tests.dashboard.conftest import MOUNT
from tests.redisproc import RedisProcess

pytestmark = pytest.mark.django_db


@pytest.fixture
def going_away(settings: Any) -> Iterator[RedisProcess]:
    """A redis-server of this test alone (so it can be killed), the dashboard's only one."""
    server = RedisProcess().start()
    settings.QUEUE_DASHBOARD = {"CONNECTIONS": {"main": {"URL": server.url}}}
    try:
        yield server
    finally:
        server.close()


def test_pages_name_queuecores_error_once_redis_is_gone(
    going_away: RedisProcess, make_user: Callable[..., User]
) -> None:
    queue = Queue("emails", connection=going_away.url)
    queue.add("x", {})
    queue.close()
    client = Client()
    client.force_login(make_user("view"))
    pages = {
        "overview": MOUNT,
        "queue": f"{MOUNT}main/q/emails/",
        "workers": f"{MOUNT}main/workers/",
        "redis": f"{MOUNT}main/redis/",
    }
    for path in pages.values():  # the dashboard's connections are open and in use
        assert client.get(path).status_code == 200, path
    going_away.kill()
    bodies = {name: client.get(path) for name, path in pages.items()}
    assert all(r.status_code == 200 for r in bodies.values())
    text = {name: r.content.decode() for name, r in bodies.items()}
    assert "Cannot read this connection: RedisConnectionError" in text["overview"]
    assert "Cannot read this queue: RedisConnectionError" in text["queue"]
    assert "RedisConnectionError" in text["workers"]
    assert "Cannot reach Redis: RedisConnectionError" in text["redis"]
    health = client.get(f"{MOUNT}health/")
    assert health.status_code == 503
    assert health.json() == {"status": "unavailable", "connections": {"main": {"ok": False}}}


def test_an_action_without_redis_is_a_reported_and_audited_failure(
    going_away: RedisProcess, make_user: Callable[..., User]
) -> None:
    client = Client()
    client.force_login(make_user(superuser=True))
    assert client.get(f"{MOUNT}main/q/emails/").status_code == 200
    going_away.kill()
    response = client.post(f"{MOUNT}main/q/emails/actions/pause/", follow=True)
    assert response.status_code == 200
    assert "pause failed: " in response.content.decode()
    entry = AuditLog.objects.order_by("-id").first()
    assert entry is not None
    assert (entry.action, entry.outcome) == ("pause", "error")
    assert entry.detail.startswith("RedisConnectionError: ")


def test_a_job_key_of_another_type_is_404(
    going_away: RedisProcess, make_user: Callable[..., User]
) -> None:
    planted = redis.Redis.from_url(going_away.url)
    planted.set("bull:emails:42", "not a hash")  # HGETALL answers WRONGTYPE
    planted.close()
    client = Client()
    client.force_login(make_user("view"))
    assert client.get(f"{MOUNT}main/q/emails/jobs/42/").status_code == 404
