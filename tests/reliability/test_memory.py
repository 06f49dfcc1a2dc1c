"""Case 8: Redis at maxmemory.

With `noeviction`, an add raises a clear out-of-memory error and nothing stored is lost; a
worker lives through the episode and finishes every job afterwards. A worker started against
a Redis whose policy evicts keys (and so would silently drop jobs) warns loudly at start."""

from __future__ import annotations

import asyncio
import logging

import pytest
import redis

from queuecore import AsyncJob, Queue, RedisResponseError, Worker
from tests.redisproc import RedisProcess
from tests.reliability.invariants import check_invariants
from tests.worker_utils import blocked_on_marker, running, wait_until


def _oom_errors(r: redis.Redis) -> int:
    """How many commands the server has refused with OOM so far."""
    return int(r.info("errorstats").get("errorstat_OOM", {}).get("count", 0))

QUEUE = "mem"
BASE = f"bull:{QUEUE}:"


def test_add_at_maxmemory_raises_out_of_memory_and_loses_nothing(redis_servers):
    server: RedisProcess = redis_servers({"maxmemory": "3mb", "maxmemory-policy": "noeviction"})
    server.start()
    r = redis.Redis.from_url(server.url, decode_responses=True)
    queue = Queue(QUEUE, server.url)
    acked: list[str] = []
    with pytest.raises(RedisResponseError) as caught:  # noqa: PT012
        for n in range(100_000):
            acked.append(queue.add("big", {"n": n, "pad": "x" * 2000}).id)
    assert "maxmemory" in str(caught.value)
    assert isinstance(caught.value.__cause__, redis.exceptions.OutOfMemoryError)
    assert len(acked) > 100
    # Still (about) full: a further add is refused the same way, or (when Redis' memory
    # count just dipped below the limit) stored like any other: never half-written. A bulk
    # add is one MULTI/EXEC: all of it or none.
    refused = 0
    for _ in range(3):
        try:
            acked.append(queue.add("big", {"pad": "x" * 2000}).id)
        except RedisResponseError:
            refused += 1
    for _ in range(3):
        try:
            acked += [j.id for j in queue.add_bulk(
                [{"name": "bulk", "data": {"pad": "x" * 2000}} for _ in range(5)])]
        except RedisResponseError:
            refused += 1
            break
    assert refused >= 1
    # Reads still work at maxmemory.
    assert queue.get_job_counts("waiting")["waiting"] >= len(acked)
    assert queue.get_job_state(acked[0]) == "waiting"
    assert len(queue.get_jobs("waiting", 0, 9)) == 10
    where = check_invariants(r, BASE)
    assert set(where) == set(acked)  # every acknowledged add, and nothing half-written
    assert len(where) == queue.get_job_counts("waiting")["waiting"]
    first = queue.get_job(acked[0])
    assert first is not None
    assert first.data == {"n": 0, "pad": "x" * 2000}
    # Room again: the refused adds left no trace (not even a job id taken).
    r.config_set("maxmemory", "0")
    assert queue.add("after", {}).id == str(int(r.get(BASE + "id")))
    queue.close()
    r.close()


async def test_worker_lives_through_maxmemory_and_finishes_every_job(redis_servers):
    server: RedisProcess = redis_servers({"maxmemory-policy": "noeviction"})
    server.start()
    r = redis.Redis.from_url(server.url, decode_responses=True)
    queue = Queue(QUEUE, server.url)
    ids = [job.id for job in queue.add_bulk([{"name": "j", "data": {"n": n}}
                                             for n in range(20)])]
    done: list[str] = []

    async def process(job: AsyncJob) -> None:
        await asyncio.sleep(0.2)
        done.append(job.id)

    worker = Worker(QUEUE, process, connection=server.url, concurrency=2, lock_duration=1000,
                    stalled_interval=500)
    task = asyncio.ensure_future(worker.run())
    try:
        await wait_until(lambda: len(done) >= 2)
        refused = _oom_errors(r)
        r.config_set("maxmemory", "1")  # from now on every write is refused
        # The worker ran into it, more than once (a finish, a fetch, a renewal ...).
        await wait_until(lambda: _oom_errors(r) >= refused + 3)
        r.config_set("maxmemory", "0")
        assert not task.done(), f"the worker stopped: {task.exception()!r}"
        await wait_until(lambda: queue.get_job_counts("completed")["completed"] == 20)
    finally:
        r.config_set("maxmemory", "0")
        await worker.close()
        outcome = await asyncio.gather(task, return_exceptions=True)
    assert outcome == [None]
    assert sorted(set(done), key=int) == ids
    check_invariants(r, BASE)
    queue.close()
    r.close()


async def test_worker_warns_at_start_when_redis_may_evict_jobs(redis_servers, caplog):
    server: RedisProcess = redis_servers({"maxmemory": "64mb",
                                          "maxmemory-policy": "allkeys-lru"})
    server.start()

    async def process(job: AsyncJob) -> None:
        return None

    caplog.set_level(logging.INFO)
    worker = Worker(QUEUE, process, connection=server.url)
    def warnings() -> list[logging.LogRecord]:
        return [rec for rec in caplog.records if rec.levelno >= logging.WARNING
                and "allkeys-lru" in rec.getMessage()]

    async with running(worker):
        await wait_until(warnings, what="the allkeys-lru warning")


async def test_worker_does_not_warn_with_noeviction(redis_servers, caplog):
    server: RedisProcess = redis_servers({"maxmemory": "64mb",
                                          "maxmemory-policy": "noeviction"})
    server.start()

    async def process(job: AsyncJob) -> None:
        return None

    caplog.set_level(logging.INFO)
    r = redis.Redis.from_url(server.url, decode_responses=True)
    async with running(Worker(QUEUE, process, connection=server.url)):
        # Started and idle (blocked on the marker): past its check of the policy.
        await wait_until(lambda: blocked_on_marker(r))
    r.close()
    assert [rec.getMessage() for rec in caplog.records if rec.levelno >= logging.WARNING] == []
