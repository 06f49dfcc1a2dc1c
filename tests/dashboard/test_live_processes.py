"""Two daphne processes on free ports, sharing the private Redis and a channels_redis layer.

Each process runs its own stream reader (events reach the sockets of both), and what the
streams do not carry travels through the channel layer: an action done through one process
shows as a toast on a socket of the other, and a logout through one closes the user's
socket on the other."""

from __future__ import annotations

import asyncio
import http.cookiejar
import re
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from queuecore import Queue
from tests.dashboard.livesite import MOUNT, Daphne, LiveSite
from tests.dashboard.wsclient import Closed, WebSocket

pytestmark = pytest.mark.timeout(120)

LIVE = "/ws/queue-dashboard/"


@pytest.fixture
def two(redis_url: str, tmp_path: Path) -> Iterator[tuple[LiveSite, Daphne, Daphne]]:
    channel_redis = redis_url.rsplit("/", 1)[0] + "/3"
    site = LiveSite(tmp_path, redis_url, channel_redis=channel_redis)
    try:
        yield site, site.start_daphne(), site.start_daphne()
    finally:
        site.close()


async def _socket(site: LiveSite, daphne: Daphne, path: str) -> WebSocket:
    return await WebSocket.connect(
        f"ws://127.0.0.1:{daphne.port}{LIVE}{path}",
        cookie=f"sessionid={site.session}",
        origin=daphne.url,
    )


async def _until(ws: WebSocket, needle: str, timeout: float = 30.0) -> str:
    async def scan() -> str:
        while True:
            text = await ws.recv()
            if needle in text:
                return text

    return await asyncio.wait_for(scan(), timeout)


def _post(daphne: Daphne, site: LiveSite, page: str, action: str) -> int:
    """GET ``page`` for the CSRF token, then POST to ``action`` as the logged-in superuser."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    opener.addheaders = [("Cookie", f"sessionid={site.session}")]
    html = opener.open(daphne.url + page).read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    assert token, html[:500]
    csrf = next(c.value for c in jar if c.name == "csrftoken")
    body = urllib.parse.urlencode({"csrfmiddlewaretoken": token.group(1)}).encode()
    request = urllib.request.Request(daphne.url + action, data=body, method="POST")
    request.add_header("Cookie", f"sessionid={site.session}; csrftoken={csrf}")
    with opener.open(request) as response:
        return int(response.status)


def _xread_clients(url: str) -> int:
    client = redis.Redis.from_url(url)
    try:
        return sum(1 for c in client.client_list() if c.get("cmd") == "xread")
    finally:
        client.close()


def test_events_and_actions_reach_sockets_on_both_processes(
    two: tuple[LiveSite, Daphne, Daphne], redis_url: str
) -> None:
    site, a, b = two
    queue = Queue("emails", connection=redis_url)
    job = queue.add("doomed", {"n": 1})
    job_page = f"{MOUNT}default/q/emails/jobs/{job.id}/"

    async def scenario() -> None:
        on_a = await _socket(site, a, "default/q/emails/")
        on_b = await _socket(site, b, "default/q/emails/")
        job_on_b = await _socket(site, b, f"default/q/emails/jobs/{job.id}/")
        try:
            for ws in (on_a, on_b):
                await _until(ws, 'id="tab-count-waiting" hx-swap-oob="true">1<')
            # An event: each process reads the stream itself (one reader per process).
            await asyncio.to_thread(queue.add, "fresh", {})
            for ws in (on_a, on_b):
                await _until(ws, 'id="tab-count-waiting" hx-swap-oob="true">2<')
            assert await asyncio.to_thread(_xread_clients, redis_url) == 2

            # An action through process A: the toast reaches the socket on B.
            status = await asyncio.to_thread(_post, a, site, job_page, job_page + "remove/")
            assert status == 200
            toast = await _until(on_b, "qd-toast")
            assert f"admin: Job {job.id} removed." in toast
            await _until(job_on_b, ">removed<")

            # A logout through process A closes the user's sockets on B (session ended).
            status = await asyncio.to_thread(_post, a, site, "/ops/admin/", "/ops/admin/logout/")
            assert status == 200
            with pytest.raises(Closed) as closed:
                await _until(on_b, "never", timeout=40)  # slow when the machine is loaded
            assert closed.value.code == 4401
        finally:
            for ws in (on_a, on_b, job_on_b):
                await ws.close()

    try:
        asyncio.run(scenario())
    finally:
        queue.close()


def test_a_foreign_origin_or_no_session_is_refused_by_daphne(
    two: tuple[LiveSite, Daphne, Daphne],
) -> None:
    site, a, _ = two
    url = f"ws://127.0.0.1:{a.port}{LIVE}default/q/emails/"

    async def scenario() -> None:
        with pytest.raises(ConnectionRefusedError):
            await WebSocket.connect(url, cookie=f"sessionid={site.session}",
                                    origin="http://evil.example")
        with pytest.raises(ConnectionRefusedError):
            await WebSocket.connect(url, origin=a.url)

    asyncio.run(scenario())
