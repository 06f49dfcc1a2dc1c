"""The live dashboard under abuse, on a real daphne and the private redis-server: per-user
caps on sockets and messages (closed with 4409 and 4429), a flood of bad frames and
subscribe/unsubscribe messages that leaves another user's login, page and action working, a
client that stops reading (held, then sent the latest state; closed with 4408 once it reads
nothing at all), and 100 sockets held with every one served. No timing is asserted: every
wait is for a condition, with a deadline."""

from __future__ import annotations

import asyncio
import contextlib
import http.cookiejar
import json
import os
import re
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bench.live_abuse import hold, start_writers, stop_writers
from queuecore import Queue
from tests.dashboard.livesite import MOUNT, Daphne, LiveSite
from tests.dashboard.slowclient import Producer, unread_socket
from tests.dashboard.wsclient import Closed, WebSocket

pytestmark = pytest.mark.timeout(240)

LIVE = "/ws/queue-dashboard/"
WAITING = 'id="tab-count-waiting" hx-swap-oob="true">'


@pytest.fixture
def make_site(redis_url: str, tmp_path: Path) -> Iterator[Callable[..., tuple[LiveSite, Daphne]]]:
    sites: list[LiveSite] = []

    def make(**kwargs: Any) -> tuple[LiveSite, Daphne]:
        site = LiveSite(tmp_path / str(len(sites)), redis_url, **kwargs)
        sites.append(site)
        return site, site.start_daphne()

    (tmp_path / "0").mkdir()
    yield make
    for site in sites:
        site.close()


async def _open(daphne: Daphne, session: str, path: str = "default/q/emails/") -> WebSocket:
    return await WebSocket.connect(f"ws://127.0.0.1:{daphne.port}{LIVE}{path}",
                                   cookie=f"sessionid={session}", origin=daphne.url)


async def _until(ws: WebSocket, found: Callable[[str], bool], timeout: float = 60.0) -> str:
    async def scan() -> str:
        while True:
            text = await ws.recv()
            if found(text):
                return text

    return await asyncio.wait_for(scan(), timeout)


async def _close_code(ws: WebSocket, timeout: float = 60.0) -> int:
    """Read until the server closes the socket; its close code."""
    with pytest.raises(Closed) as closed:
        await _until(ws, lambda _: False, timeout)
    return closed.value.code


async def _served(ws: WebSocket, timeout: float = 30.0) -> int:
    """0 once the socket is sent its first counts, else the code it was closed with."""
    try:
        await _until(ws, lambda t: WAITING in t, timeout)
    except Closed as exc:
        return exc.code
    except (ConnectionError, asyncio.IncompleteReadError):
        return -1  # closed, then reset before the close frame was read
    return 0


async def _end_code(ws: WebSocket, timeout: float = 60.0) -> int:
    """Read until the connection ends: the close code, or -1 when it was dropped."""
    try:
        await _until(ws, lambda _: False, timeout)
    except Closed as exc:
        return exc.code
    except (ConnectionError, asyncio.IncompleteReadError):
        return -1
    return 0


def _wait_log(daphne: Daphne, needle: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while needle not in daphne.log():
        assert time.monotonic() < deadline, f"{needle!r} not in daphne's log: {daphne.log()}"
        time.sleep(0.1)


# -- caps ---------------------------------------------------------------------------------


def test_socket_and_message_caps_close_with_their_codes(
    make_site: Callable[..., tuple[LiveSite, Daphne]], redis_url: str
) -> None:
    site, daphne = make_site(settings={"LIVE_SOCKETS_PER_USER": 3,
                                       "LIVE_MESSAGES_PER_SECOND": 2,
                                       "LIVE_MESSAGE_BURST": 20})
    capped = site.make_sessions("capped")[0]
    queue = Queue("emails", connection=redis_url)
    queue.add("one", {})

    async def scenario() -> None:
        held = [await _open(daphne, capped) for _ in range(3)]
        other = await _open(daphne, site.session)
        try:
            for ws in (*held, other):
                await _until(ws, lambda t: WAITING + "1<" in t)
            # A fourth socket of the same user: accepted, then closed with 4409.
            fourth = await _open(daphne, capped)
            assert await _close_code(fourth) == 4409
            await fourth.close()
            # A socket closed frees its place (the server learns of it in the background).
            await held.pop().close()
            for _ in range(100):
                extra = await _open(daphne, capped)
                code = await _served(extra)
                if not code:
                    held.append(extra)
                    break
                await extra.close()
                assert code == 4409
                await asyncio.sleep(0.1)
            else:
                pytest.fail("the freed place was never given again")
            # Over the message budget (a burst of 20, 2 a second): closed with 4429.
            flooding = held.pop()
            for n in range(60):
                with contextlib.suppress(ConnectionError):
                    await flooding.send(json.dumps({"state": "waiting", "paused": str(n % 2)}))
            assert await _close_code(flooding) == 4429
            await flooding.close()
            # The other user's socket goes on: a new job still shows.
            await asyncio.to_thread(queue.add, "two", {})
            await _until(other, lambda t: WAITING + "2<" in t)
        finally:
            for ws in (*held, other):
                await ws.close()

    try:
        asyncio.run(scenario())
    finally:
        queue.close()


# -- a flood, and another user's login, page and action --------------------------------------


def _login(daphne: Daphne, username: str, password: str) -> urllib.request.OpenerDirector:
    """Sign in through the admin's login form; an opener holding the session."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    login = daphne.url + "/ops/admin/login/"
    html = opener.open(login, timeout=60).read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    assert token, html[:500]
    body = urllib.parse.urlencode({"csrfmiddlewaretoken": token.group(1), "username": username,
                                   "password": password, "next": MOUNT}).encode()
    request = urllib.request.Request(login, data=body, method="POST",
                                     headers={"Referer": login})
    with opener.open(request, timeout=60) as response:
        assert response.status == 200
        assert response.url.endswith(MOUNT), response.url  # redirected to the dashboard
    assert any(c.name == "sessionid" for c in jar)
    return opener


def _post_action(daphne: Daphne, opener: urllib.request.OpenerDirector, page: str,
                 action: str) -> int:
    html = opener.open(daphne.url + page, timeout=60).read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    assert token, html[:500]
    body = urllib.parse.urlencode({"csrfmiddlewaretoken": token.group(1)}).encode()
    request = urllib.request.Request(daphne.url + action, data=body, method="POST",
                                     headers={"Referer": daphne.url + page})
    with opener.open(request, timeout=60) as response:
        return int(response.status)


async def _flood_once(daphne: Daphne, session: str, codes: list[int]) -> None:
    """One round of abuse from one user: sockets past the cap, frames over the size limits,
    malformed, binary and unknown frames, and pause/unpause (unsubscribe/subscribe) as fast
    as it can, until the server has closed every socket."""
    opened: list[WebSocket] = []
    try:
        for _ in range(25):  # 5 past the default cap
            opened.append(await _open(daphne, session))
        await _abuse(opened, codes)
    finally:
        for ws in opened:
            await ws.close()


async def _abuse(opened: list[WebSocket], codes: list[int]) -> None:
    # Those the server closed at once (over the cap, or over the rate at the handshake) are
    # read before anything is written to them: a write to a closed connection resets it.
    # All at once: the server drops a closed connection whose client does not answer the
    # close within a second or so, and a reset loses the close frame not yet read.
    sockets = []
    for ws, code in zip(opened, await asyncio.gather(*(_served(ws) for ws in opened)),
                        strict=True):
        if code:
            codes.append(code)
        else:
            sockets.append(ws)
    junk = ["{not json", "[1, 2]", '"text"', "x" * 100_000,
            json.dumps({"type": "subscribe", "queue": "../../etc"})]
    for n, ws in enumerate(sockets):
        with contextlib.suppress(ConnectionError):
            if n == 0:
                await ws.send("y" * (2 * 1024 * 1024))  # over daphne's 1 MiB: 1009
            elif n % 3 == 0:
                await ws._send_frame(0x2, os.urandom(1000))  # binary
            await ws.send(junk[n % len(junk)])
            for k in range(60):
                await ws.send(json.dumps({"paused": str(k % 2), "state": "failed"}))

    async def code(ws: WebSocket) -> int:
        try:
            return await _close_code(ws)
        except (ConnectionError, asyncio.IncompleteReadError):
            return -1
        except TimeoutError:
            return 0  # left open: the test's assertions name it

    codes.extend(await asyncio.gather(*(code(ws) for ws in sockets)))


def test_a_flood_from_one_user_leaves_others_login_page_and_action_working(
    make_site: Callable[..., tuple[LiveSite, Daphne]], redis_url: str
) -> None:
    site, daphne = make_site()
    flooder = site.make_sessions("flooder")[0]
    queue = Queue("emails", connection=redis_url)
    job = queue.add("victim", {"n": 1})
    job_page = f"{MOUNT}default/q/emails/jobs/{job.id}/"
    codes: list[int] = []
    stop = threading.Event()
    rounds = 0

    def flood() -> None:
        nonlocal rounds
        while not stop.is_set():
            asyncio.run(_flood_once(daphne, flooder, codes))
            rounds += 1

    async def watch(ws: WebSocket) -> str:
        return await _until(ws, lambda t: "qd-toast" in t and "removed" in t, timeout=120)

    flooding = threading.Thread(target=flood)
    flooding.start()
    try:
        deadline = time.monotonic() + 120
        while not codes and time.monotonic() < deadline:  # the flood is under way
            time.sleep(0.05)
        assert codes, "the flood never got an answer"
        opener = _login(daphne, "admin", "pw")
        with opener.open(daphne.url + MOUNT + "default/q/emails/", timeout=60) as page:
            assert page.status == 200
            assert "victim" in page.read().decode()

        async def act() -> None:
            ws = await _open(daphne, site.session, f"default/q/emails/jobs/{job.id}/")
            try:
                await _until(ws, lambda t: "hx-swap-oob" in t)
                toast = asyncio.create_task(watch(ws))
                status = await asyncio.to_thread(_post_action, daphne, opener, job_page,
                                                 job_page + "remove/")
                assert status == 200
                assert f"Job {job.id} removed" in await toast
            finally:
                await ws.close()

        asyncio.run(act())
        assert queue.get_job(job.id) is None
    finally:
        stop.set()
        flooding.join(120)
        queue.close()
    assert daphne.proc.poll() is None
    assert rounds >= 1
    # Every socket of the flood was closed by a cap or a limit: the socket cap, the message
    # rate, daphne's own frame limit (1009); none was left open, none crashed the server.
    assert set(codes) <= {4409, 4429, 1009, -1}, (codes, daphne.log())
    assert {4409, 4429} <= set(codes)
    assert 1011 not in codes


# -- a client that stops reading ---------------------------------------------------------------


def test_a_slow_reader_is_held_then_sent_the_latest_state(
    make_site: Callable[..., tuple[LiveSite, Daphne]], redis_url: str
) -> None:
    site, daphne = make_site(page_size=100, log_level="DEBUG",
                             settings={"MAX_PAGE_SIZE": 100, "LIVE_STALLED_SECONDS": 3600})
    path = "default/q/big/"

    async def scenario() -> None:
        reading = await _open(daphne, site.session, path)
        slow = await unread_socket(daphne, site.session, path)
        frames = [0]
        target = [float("inf")]
        enough = asyncio.Event()

        async def read() -> None:
            while True:
                await reading.recv()
                frames[0] += 1
                if frames[0] >= target[0]:
                    enough.set()

        async def keep_sending() -> None:
            # A client that sends but never reads: daphne then never pings it (its keepalive
            # would drop a silent one), so only the write buffer tells that it is stuck.
            while True:
                await slow.send(json.dumps({"state": "waiting"}))
                await asyncio.sleep(5)

        reader = asyncio.create_task(read())
        sender = asyncio.create_task(keep_sending())
        producer = Producer(redis_url, "big")
        try:
            # The slow client's kernel buffers fill, then daphne's write buffer: held.
            await asyncio.to_thread(_wait_log, daphne, "write buffer full, holding", 120)
            target[0] = frames[0] + 30  # 30 more updates, which the slow one is not sent
            await asyncio.wait_for(enough.wait(), 120)
        finally:
            final = await asyncio.to_thread(producer.close)
        # Reading again, the slow client gets what was buffered, then the latest state.
        slow_frames = 0

        async def catch_up() -> None:
            nonlocal slow_frames
            while True:
                text = await slow.recv()
                slow_frames += 1
                if f"{WAITING}{final}<" in text:
                    return

        await asyncio.wait_for(catch_up(), 120)
        for task in (reader, sender):
            task.cancel()
        await asyncio.gather(reader, sender, return_exceptions=True)
        await reading.close()
        await slow.close()
        # It was sent fewer updates than the reading client: those in the buffers when it
        # was held, and the latest state (the reading one had 30 more meanwhile).
        assert slow_frames < frames[0], (slow_frames, frames[0])
        assert "write buffer drained" in daphne.log()

    asyncio.run(scenario())


def test_a_client_that_reads_nothing_is_closed_and_frees_its_place(
    make_site: Callable[..., tuple[LiveSite, Daphne]], redis_url: str
) -> None:
    site, daphne = make_site(page_size=100, log_level="INFO",
                             settings={"MAX_PAGE_SIZE": 100, "LIVE_STALLED_SECONDS": 2,
                                       "LIVE_SOCKETS_PER_USER": 1})
    stuck = site.make_sessions("stuck")[0]

    async def scenario() -> None:
        slow = await unread_socket(daphne, stuck, "default/q/big/")

        async def keep_sending() -> None:  # (no ping from daphne, see the test above)
            with contextlib.suppress(ConnectionError):
                while True:
                    await slow.send(json.dumps({"state": "waiting"}))
                    await asyncio.sleep(1)

        sender = asyncio.create_task(keep_sending())
        producer = Producer(redis_url, "big")
        try:
            await asyncio.to_thread(_wait_log, daphne, "read nothing for 2 s", 180)
        finally:
            producer.close()
            sender.cancel()
            await asyncio.gather(sender, return_exceptions=True)
        # Its one place is free again: the same user's next socket is served.
        for _ in range(100):
            ws = await _open(daphne, stuck, "default/q/big/")
            code = await _served(ws)
            await ws.close()
            if not code:
                break
            assert code == 4409
            await asyncio.sleep(0.2)
        else:
            pytest.fail("the stuck socket's place was never freed")
        # What the stuck client finds when it reads at last: the frames that were buffered,
        # then the end of the connection (the close frame, 4408, if it could still be sent).
        assert await _end_code(slow) in (4408, -1)
        await slow.close()

    asyncio.run(scenario())


# -- many sockets ---------------------------------------------------------------------------


def test_a_hundred_sockets_are_all_served_and_the_caps_hold(
    make_site: Callable[..., tuple[LiveSite, Daphne]], redis_url: str
) -> None:
    """The short version of bench/live_abuse.py: correctness only, no figure is asserted."""
    site, daphne = make_site(page_size=25, settings={"LIVE_STALLED_SECONDS": 5})
    sessions = site.make_sessions("holder", 5)
    flooder = site.make_sessions("flooder")[0]
    writers, stop = start_writers(redis_url, 50)
    try:
        result = asyncio.run(hold(daphne.port, daphne.url, sessions, flooder, sockets=100,
                                  seconds=20, slow=2, every=2, pid=daphne.proc.pid,
                                  flood_every=10))
    finally:
        stop_writers(writers, stop)
    reading = [c for c in result.clients if not c.slow]
    assert len(reading) == 98
    unserved = [(n, c.path, c.closed) for n, c in enumerate(result.clients)
                if not c.slow and not c.frames]
    assert not unserved, f"sockets never sent anything: {unserved}"
    assert all(c.closed is None for c in reading), [c.closed for c in reading if c.closed]
    assert result.over_cap == [4409]
    assert result.floods and set(result.floods) == {4429}
    assert daphne.proc.poll() is None
