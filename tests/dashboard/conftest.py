"""Fixtures of the dashboard tests: Django on the example host project, users with chosen
permissions, and queues on the private redis-server that tests/conftest.py starts."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.dashboard.example_project.settings")

import django

django.setup()

from django.contrib.auth.models import Group, Permission, User  # noqa: E402
from django.test import Client  # noqa: E402

from dashboard.permissions import ACTION_PERMISSIONS  # noqa: E402

MOUNT = "/ops/tools/queues/"


@pytest.fixture(autouse=True)
def _bulk_operations_end() -> Iterator[None]:
    """A bulk operation a test started (a thread) ends before the next test begins."""
    yield
    from dashboard.bulk import operations

    operations.wait_all(60)


@pytest.fixture
def dash_redis(settings: Any, redis_url: str) -> str:
    """Point the dashboard at the private Redis (two named connections, same server)."""
    settings.QUEUE_DASHBOARD = {
        "CONNECTIONS": {
            "default": {"URL": redis_url, "LABEL": "Main"},
            "other": {"URL": redis_url.rsplit("/", 1)[0] + "/1", "QUEUES": ["reports"]},
        },
        "PAGE_SIZE": 5,
    }
    return redis_url


@pytest.fixture
def make_user(db: None) -> Callable[..., User]:
    counter = iter(range(1_000_000))

    def make(
        *actions: str, staff: bool = True, superuser: bool = False, groups: tuple[str, ...] = ()
    ) -> User:
        user = User.objects.create_user(
            username=f"user{next(counter)}", password="pw", is_staff=staff, is_superuser=superuser
        )
        codenames = [ACTION_PERMISSIONS[a] for a in actions]
        user.user_permissions.set(
            Permission.objects.filter(
                content_type__app_label="queue_dashboard", codename__in=codenames
            )
        )
        for name in groups:
            user.groups.add(Group.objects.get_or_create(name=name)[0])
        return user

    return make


@pytest.fixture
def admin_user_client(make_user: Callable[..., User]) -> Client:
    client = Client()
    client.force_login(make_user(superuser=True))
    return client


@pytest.fixture
def viewer_client(make_user: Callable[..., User]) -> Client:
    client = Client()
    client.force_login(make_user("view"))
    return client


@pytest.fixture
def csrf_client(make_user: Callable[..., User]) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(make_user(superuser=True))
    return client


@pytest.fixture
def queue(dash_redis: str) -> Iterator[Any]:
    from queuecore import Queue

    q = Queue("emails", connection=dash_redis)
    yield q
    q.close()
