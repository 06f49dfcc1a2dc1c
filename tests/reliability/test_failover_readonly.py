"""A failover behind one address (a proxy, a DNS name or a virtual IP, as with Sentinel): the
old master is demoted to a replica, the address now leads to the new master, and connections
opened before still reach the old one, which answers READONLY. Producers raise ReadOnlyError
once and reach the new master on the next call; a worker drops its connections and goes on
with the new master's jobs, without a restart."""

from __future__ import annotations

import pytest
import redis

from queuecore import AsyncJob, Queue, RedisResponseError, Worker
from tests.tcp_proxy import TcpProxy
from tests.waiting import wait_for
from tests.worker_utils import running, wait_until


@pytest.fixture
def failover(redis_servers):
    old = redis_servers().start()
    new = redis_servers().start()
    proxy = TcpProxy(old.port)
    yield old, new, proxy
    proxy.close()


def demote(old, new, proxy: TcpProxy) -> None:
    """The old master becomes a replica of the new one; the address leads to the new one."""
    proxy.upstream = new.port
    redis.Redis(port=old.port).replicaof("127.0.0.1", new.port)
    replica = redis.Redis(port=old.port, decode_responses=True)
    wait_for(lambda: replica.info("replication").get("master_link_status") == "up",
             what="the replica synced")
    replica.close()


def test_producer_raises_readonly_once_then_reaches_the_new_master(failover) -> None:
    old, new, proxy = failover
    queue = Queue("fo", f"redis://127.0.0.1:{proxy.port}/0")
    try:
        queue.add("before", {})
        demote(old, new, proxy)
        with pytest.raises(RedisResponseError) as refused:
            queue.add("during", {}, job_id="j1")
        assert isinstance(refused.value.__cause__, redis.ReadOnlyError)
        queue.add("during", {}, job_id="j1")  # the same id again: safe, and it lands
        assert redis.Redis(port=new.port).exists("bull:fo:j1") == 1
    finally:
        queue.close()


async def test_worker_reconnects_after_readonly_and_runs_the_new_masters_jobs(failover):
    old, new, proxy = failover
    url = f"redis://127.0.0.1:{proxy.port}/0"
    done: list[str] = []

    async def work(job: AsyncJob) -> None:
        done.append(job.data["n"])

    worker = Worker("fo", work, connection=url, drain_delay=0.5)
    async with running(worker):
        with Queue("fo", f"redis://127.0.0.1:{old.port}/0") as before:
            before.add("j", {"n": "old"})
        await wait_until(lambda: done == ["old"])
        demote(old, new, proxy)
        with Queue("fo", f"redis://127.0.0.1:{new.port}/0") as after:
            after.add("j", {"n": "new"})
            await wait_until(lambda: after.get_job_counts("completed")["completed"] == 1)
            assert done == ["old", "new"]
