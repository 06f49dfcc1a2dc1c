"""Where a page's socket points and what its pill says: under the script prefix (daphne's
root path, FORCE_SCRIPT_NAME), and "needs the ASGI server" when a WSGI server sent the page."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.template import Context
from django.test import Client
from django.urls import set_script_prefix

from dashboard.templatetags.queue_dashboard import live_socket
from tests.dashboard.conftest import MOUNT

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("dash_redis")]


@pytest.fixture
def prefix() -> Iterator[None]:
    set_script_prefix("/shop/")
    yield
    set_script_prefix("/")


def test_socket_url_is_under_the_script_prefix(prefix: None) -> None:
    url = live_socket(Context({"dashboard_ns": "queue_dashboard"}), "queue", "default", "a/b")
    assert url == "/shop/ws/queue-dashboard/default/q/a%252Fb/?ns=queue_dashboard&view=page"


def test_overview_socket_sends_at_once() -> None:
    url = live_socket(Context({}), "overview")
    assert url == "/ws/queue-dashboard/?ns=queue_dashboard"


def test_a_wsgi_served_page_says_live_updates_need_the_asgi_server(
    viewer_client: Client, queue: Any
) -> None:
    queue.add("a", {})
    body = viewer_client.get(MOUNT + "default/q/emails/").content.decode()
    assert "ws-connect" not in body
    assert "live updates need the ASGI server" in body
    assert f'href="{MOUNT}help/live/"' in body
    help_page = viewer_client.get(MOUNT + "help/live/")
    assert help_page.status_code == 200
    assert "served by a WSGI server" in help_page.content.decode()


def test_pages_and_actions_follow_the_script_prefix(
    admin_user_client: Client, queue: Any, prefix: None
) -> None:
    # What a handler sets from daphne's root path or FORCE_SCRIPT_NAME (the test client
    # does not: it is set here); the end-to-end test runs daphne --root-path.
    queue.add("a", {})
    body = admin_user_client.get(MOUNT + "default/q/emails/").content.decode()
    assert f'action="/shop{MOUNT}default/q/emails/actions/pause/"' in body
    done = admin_user_client.post(MOUNT + "default/q/emails/actions/pause/", {"go": "pause"})
    assert done.status_code == 303
    assert done["Location"].startswith(f"/shop{MOUNT}default/q/emails/")
    assert queue.is_paused()
