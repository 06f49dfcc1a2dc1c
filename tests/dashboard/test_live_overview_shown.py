"""The overview's socket follows the queues the page shows (its ``queues`` view), whatever
page and filter, instead of the first LIVE_OVERVIEW_QUEUES; the access check still applies."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User

from dashboard.live import feeds, ticker
from dashboard.live.shown import parse_shown
from queuecore import AsyncQueue
from tests.dashboard.live_helpers import communicator, session_cookie, wait_for
from tests.waiting import wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(60)]


@pytest.fixture(autouse=True)
async def no_feed_outlives_its_test() -> Any:
    yield
    await ticker.ticker().close()
    registry = feeds.registry()
    for key, feed in list(registry.feeds.items()):
        await feed.stop()
        registry.feeds.pop(key, None)


def test_parse_shown_is_bounded_and_checked(settings: Any, dash_redis: str) -> None:
    settings.QUEUE_DASHBOARD = {**settings.QUEUE_DASHBOARD, "LIVE_OVERVIEW_QUEUES": 2}
    assert parse_shown(None) is None and parse_shown("{") is None and parse_shown("{}") is None
    got = parse_shown(json.dumps([["default", "a"], ["default", "b:c"], ["default", "c"]]))
    assert got == {("default", "a")}  # "b:c" refused, "c" over the bound
    assert parse_shown(json.dumps([[1, 2], "x", ["a"]])) == frozenset()


async def test_the_socket_watches_the_queues_of_the_page(
    make_user: Callable[..., User], settings: Any, dash_redis: str
) -> None:
    settings.QUEUE_DASHBOARD = {**settings.QUEUE_DASHBOARD, "LIVE_RECHECK_SECONDS": 3600,
                                "QUEUE_RULES": {"default:secret": {"view": ["nobody"]}}}
    queues = {n: AsyncQueue(n, dash_redis) for n in ("a", "b", "late", "secret")}
    for q in queues.values():
        await q.add("x", {})
    from channels.db import database_sync_to_async

    cookie = await database_sync_to_async(lambda: session_cookie(make_user("view")))()
    comm = communicator("?shown=page", cookie)
    assert (await comm.connect())[0]
    assert feeds.registry().feeds == {}  # nothing until the page names its queues
    shown = [["default", "late"], ["default", "secret"], ["default", "gone"]]
    await comm.send_to(text_data=json.dumps({"queues": json.dumps(shown)}))
    await wait_until(lambda: set(feeds.registry().feeds) == {("default", "late")})
    await queues["late"].add("y", {})
    await wait_for(comm, lambda t: 'hx-swap-oob="true">2<' in t)
    await comm.disconnect()
    for q in queues.values():
        await q.close()
