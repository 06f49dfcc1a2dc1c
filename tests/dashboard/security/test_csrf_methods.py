"""CSRF and methods: every mutating endpoint answers 405 to GET (and to any method but POST),
and 403 to a POST without a CSRF token or with a wrong one, writing nothing; the same POST
with the right token goes through (so the 403 is the CSRF check's)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from dashboard.models import AuditLog
from queuecore import Queue
from tests.dashboard.alerts.objects import seed_alert_objects
from tests.dashboard.security.conftest import redis_fingerprint
from tests.dashboard.security.test_authz_http import DECLARED, Case, route_names, url_of

pytestmark = [pytest.mark.django_db, pytest.mark.timeout(30)]


def _mutating() -> list[Any]:
    return [
        pytest.param(name, case, mount, id=f"{mount}-{case.id}")
        for name in route_names()
        for case in DECLARED.get(name, [])
        if case.method == "POST"
        for mount in ("include", "admin")
    ]


@pytest.fixture
def data(dash_redis: str) -> Any:
    queue = Queue("emails", connection=dash_redis)
    queue.add("first", {"n": 1})
    queue.add("later", {"n": 2}, delay=3_600_000)
    seed_alert_objects()
    yield queue
    queue.close()


@pytest.fixture
def boss(role_client: Callable[..., Client]) -> Client:
    return role_client("superuser", csrf=True)


def _token(client: Client) -> str:
    from tests.dashboard.conftest import MOUNT

    client.get(MOUNT + "default/q/emails/")  # a page with action forms sets the cookie
    return str(client.cookies["csrftoken"].value)


def test_routes_refusing_get_are_exactly_the_declared_posts(
    data: Any, role_client: Callable[..., Client]
) -> None:
    client = role_client("superuser")
    refusing = set()
    for name in route_names():
        for case in DECLARED[name]:
            if client.get(url_of(name, case, "include"), case.query).status_code == 405:
                refusing.add(case.id)
    assert refusing == {c.id for n in DECLARED for c in DECLARED[n] if c.method == "POST"}


@pytest.mark.parametrize(("name", "case", "mount"), _mutating())
def test_other_methods_get_405(
    name: str, case: Case, mount: str, data: Any, dash_redis: str, boss: Client
) -> None:
    url = url_of(name, case, mount)
    token = _token(boss)  # so the CSRF check passes and the method is what is refused
    before = redis_fingerprint(dash_redis)
    for method in ("get", "head", "put", "patch", "delete", "options"):
        response = getattr(boss, method)(url, headers={"X-CSRFToken": token})
        assert response.status_code == 405, f"{method.upper()} {url}"
        assert "POST" in response["Allow"]
    assert redis_fingerprint(dash_redis) == before


@pytest.mark.parametrize(("name", "case", "mount"), _mutating())
def test_post_without_or_with_wrong_csrf_token_is_403(
    name: str, case: Case, mount: str, data: Any, dash_redis: str, boss: Client
) -> None:
    url = url_of(name, case, mount)
    good = _token(boss)
    wrong = ("x" if good[0] != "x" else "y") + good[1:]
    before = redis_fingerprint(dash_redis)
    attempts: list[tuple[str, dict[str, str], dict[str, str]]] = [
        ("no token", dict(case.data), {}),
        ("wrong form token", {**case.data, "csrfmiddlewaretoken": wrong}, {}),
        ("wrong header token", dict(case.data), {"X-CSRFToken": wrong}),
        ("garbage token", {**case.data, "csrfmiddlewaretoken": "<script>"}, {}),
    ]
    for label, form, headers in attempts:
        response = boss.post(url, form, headers=headers)
        assert response.status_code == 403, f"{label}: {url}"
    # A right token from a request without the cookie is refused too.
    cookieless = Client(enforce_csrf_checks=True)
    cookieless.force_login(_superuser(boss))
    response = cookieless.post(url, {**case.data, "csrfmiddlewaretoken": good})
    assert response.status_code == 403
    assert redis_fingerprint(dash_redis) == before
    assert not AuditLog.objects.exclude(outcome="denied").exists()
    # The control: the right token passes the check.
    response = boss.post(url, {**case.data, "csrfmiddlewaretoken": good})
    assert response.status_code == 303, url


def _superuser(client: Client) -> Any:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import User

    user_id = client.session["_auth_user_id"]
    user: User = get_user_model().objects.get(pk=user_id)
    return user
