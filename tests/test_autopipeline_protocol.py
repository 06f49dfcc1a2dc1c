"""The auto-pipelined connection as its transport's protocol (transport/pipesession.py):
error replies keep redis-py's classes, a reply no call waits for ends the session, data left
unread at the take-over is read first, and TLS connections are taken over the same way."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from hiredis import pack_command
from redis.exceptions import NoScriptError, ResponseError

from queuecore import AsyncQueue
from queuecore.transport.autopipeline import AutoPipeline
from queuecore.transport.pipesession import PipelineSession
from tests.reliability.servers import TLSRedisProcess, make_certs
from tests.waiting import wait_until


async def _queue(url: str) -> AsyncQueue:
    q = AsyncQueue("proto", url, socket_timeout=None)
    await q.add("warm", {})  # the held connection exists from here
    return q


def _auto(q: AsyncQueue) -> AutoPipeline:
    auto = q._runner._auto
    assert isinstance(auto, AutoPipeline)
    return auto


def _session(q: AsyncQueue) -> PipelineSession:
    session = _auto(q)._session
    assert session is not None
    return session


@pytest.fixture
async def aq(redis_url: str) -> AsyncIterator[AsyncQueue]:
    q = await _queue(redis_url)
    yield q
    await q.close()


async def test_replies_and_error_replies_of_one_write_reach_their_callers_as_redis_py_would(
        aq: AsyncQueue) -> None:
    auto = _auto(aq)
    commands: list[tuple[Any, ...]] = [
        ("SET", "proto:s", "v"), ("HGET", "proto:s", "f"), ("GET", "proto:s"),
        ("EVALSHA", "0" * 40, 0), ("INCR", "proto:n"), ("LRANGE", "proto:missing", 0, -1)]
    results = await asyncio.gather(*(auto.call(pack_command(c)) for c in commands),
                                   return_exceptions=True)
    assert results[0] == "OK" and results[2] == "v" and results[4] == 1 and results[5] == []
    assert type(results[1]) is ResponseError and "WRONGTYPE" in str(results[1])
    assert type(results[3]) is NoScriptError
    assert not _session(aq).broken  # error replies are replies: the session goes on


async def test_a_reply_no_call_waits_for_ends_the_session_and_the_next_call_gets_a_new_one(
        aq: AsyncQueue) -> None:
    session = _session(aq)
    session._transport.write(pack_command(("PING",)))  # behind the session's back
    await wait_until(lambda: session.broken)
    assert session._transport.is_closing()
    assert (await aq.add("after", {})).id == "2"
    assert _session(aq) is not session


async def test_data_left_unread_at_the_take_over_is_read_first(redis_url: str) -> None:
    q = await _queue(redis_url)
    try:
        pool = q._runner.client.connection_pool
        conn = await pool.get_connection()
        await conn.send_command("PING")
        await wait_until(lambda: conn._reader._buffer)  # the reply waits in the stream
        session = PipelineSession(conn)
        # a reply with no call for it: out of step, so the connection is not used
        assert session.broken and session._transport.is_closing()
        await asyncio.wait_for(session.close(pool), 10)  # redis-py's disconnect returns
        assert conn._reader is None
    finally:
        await q.close()


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TLSRedisProcess]:
    server = TLSRedisProcess(make_certs(tmp_path_factory.mktemp("certs")))
    try:
        yield server.start()
    finally:
        server.close()


async def test_over_tls_large_pipelined_calls_and_a_dropped_connection(
        tls_server: TLSRedisProcess) -> None:
    url = (f"rediss://127.0.0.1:{tls_server.port}/0?ssl_ca_certs={tls_server.certs.ca}"
           "&ssl_cert_reqs=required")
    q = await _queue(url)
    admin = tls_server.admin()
    try:
        session = _session(q)
        assert session._transport.get_protocol() is session  # taken over, TLS and all
        pad = "x" * 20_000  # writes and replies span several TLS records
        jobs = await asyncio.gather(*(q.add("big", {"i": i, "pad": pad}) for i in range(100)))
        assert [json.loads(admin.hget(f"bull:proto:{j.id}", "data") or "")["i"]
                for j in jobs] == list(range(100))
        host, port = session.conn._writer.get_extra_info("sockname")[:2]
        assert admin.client_kill_filter(addr=f"{host}:{port}") == 1
        await wait_until(lambda: session.broken)
        assert (await q.add("after", {})).id == "102"  # a fresh connection
    finally:
        admin.close()
        await asyncio.wait_for(q.close(), 10)
