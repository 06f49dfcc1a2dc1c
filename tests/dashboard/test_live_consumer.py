"""The websocket consumer through Channels' WebsocketCommunicator, on the private Redis:
authentication, origin, permissions, subscribe and unsubscribe (one reader per queue),
coalescing, the job page, the overview and losing access."""

from __future__ import annotations

import asyncio
import gc
import json
import time
from collections.abc import Callable
from typing import Any

import pytest
import redis
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.contrib.auth.models import User
from django.contrib.sessions.models import Session

from dashboard.live import feeds, notify, services, ticker
from dashboard.templatetags.queue_dashboard import dom_id
from queuecore import AsyncQueue, Worker
from tests.dashboard.live_helpers import (
    collect,
    communicator,
    session_cookie,
    texts,
    wait_closed,
    wait_for,
)
from tests.waiting import wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(60)]

QUEUE_PATH = "default/q/emails/"


@pytest.fixture(autouse=True)
async def no_feed_outlives_its_test() -> Any:
    """Stop any stream reader still running before the test's event loop closes (a socket the
    server closed unsubscribes in the background; under load that can lag)."""
    yield
    await ticker.ticker().close()
    registry = feeds.registry()
    for key, feed in list(registry.feeds.items()):
        await feed.stop()
        registry.feeds.pop(key, None)


@pytest.fixture
def live_settings(settings: Any, dash_redis: str) -> dict[str, Any]:
    settings.QUEUE_DASHBOARD = {**settings.QUEUE_DASHBOARD, "LIVE_RECHECK_SECONDS": 3600}
    return settings.QUEUE_DASHBOARD  # type: ignore[no-any-return]


@pytest.fixture
def admin_session(make_user: Callable[..., User], live_settings: Any) -> str:
    return session_cookie(make_user(superuser=True))


@pytest.fixture
async def aqueue(dash_redis: str) -> Any:
    queue = AsyncQueue("emails", dash_redis)
    yield queue
    await queue.close()


async def login(make_user: Callable[..., User], *actions: str, **kwargs: Any) -> tuple[User, str]:
    """A user and a session cookie for it (the ORM runs in a thread: this is async code)."""

    def make() -> tuple[User, str]:
        user = make_user(*actions, **kwargs)
        return user, session_cookie(user)

    return await database_sync_to_async(make)()


def _flushes_running() -> bool:
    return any(getattr(t.get_coro(), "__qualname__", "") == "LiveSession.flush"
               and not t.done() for t in asyncio.all_tasks())


def _xread_clients(url: str) -> int:
    client = redis.Redis.from_url(url)
    try:
        return sum(1 for c in client.client_list() if c.get("cmd") == "xread")
    finally:
        client.close()


# -- who may connect --


async def test_anonymous_socket_is_refused(live_settings: Any) -> None:
    comm = communicator(QUEUE_PATH)
    connected, _ = await comm.connect()
    assert not connected
    assert feeds.registry().feeds == {}


async def test_foreign_origin_is_refused(admin_session: str) -> None:
    comm = communicator(QUEUE_PATH, admin_session, origin="http://evil.example")
    connected, _ = await comm.connect()
    assert not connected


async def test_missing_origin_is_refused(admin_session: str) -> None:
    comm = communicator(QUEUE_PATH, admin_session, origin="")
    connected, _ = await comm.connect()
    assert not connected


async def test_staff_without_view_permission_is_refused(
    make_user: Callable[..., User], live_settings: Any
) -> None:
    _, cookie = await login(make_user)
    comm = communicator(QUEUE_PATH, cookie)
    connected, _ = await comm.connect()
    assert not connected


async def test_queue_rule_refuses_a_queue_the_user_may_not_view(
    make_user: Callable[..., User], settings: Any, live_settings: Any
) -> None:
    settings.QUEUE_DASHBOARD = {
        **live_settings,
        "QUEUE_RULES": {"default:emails": {"view": ["mail-team"]}},
    }
    _, outsider = await login(make_user, "view")
    _, insider = await login(make_user, "view", groups=("mail-team",))
    comm = communicator(QUEUE_PATH, outsider)
    assert not (await comm.connect())[0]
    comm = communicator(QUEUE_PATH, insider)
    assert (await comm.connect())[0]
    await comm.disconnect()


async def test_unknown_connection_is_refused(admin_session: str) -> None:
    comm = communicator("nowhere/q/emails/", admin_session)
    assert not (await comm.connect())[0]


# -- subscribe and unsubscribe --


async def test_one_reader_per_queue_shared_and_stopped_with_the_last_socket(
    admin_session: str, aqueue: Any, dash_redis: str
) -> None:
    first = communicator(QUEUE_PATH, admin_session)
    second = communicator(QUEUE_PATH, admin_session)
    assert (await first.connect())[0]
    assert (await second.connect())[0]
    registry = feeds.registry()
    assert list(registry.feeds) == [("default", "emails")]
    feed = registry.feeds[("default", "emails")]
    assert len(feed.subscribers) == 2
    # The initial refresh: exact counts for both.
    for comm in (first, second):
        await wait_for(comm, lambda t: 'id="tab-count-waiting"' in t)

    await aqueue.add("welcome", {"to": "<ada@example.com>"})
    for comm in (first, second):
        got = await wait_for(comm, lambda t: "welcome" in t)
        text = "".join(got)
        assert 'id="tab-count-waiting" hx-swap-oob="true">1<' in text
        assert 'id="jobs-table" hx-swap-oob="true"' in text
    # Both got the event: the reader has read (an XREAD) by now, and it is the only one.
    assert _xread_clients(dash_redis) == 1  # one reader for two sockets

    # Pausing live updates unsubscribes; the reader stays for the other socket.
    await first.send_to(text_data=json.dumps({"paused": "1", "state": "waiting"}))
    await wait_until(lambda: len(feed.subscribers) == 1)
    await collect(first, 0.3)
    await aqueue.add("second", {})
    await wait_for(second, lambda t: "second" in t)
    assert not texts(await collect(first, 0.5))

    # Resuming subscribes again and refreshes at once.
    await first.send_to(text_data=json.dumps({"state": "waiting"}))
    got = await wait_for(first, lambda t: "second" in t)
    assert 'id="tab-count-waiting" hx-swap-oob="true">2<' in "".join(got)
    assert len(feed.subscribers) == 2

    await first.disconnect()
    assert len(feed.subscribers) == 1
    await second.disconnect()
    assert registry.feeds == {}
    await wait_until(lambda: _xread_clients(dash_redis) == 0)


async def test_a_flush_in_flight_when_the_socket_leaves_leaves_no_connection_open(
    admin_session: str, aqueue: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The socket leaves while its flush waits on a read: the feed's queue must be closed
    after that read, not before it (a read on a closed redis-py pool opens a new connection
    that nothing closes; it surfaced as an "unclosed Connection" after the test's loop)."""
    comm = communicator(QUEUE_PATH, admin_session)
    assert (await comm.connect())[0]
    await wait_for(comm, lambda t: "tab-count-waiting" in t)
    feed = feeds.registry().feeds[("default", "emails")]
    reached, gate = asyncio.Event(), asyncio.Event()
    real_counts = services.counts

    async def held_counts(queue: Any) -> dict[str, int]:
        reached.set()
        await gate.wait()
        return await real_counts(queue)

    monkeypatch.setattr(services, "counts", held_counts)
    await aqueue.add("late", {})
    await asyncio.wait_for(reached.wait(), 30)  # a flush is reading now
    leaving = asyncio.create_task(comm.disconnect(timeout=30))
    # The socket has left: its feed is unsubscribed and stopping while the read waits.
    await wait_until(lambda f=feed: not feeds.registry().feeds and f.closed)
    gate.set()
    await leaving
    assert feed.closed
    await wait_until(lambda: not _flushes_running())  # the flush is over
    # Collected now, a connection of the stopped feed still open would warn here (an error
    # with warnings as errors) rather than after the test's event loop has closed.
    del feed
    gc.collect()
    await asyncio.sleep(0)


async def test_pausing_the_last_socket_stops_the_reader(admin_session: str) -> None:
    comm = communicator(QUEUE_PATH, admin_session)
    assert (await comm.connect())[0]
    assert feeds.registry().feeds
    await comm.send_to(text_data=json.dumps({"paused": "1"}))
    await wait_until(lambda: feeds.registry().feeds == {})
    await comm.disconnect()


async def test_changing_the_tab_sends_that_list(admin_session: str, aqueue: Any) -> None:
    jobs = [await aqueue.add("later", {}, delay=3_600_000) for _ in range(6)]
    job = jobs[-1]  # newest first: on page 1 of 2
    comm = communicator(QUEUE_PATH, admin_session)
    assert (await comm.connect())[0]
    await wait_for(comm, lambda t: "tab-count-delayed" in t)
    await comm.send_to(text_data=json.dumps({"state": "delayed", "page": "1", "size": "5"}))
    got = await wait_for(comm, lambda t: f'data-job-id="{job.id}"' in t)
    assert "?state=delayed&amp;page=2&amp;order=newest&amp;size=5" in "".join(got)
    await comm.disconnect()


async def _always_fail(job: Any) -> Any:
    raise RuntimeError("broken on purpose")


async def test_a_page_opened_on_a_tab_gets_that_tab_first(
    admin_session: str, aqueue: Any, dash_redis: str
) -> None:
    """Issue 13, fix 9: the page's socket (``view=page``) gets nothing until the page said
    which list it shows, so its first fragment is of that list: a page opened on
    ``?state=failed`` never shows "No waiting jobs." first."""
    failed = await aqueue.add("broken", {}, attempts=1)
    worker = Worker("emails", _always_fail, connection=dash_redis)
    task = asyncio.create_task(worker.run())
    async def failed_one() -> bool:
        return bool((await aqueue.get_job_counts("failed"))["failed"] >= 1)

    try:
        await wait_until(failed_one, what="the job failed")
    finally:
        await worker.close()
        await asyncio.wait_for(task, 10)
    await aqueue.add("queued", {})  # a waiting job too: the default tab is not empty
    comm = communicator(QUEUE_PATH + "?view=page", admin_session)
    assert (await comm.connect())[0]
    # Before the page's view: nothing, however many ticks pass (the old session sent the
    # waiting list here, within one tick). A socket opened after it without ``view=page``
    # gets the waiting list: that tick, or an earlier one, would have carried this one's.
    await wait_until(lambda: ("default", "emails") in feeds.registry().feeds)  # subscribed
    witness = communicator(QUEUE_PATH, admin_session)
    assert (await witness.connect())[0]
    await wait_for(witness, lambda t: "jobs-table" in t)
    await witness.disconnect()
    assert texts(await collect(comm, 0)) == []
    await comm.send_to(text_data=json.dumps({"state": "failed", "page": "1", "size": "5"}))
    got = await wait_for(comm, lambda t: "jobs-table" in t)
    first = got[0]
    assert f'data-job-id="{failed.id}"' in first
    assert "No waiting jobs." not in first
    assert "queued" not in first
    await comm.disconnect()


async def test_a_socket_under_a_root_path_links_under_it(
    admin_session: str, aqueue: Any, settings: Any
) -> None:
    job = await aqueue.add("rooted", {})
    settings.FORCE_SCRIPT_NAME = "/shop"
    comm = communicator(QUEUE_PATH + "?view=page", admin_session)
    assert (await comm.connect())[0]
    await comm.send_to(text_data=json.dumps({"state": "waiting"}))
    got = await wait_for(comm, lambda t: f'data-job-id="{job.id}"' in t)
    assert f'href="/shop/ops/tools/queues/default/q/emails/jobs/{job.id}/"' in "".join(got)
    await comm.disconnect()


# -- coalescing --


async def test_bursts_are_coalesced_and_counts_stay_exact(
    admin_session: str, aqueue: Any, settings: Any, live_settings: Any
) -> None:
    settings.QUEUE_DASHBOARD = {**live_settings, "LIVE_UPDATES_PER_SECOND": 4}
    comm = communicator(QUEUE_PATH, admin_session)
    assert (await comm.connect())[0]
    await wait_for(comm, lambda t: "tab-count-waiting" in t)
    await collect(comm, 0.3)

    started = time.monotonic()
    total = 0
    while total < 2000 or time.monotonic() - started < 2.0:
        await aqueue.add_bulk([{"name": "burst", "data": {"i": i}} for i in range(200)])
        total += 200
        await asyncio.sleep(0.01)
    # The last update carries the exact count, re-read from Redis.
    exact = f'id="tab-count-waiting" hx-swap-oob="true">{total}<'
    sent = await wait_for(comm, lambda t: exact in t)
    window = time.monotonic() - started
    # Coalesced: at most 4 a second over the time the updates took (one more for a tick that
    # straddles the window's edges), however slow the machine made that time.
    assert 1 <= len(sent) <= 4 * window + 1, (len(sent), window)
    await comm.disconnect()


async def test_the_rate_is_configurable(
    admin_session: str, aqueue: Any, settings: Any, live_settings: Any
) -> None:
    settings.QUEUE_DASHBOARD = {**live_settings, "LIVE_UPDATES_PER_SECOND": 1}
    comm = communicator(QUEUE_PATH, admin_session)
    assert (await comm.connect())[0]
    await wait_for(comm, lambda t: "tab-count-waiting" in t)
    await collect(comm, 0.3)
    started = time.monotonic()
    added = 0
    while added < 50 or time.monotonic() - started < 2.0:
        await aqueue.add("tick", {})
        added += 1
        await asyncio.sleep(0.02)
    sent = await wait_for(comm, lambda t: f'hx-swap-oob="true">{added}<' in t)
    window = time.monotonic() - started
    # One a second over the time the updates took (plus one for the window's edges).
    assert 1 <= len(sent) <= window + 1, (len(sent), window)
    await comm.disconnect()


# -- the job page and the overview --


async def _fail_then_log(job: Any) -> Any:
    await job.log("step <one>")
    await job.update_progress(40)
    await asyncio.sleep(0.3)
    await job.log("step two")
    await job.update_progress(80)
    await asyncio.sleep(0.3)
    raise RuntimeError("boom <b>bold</b>")


async def test_job_page_gets_state_progress_logs_and_a_failure_toast(
    admin_session: str, aqueue: Any, dash_redis: str
) -> None:
    job = await aqueue.add("risky", {}, attempts=1)
    comm = communicator(f"default/q/emails/jobs/{job.id}/", admin_session)
    assert (await comm.connect())[0]
    await comm.send_to(text_data=json.dumps({"logs_total": "0", "logs_tail": "1"}))
    await wait_for(comm, lambda t: 'id="job-state"' in t)

    worker = Worker("emails", _fail_then_log, connection=dash_redis)
    task = asyncio.create_task(worker.run())
    try:
        got = await wait_for(comm, lambda t: "qd-toast" in t)
    finally:
        await worker.close()
        await asyncio.wait_for(task, 10)
    text = "".join(got)
    assert ">active<" in text
    assert 'value="40"' in text or 'value="80"' in text
    assert "<li><code>step &lt;one&gt;</code></li>" in text
    assert "step two" in text
    assert 'hx-swap-oob="beforeend:#job-logs"' in text
    assert ">failed<" in text
    # Job data is untrusted: the failed reason arrives escaped.
    assert "boom &lt;b&gt;bold&lt;/b&gt;" in text
    assert "<b>bold</b>" not in text
    await comm.disconnect()


def _entries_added(url: str, queue: str) -> int:
    client = redis.Redis.from_url(url)
    try:
        return int(client.xinfo_stream(f"bull:{queue}:events")["entries-added"])
    finally:
        client.close()


async def test_job_page_gets_a_new_log_line_without_any_event(
    admin_session: str, aqueue: Any, dash_redis: str
) -> None:
    release = asyncio.Event()

    async def hold(job: Any) -> Any:
        await release.wait()
        return "done"

    job = await aqueue.add("held", {})
    comm = communicator(f"default/q/emails/jobs/{job.id}/", admin_session)
    assert (await comm.connect())[0]
    await comm.send_to(text_data=json.dumps({"logs_total": "0", "logs_tail": "1"}))
    await wait_for(comm, lambda t: 'id="job-state"' in t)
    worker = Worker("emails", hold, connection=dash_redis)
    task = asyncio.create_task(worker.run())
    try:
        await wait_for(comm, lambda t: ">active<" in t)
        feed = feeds.registry().feeds[("default", "emails")]
        # the render that saw "active" puts the job in the log watch
        await wait_until(lambda: job.id in feed.log_watch)
        await collect(comm, 0.6)
        before = _entries_added(dash_redis, "emails")
        await job.log("line <one> & more")
        got = await wait_for(comm, lambda t: "#job-logs" in t)
        assert _entries_added(dash_redis, "emails") == before  # no stream event carried it
        text = "".join(got)
        # Only the log part is sent, escaped (log lines are untrusted).
        assert "<li><code>line &lt;one&gt; &amp; more</code></li>" in text
        assert "<one>" not in text
        assert 'id="job-log-total" hx-swap-oob="true">(1)<' in text
        assert 'id="job-state"' not in text
        # A second line goes out once: the page is not sent lines it already holds.
        await job.log("line two")
        got = await wait_for(comm, lambda t: "line two" in t)
        assert "line &lt;one&gt;" not in "".join(got)
        assert not [t for t in texts(await collect(comm, 0.6)) if "#job-logs" in t]
        release.set()
        await wait_for(comm, lambda t: ">completed<" in t)
        # a job that is no longer active is no longer watched
        await wait_until(lambda: feed.log_watch == {})
    finally:
        release.set()
        await worker.close()
        await asyncio.wait_for(task, 10)
    await comm.disconnect()


async def test_a_queue_page_puts_nothing_in_the_log_watch(
    admin_session: str, aqueue: Any
) -> None:
    comm = communicator(QUEUE_PATH, admin_session)
    assert (await comm.connect())[0]
    await wait_for(comm, lambda t: "tab-count-waiting" in t)
    await aqueue.add("x", {})
    await wait_for(comm, lambda t: ">1<" in t)
    assert feeds.registry().feeds[("default", "emails")].log_watch == {}
    await comm.disconnect()


async def test_overview_shows_only_visible_queues(
    make_user: Callable[..., User], settings: Any, live_settings: Any, dash_redis: str
) -> None:
    settings.QUEUE_DASHBOARD = {
        **live_settings,
        "QUEUE_RULES": {"default:secret": {"view": ["nobody"]}},
    }
    emails = AsyncQueue("emails", dash_redis)
    secret = AsyncQueue("secret", dash_redis)
    await emails.add("a", {})
    await secret.add("b", {})
    _, cookie = await login(make_user, "view")
    comm = communicator("", cookie)
    assert (await comm.connect())[0]
    assert set(feeds.registry().feeds) == {("default", "emails"), ("other", "reports")}
    got = await wait_for(comm, lambda t: dom_id("default", "emails") in t)
    await emails.add("c", {})
    two = f'{dom_id("default", "emails")}-waiting" hx-swap-oob="true">2<'
    got += await wait_for(comm, lambda t: two in t)
    await secret.add("d", {})
    await emails.add("e", {})  # a sign that events after the secret add reach the page
    three = f'{dom_id("default", "emails")}-waiting" hx-swap-oob="true">3<'
    got += await wait_for(comm, lambda t: three in t)
    assert dom_id("default", "secret") not in "".join(got)
    await comm.disconnect()
    await emails.close()
    await secret.close()


# -- losing access --


async def test_losing_the_permission_closes_the_socket_on_the_next_message(
    make_user: Callable[..., User], live_settings: Any
) -> None:
    user, cookie = await login(make_user, "view")
    comm = communicator(QUEUE_PATH, cookie)
    assert (await comm.connect())[0]
    await database_sync_to_async(user.user_permissions.clear)()
    await comm.send_to(text_data=json.dumps({"state": "failed"}))
    assert await wait_closed(comm) == 4403
    assert feeds.registry().feeds == {}
    await comm.disconnect()  # and wait for the consumer: clearing the permission also sent
    # it a notice, whose access check (a database thread) must not outlive the test


async def test_a_notice_makes_the_socket_check_at_once(
    make_user: Callable[..., User], live_settings: Any
) -> None:
    user, cookie = await login(make_user, "view")
    comm = communicator(QUEUE_PATH, cookie)
    assert (await comm.connect())[0]
    await database_sync_to_async(lambda: User.objects.filter(pk=user.pk).update(is_staff=False))()
    await get_channel_layer().group_send(notify.user_group(user.pk), {"type": "access.changed"})
    assert await wait_closed(comm) == 4403
    await comm.disconnect()


@pytest.mark.parametrize("path", [QUEUE_PATH, ""])
async def test_ended_session_closes_the_socket_at_the_interval(
    path: str, make_user: Callable[..., User], settings: Any, live_settings: Any, aqueue: Any
) -> None:
    settings.QUEUE_DASHBOARD = {**live_settings, "LIVE_RECHECK_SECONDS": 1}
    await aqueue.add("a", {})
    _, cookie = await login(make_user, "view")
    comm = communicator(path, cookie)
    assert (await comm.connect())[0]
    # The overview watches two queues: the recheck loop must leave both feeds, not be
    # cancelled by its own teardown after the first one.
    assert len(feeds.registry().feeds) == (2 if path == "" else 1)
    await database_sync_to_async(lambda: Session.objects.all().delete())()
    assert await wait_closed(comm) == 4401
    assert feeds.registry().feeds == {}  # left before the close was sent
    await comm.disconnect()


async def test_action_notice_reaches_sockets_of_that_queue(admin_session: str) -> None:
    comm = communicator(QUEUE_PATH, admin_session)
    assert (await comm.connect())[0]
    await wait_for(comm, lambda t: "tab-count-waiting" in t)
    notify.queue_notice("default", "emails", "ada: Job <7> removed.")
    got = await wait_for(comm, lambda t: "qd-toast" in t)
    assert "ada: Job &lt;7&gt; removed." in "".join(got)
    await comm.disconnect()
