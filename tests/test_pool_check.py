"""Pooled connections the server closed are found before a command is written to them (a
restart, a failover): the command goes out on a fresh connection, and when none can be made,
the error says that nothing was sent (``errors.not_sent``), so Cluster may send it elsewhere."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from queuecore import AsyncQueue, Queue, RedisConnectionError
from queuecore.transport.errors import not_sent
from tests.redisproc import RedisProcess


@pytest.fixture
def server() -> Iterator[RedisProcess]:
    node = RedisProcess().start()
    yield node
    node.close()


async def test_an_idle_connection_closed_by_a_restart_is_replaced_before_sending(
        server: RedisProcess) -> None:
    queue = AsyncQueue("pool", server.url)
    try:
        await queue.add("before", {})  # its connection now waits in the pool
        server.kill()
        await asyncio.sleep(0.2)  # the loop reads the end of the connection
        with pytest.raises(RedisConnectionError) as refused:
            await queue.add("while-down", {})
        assert not_sent(refused.value)  # the pool's check found the closed connection
        server.start()
        job = await queue.add("after", {})  # no error: the closed connection is not used
        assert await queue.get_job(job.id) is not None
    finally:
        await queue.close()


def test_the_sync_queue_also_replaces_a_closed_idle_connection(server: RedisProcess) -> None:
    with Queue("pool", server.url) as queue:
        queue.add("before", {})
        server.kill()
        server.start()
        job = queue.add("after", {})
        assert queue.get_job(job.id) is not None
