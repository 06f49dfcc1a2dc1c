"""The worker's auto-pipelined connection (autopipeline.AutoPipeline): calls made in one loop turn
go out in one write, replies reach the right callers, a call cancelled before the write is
never sent, and a dropped connection fails the calls in flight without sending them again."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest
import redis

from queuecore import AsyncQueue, RedisConnectionError, RedisTimeoutError
from queuecore.transport.autopipeline import AutoPipeline
from tests.tcp_proxy import TcpProxy
from tests.test_direct_connection import proxy  # noqa: F401 - the fixture
from tests.waiting import wait_until

K = "bull:auto:"


def _count_writes(q: AsyncQueue) -> list[int]:
    auto = q._runner._auto
    assert isinstance(auto, AutoPipeline)
    session = auto._session
    assert session is not None
    writes: list[int] = []
    real = session._write

    def counting(data: bytes) -> None:
        writes.append(bytes(data).count(b"EVALSHA"))
        real(data)

    setattr(session, "_write", counting)  # noqa: B010 - the instance's, not the class's
    return writes


async def _queue(url: str) -> AsyncQueue:
    q = AsyncQueue("auto", url, socket_timeout=None)
    q._runner.enable_autopipeline()
    assert isinstance(q._runner._auto, AutoPipeline)
    await q.add("warm", {"i": -1})  # the held connection exists from here
    return q


@pytest.fixture
async def aq(redis_url: str) -> AsyncIterator[AsyncQueue]:
    q = await _queue(redis_url)
    yield q
    await q.close()


async def test_calls_of_one_turn_share_a_write_and_get_their_own_replies(
        aq: AsyncQueue, r: redis.Redis) -> None:
    writes = _count_writes(aq)
    jobs = await asyncio.gather(*(aq.add("n", {"i": i}) for i in range(50)))
    # The first call finds the connection idle and goes at once; the other 49 together.
    assert sum(writes) == 50
    assert len(writes) <= 2
    for i, job in enumerate(jobs):
        assert json.loads(r.hget(K + job.id, "data") or "") == {"i": i}
    assert len({job.id for job in jobs}) == 50


async def test_a_call_cancelled_before_its_write_is_never_sent(aq: AsyncQueue,
                                                               r: redis.Redis) -> None:
    tasks = [asyncio.ensure_future(aq.add("n", {}, job_id=f"j{i}")) for i in range(6)]
    await asyncio.sleep(0)  # every call is queued; the turn's write has not happened yet
    tasks[3].cancel()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert isinstance(results[3], asyncio.CancelledError)
    assert [j.id for j in results if not isinstance(j, BaseException)] == \
        ["j0", "j1", "j2", "j4", "j5"]
    assert r.exists(K + "j3") == 0
    assert sorted(r.lrange(K + "wait", 0, -1)) == ["1", "j0", "j1", "j2", "j4", "j5"]


async def test_dropped_connection_fails_calls_in_flight_once_then_recovers(
        proxy: TcpProxy, r: redis.Redis) -> None:  # noqa: F811
    q = await _queue(f"redis://127.0.0.1:{proxy.port}/0")
    try:
        proxy.drop_next_reply.set()
        results = await asyncio.gather(*(q.add("n", {}, job_id=f"j{i}") for i in range(10)),
                                       return_exceptions=True)
        assert proxy.dropped.is_set()
        assert all(isinstance(e, RedisConnectionError) for e in results), results
        assert all("may or may not have run" in str(e) for e in results)
        # Sent once: Redis ran each add it received, and nothing was sent again. j0's reply
        # was the one dropped, so j0 ran; the others ran if their write beat the cut.
        ids = r.lrange(K + "wait", 0, -1)
        assert len(ids) == len(set(ids))
        assert "j0" in ids and set(ids) <= {"1"} | {f"j{i}" for i in range(10)}
        job = await q.add("after", {})  # a fresh connection
        # The id counter counts every add that ran: none ran unseen or twice.
        assert job.id == str(len(ids) + 1)
    finally:
        await q.close()


async def test_close_then_reuse_goes_through_the_pool(redis_url: str, r: redis.Redis) -> None:
    q = await _queue(redis_url)
    await q.close()
    assert q._runner._auto is None
    assert (await q.add("again", {})).id == "2"
    await q.close()


async def test_with_a_socket_timeout_calls_left_without_a_reply_time_out(
        redis_url: str, r: redis.Redis) -> None:
    q = AsyncQueue("auto", redis_url, socket_timeout=0.3)
    q._runner.enable_autopipeline()
    assert isinstance(q._runner._auto, AutoPipeline)
    try:
        assert (await q.add("n", {})).id == "1"
        await asyncio.sleep(0.6)  # idle for longer than the timeout: nothing was in flight
        assert (await q.add("n", {})).id == "2"
        r.execute_command("CLIENT", "PAUSE", 1500, "ALL")  # no reply for 1.5 s
        with pytest.raises(RedisTimeoutError, match="may or may not have run"):
            await q.add("n", {})
        # The paused add runs when the pause ends; the next call takes a fresh connection.
        await wait_until(lambda: r.llen(K + "wait") == 3)
        assert (await q.add("n", {})).id == "4"
    finally:
        await q.close()


async def test_close_fails_calls_not_yet_answered_instead_of_leaving_them_waiting(
        redis_url: str, r: redis.Redis) -> None:
    q = await _queue(redis_url)
    tasks = [asyncio.ensure_future(q.add("n", {}, job_id=f"j{i}")) for i in range(5)]
    await asyncio.sleep(0)  # the first is written, the others wait for the turn's write
    await q._runner.close()
    results = await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 5)
    assert all(isinstance(res, RedisConnectionError) for res in results[1:]), results
    assert r.exists(*(K + f"j{i}" for i in range(1, 5))) == 0  # never sent


async def test_a_flushed_script_is_loaded_again_and_the_call_runs_once(
        aq: AsyncQueue, r: redis.Redis) -> None:
    r.script_flush()
    jobs = await asyncio.gather(*(aq.add("after-flush", {"i": i}) for i in range(5)))
    assert sorted(int(j.id) for j in jobs) == sorted({int(j.id) for j in jobs})
    assert r.llen(K + "wait") == 6  # the warm-up job and these five: none added twice


async def test_a_connection_dropped_while_idle_is_replaced_before_the_next_call(
        aq: AsyncQueue, r: redis.Redis) -> None:
    session = aq._runner._auto._session  # type: ignore[union-attr]
    assert session is not None
    host, port = session.conn._writer.get_extra_info("sockname")[:2]
    assert r.client_kill_filter(addr=f"{host}:{port}") == 1  # this session's connection only
    # the session's reader sees the close by itself, with no call out
    await wait_until(lambda: session.broken)
    job = await aq.add("after-kill", {})  # no error: a fresh connection
    assert job.id == "2"
    assert aq._runner._auto._session is not session  # type: ignore[union-attr]


async def test_the_session_reads_replies_as_the_connections_protocol_across_idle_periods(
        aq: AsyncQueue) -> None:
    session = aq._runner._auto._session  # type: ignore[union-attr]
    assert session is not None
    transport = session.conn._writer.transport
    tasks = len(asyncio.all_tasks())
    for i in range(5):
        await aq.add("n", {"i": i})
        await asyncio.sleep(0.01)
        # no reader task, no task per call: the replies come through the protocol
        assert len(asyncio.all_tasks()) == tasks
    assert transport.get_protocol() is session and not session.broken
    assert aq._runner._auto._session is session  # type: ignore[union-attr]


async def test_a_close_cancelled_while_disconnecting_gives_the_connection_back(
        redis_url: str) -> None:
    """The close is cancelled while redis-py's disconnect waits for the transport to close:
    the held connection goes back to the pool anyway (a pool with max_connections would
    otherwise be one short for good after each such close)."""
    q = await _queue(redis_url)
    try:
        pool = q._runner.client.connection_pool
        auto = q._runner._auto
        assert isinstance(auto, AutoPipeline) and auto._session is not None
        conn = auto._session.conn
        assert conn in pool._in_use_connections
        closing = asyncio.ensure_future(auto.close())
        await asyncio.sleep(0)  # it runs up to the disconnect's wait for the stream
        assert not closing.done()
        closing.cancel()
        with pytest.raises(asyncio.CancelledError):
            await closing
        assert conn not in pool._in_use_connections
        assert conn in pool._available_connections
    finally:
        await q.close()
