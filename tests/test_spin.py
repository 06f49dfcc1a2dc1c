"""Lone calls read their reply by polling the socket for a moment (transport/spin.py): the
replies are the same, other tasks still run between sequential calls, slow replies make the
polling rest, and a connection that ends during the poll fails the call as before."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import redis
from hiredis import pack_command

from queuecore import AsyncQueue
from queuecore.transport import spin
from queuecore.transport.autopipeline import AutoPipeline
from queuecore.transport.spin import ReplySpinner
from tests.tcp_proxy import TcpProxy
from tests.test_direct_connection import proxy  # noqa: F401 - the fixture

# a script that keeps Redis busy for a few ms (longer than the poll window set below)
SLOW = ("EVAL", "local i = 0 while i < 2000000 do i = i + 1 end return i", 0)


def _auto(q: AsyncQueue) -> AutoPipeline:
    auto = q._runner._auto
    assert isinstance(auto, AutoPipeline)
    return auto


def _spinner(q: AsyncQueue) -> ReplySpinner:
    session = _auto(q)._session
    assert session is not None and session._spinner is not None
    return session._spinner


@pytest.fixture
async def aq(redis_url: str) -> AsyncIterator[AsyncQueue]:
    q = AsyncQueue("spin", redis_url, socket_timeout=None)
    await q.add("warm", {})  # the held connection exists from here
    yield q
    await q.close()


async def test_sequential_calls_are_answered_by_polling_and_other_tasks_still_run(
        aq: AsyncQueue, monkeypatch: pytest.MonkeyPatch) -> None:
    # A window a busy machine cannot miss: the point is the path, not its speed.
    monkeypatch.setattr(spin, "WINDOW_NS", 2_000_000_000)
    ticks = 0
    stop = False

    async def ticker() -> None:
        nonlocal ticks
        while not stop:
            ticks += 1
            await asyncio.sleep(0)

    task = asyncio.ensure_future(ticker())
    auto = _auto(aq)
    for i in range(200):
        assert await auto.call(pack_command(("SET", f"spin:{i}", str(i)))) == "OK"
    jobs = [await aq.add("one", {"i": i}) for i in range(50)]
    stop = True
    await task
    assert [j.id for j in jobs] == [str(i) for i in range(2, 52)]
    assert await auto.call(pack_command(("MGET", "spin:0", "spin:199"))) == ["0", "199"]
    assert _spinner(aq).hits >= 250  # every one of them was read by the poll
    assert ticks >= 250  # and the ticker ran between them: the caller yields each time


async def test_replies_slower_than_the_window_make_the_polling_rest(
        aq: AsyncQueue, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(spin, "WINDOW_NS", 1)  # every poll misses
    auto = _auto(aq)
    spinner = _spinner(aq)
    for _ in range(-(-spin.MISSES // 2)):  # a miss counts 2
        assert await auto.call(pack_command(SLOW)) == 2000000
    assert spinner._rest == spin.REST  # resting: the next calls are left to the loop
    assert await auto.call(pack_command(("PING",))) == "PONG"
    assert spinner._rest == spin.REST - 1


async def test_every_other_poll_missing_makes_the_polling_rest(
        aq: AsyncQueue, monkeypatch: pytest.MonkeyPatch) -> None:
    # The pattern of a machine where the poll holds a core Redis needs: miss, hit, miss, ...
    # (a hit taking one off does not keep up with a miss counting two). A window of 2 ms:
    # the slow script always misses it; a PING that misses too only makes the rest sooner.
    monkeypatch.setattr(spin, "WINDOW_NS", 2_000_000)
    auto = _auto(aq)
    spinner = _spinner(aq)
    rested = False
    for _ in range(spin.MISSES):
        assert await auto.call(pack_command(SLOW)) == 2000000
        rested = rested or spinner._rest > 0
        assert await auto.call(pack_command(("PING",))) == "PONG"
        rested = rested or spinner._rest > 0
    assert rested


async def test_a_reply_cut_during_the_poll_fails_the_call_and_the_next_reconnects(
        proxy: TcpProxy, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    monkeypatch.setattr(spin, "WINDOW_NS", 2_000_000_000)
    q = AsyncQueue("spin", f"redis://127.0.0.1:{proxy.port}", socket_timeout=None)
    try:
        await q.add("warm", {})
        auto = _auto(q)
        session = auto._session
        assert session is not None and session._spinner is not None
        proxy.drop_next_reply.set()  # the proxy cuts the socket instead of the reply
        with pytest.raises(redis.ConnectionError):
            await auto.call(pack_command(("PING",)))
        assert session.broken
        assert (await q.add("after", {})).name == "after"
        assert auto._session is not session
    finally:
        await q.close()
