"""Errors inside the dashboard's layout: a removed job, an unknown queue (with the close
names), an unknown connection or state are 404 pages that say so; bad URL parameters are
ignored, never a 500."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from tests.dashboard.conftest import MOUNT

pytestmark = pytest.mark.django_db


def _page(response: Any) -> str:
    body = response.content.decode()
    assert 'class="qd-header"' in body  # the dashboard's own layout, not Django's bare 404
    assert 'id="not-found"' in body
    return body


def test_a_missing_job_may_have_been_trimmed(viewer_client: Client, queue: Any) -> None:
    queue.add("x", {})
    response = viewer_client.get(f"{MOUNT}default/q/emails/jobs/999/")
    assert response.status_code == 404
    body = _page(response)
    assert "removeOnComplete" in body and "removeOnFail" in body
    assert "“999”" in body
    assert f'href="{MOUNT}default/q/emails/"' in body  # back to the queue


def test_an_unknown_queue_says_so_and_lists_the_close_names(
    viewer_client: Client, queue: Any
) -> None:
    """On a discovered connection a name Redis holds nothing of may be a new queue (its page
    works and fills in live) or a typo: the page says which it may be, with the close names."""
    queue.add("x", {})
    response = viewer_client.get(f"{MOUNT}default/q/emials/")
    assert response.status_code == 200
    body = response.content.decode()
    assert 'id="unknown-queue"' in body and "“emials”" in body
    assert f'<a href="{MOUNT}default/q/emails/">emails</a>' in body
    known = viewer_client.get(f"{MOUNT}default/q/emails/").content.decode()
    assert 'id="unknown-queue"' not in known


def test_a_queue_only_in_redis_is_found(viewer_client: Client, queue: Any) -> None:
    """Discovery may be cached or cut short: a queue whose keys exist is still a page."""
    queue.add("x", {})
    assert viewer_client.get(f"{MOUNT}default/q/emails/").status_code == 200


def test_a_queue_not_configured_is_404(viewer_client: Client, dash_redis: str) -> None:
    response = viewer_client.get(f"{MOUNT}other/q/report/")
    assert response.status_code == 404
    body = _page(response)
    assert "lists its queues in the settings" in body
    assert f'<a href="{MOUNT}other/q/reports/">reports</a>' in body


def test_an_unknown_connection_is_404_in_the_layout(viewer_client: Client, dash_redis: str) -> None:
    for path in ("defualt/q/emails/", "defualt/workers/", "defualt/redis/",
                 "defualt/q/emails/jobs/1/"):
        response = viewer_client.get(MOUNT + path)
        assert response.status_code == 404, path
        body = _page(response)
        assert "“defualt”" in body
        assert f'href="{MOUNT}default/workers/"' in body  # the close name


def test_an_unknown_state_lists_the_states(viewer_client: Client, queue: Any) -> None:
    queue.add("x", {})
    response = viewer_client.get(f"{MOUNT}default/q/emails/", {"state": "bogus"})
    assert response.status_code == 404
    body = _page(response)
    assert "“bogus”" in body
    assert f'href="{MOUNT}default/q/emails/?state=failed"' in body


@pytest.mark.parametrize("query", [
    {"page": "abc"}, {"page": "-3"}, {"page": "99999999999999999999"}, {"size": "-1"},
    {"size": "abc"}, {"size": "100000"}, {"order": "x"}, {"state": "failed", "page": "0"},
])
def test_bad_list_parameters_are_ignored(
    viewer_client: Client, queue: Any, query: dict[str, str]
) -> None:
    queue.add("x", {})
    assert viewer_client.get(f"{MOUNT}default/q/emails/", query).status_code == 200


def test_bad_parameters_of_the_other_pages_are_ignored(
    viewer_client: Client, queue: Any
) -> None:
    job = queue.add("x", {})
    for path, query in (
        (f"default/q/emails/jobs/{job.id}/", {"logs": "abc", "full": "nonsense"}),
        (f"default/q/emails/jobs/{job.id}/", {"logs": "-5"}),
        ("default/q/emails/schedulers/", {"page": "abc"}),
        ("default/q/emails/schedulers/", {"page": "-1"}),
        ("", {"page": "abc", "q": "<b>"}),
        ("default/workers/", {"page": "x"}),
        ("default/redis/", {"x": "y"}),
    ):
        assert viewer_client.get(MOUNT + path, query).status_code == 200, (path, query)


def test_the_admin_mount_shows_the_same_page(admin_user_client: Client, queue: Any) -> None:
    queue.add("x", {})
    admin = "/ops/admin/queue_dashboard/queuedashboard/"
    response = admin_user_client.get(f"{admin}default/q/emails/jobs/999/")
    assert response.status_code == 404
    body = response.content.decode()
    assert 'id="not-found"' in body and "qd-admin" in body
