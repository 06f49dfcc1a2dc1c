"""Shared pieces of the security tests: one user per role, and a fingerprint of everything in
the private Redis (to prove a refused request wrote nothing)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import redis
from django.contrib.auth.models import User
from django.test import Client

from dashboard.permissions import ACTION_PERMISSIONS

ADMIN_MOUNT = "/ops/admin/queue_dashboard/queuedashboard/"
ALL_ACTIONS = tuple(ACTION_PERMISSIONS)
#: Every role of the authorization matrix. "manage" holds every dashboard permission;
#: "manage_no_view" every one but ``view`` (an action permission alone is not enough).
ROLES = ("anonymous", "nonstaff", "staff", "view", "manage", "superuser", "manage_no_view")


def make_role(make_user: Callable[..., User], role: str) -> User | None:
    if role == "anonymous":
        return None
    if role == "nonstaff":
        return make_user(*ALL_ACTIONS, staff=False)
    if role == "staff":
        return make_user()
    if role == "view":
        return make_user("view")
    if role == "manage":
        return make_user(*ALL_ACTIONS)
    if role == "superuser":
        return make_user(superuser=True)
    if role == "manage_no_view":
        return make_user(*(a for a in ALL_ACTIONS if a != "view"))
    raise AssertionError(f"unknown role {role}")


@pytest.fixture
def role_client(make_user: Callable[..., User]) -> Callable[..., Client]:
    def make(role: str, *, csrf: bool = False) -> Client:
        client = Client(enforce_csrf_checks=csrf)
        user = make_role(make_user, role)
        if user is not None:
            client.force_login(user)
        return client

    return make


def redis_fingerprint(url: str) -> dict[tuple[int, str], Any]:
    """Every key of databases 0 and 1 (the two test connections) with its DUMP."""
    base = url.rsplit("/", 1)[0]
    out: dict[tuple[int, str], Any] = {}
    for db in (0, 1):
        client = redis.Redis.from_url(f"{base}/{db}")
        try:
            for key in client.scan_iter(count=1000):
                out[(db, key.decode("utf-8", "replace"))] = client.dump(key)
        finally:
            client.close()
    return out


def check_csp(response: Any) -> None:
    """An HTML response must carry a policy that allows no inline or evaluated script."""
    if not response["Content-Type"].startswith("text/html"):
        return
    policy = response.get("Content-Security-Policy", "")
    directives = {d.split()[0]: d.split()[1:] for d in policy.split(";") if d.strip()}
    assert directives.get("script-src") == ["'self'"], f"script-src of {policy!r}"
    assert "'unsafe-inline'" not in policy and "'unsafe-eval'" not in policy
    assert directives.get("object-src") == ["'none'"]
    assert directives.get("base-uri") == ["'self'"]
