"""WorkerPool: N workers of one queue in one loop, scaled up and down while running."""

from __future__ import annotations

import asyncio

import pytest

from queuecore import AsyncJob, AsyncQueue
from queuecore.base.errors import InvalidOptionsError, QueueCoreError
from queuecore.worker.pool import WorkerPool
from tests.worker_utils import wait_until


class Gauge:
    """A processor that holds each job until released, counting how many run at once."""

    def __init__(self) -> None:
        self.running = 0
        self.peak = 0
        self.done: list[str] = []
        self.release = asyncio.Event()

    async def __call__(self, job: AsyncJob) -> str:
        self.running += 1
        self.peak = max(self.peak, self.running)
        try:
            await self.release.wait()
        finally:
            self.running -= 1
        self.done.append(job.id)
        return job.id


async def test_each_worker_takes_its_own_jobs(redis_url: str) -> None:
    gauge = Gauge()
    completed: list[str] = []
    async with AsyncQueue("pool", redis_url) as q:
        pool = WorkerPool("pool", gauge, redis_url, size=3, concurrency=1)
        pool.on("completed", lambda job, result: completed.append(job.id))
        async with pool:
            assert pool.size == 3
            jobs = [await q.add("j", {"i": i}) for i in range(5)]
            await wait_until(lambda: gauge.running == 3)
            await asyncio.sleep(0.1)
            assert gauge.running == 3  # one job per worker, no more
            gauge.release.set()
            await wait_until(lambda: len(completed) == 5)
        assert sorted(completed) == sorted(j.id for j in jobs)
        assert gauge.peak == 3
        assert pool.size == 0
        assert await q.get_job_counts("completed", "active") == {"completed": 5, "active": 0}


async def test_scale_up_adds_workers_that_share_the_listeners(redis_url: str) -> None:
    gauge = Gauge()
    completed: list[str] = []
    async with AsyncQueue("pool", redis_url) as q:
        for i in range(4):
            await q.add("j", {"i": i})
        async with WorkerPool("pool", gauge, redis_url, size=1) as pool:
            pool.on("completed", lambda job, result: completed.append(job.id))
            await wait_until(lambda: gauge.running == 1)
            await pool.scale_up(3)
            assert pool.size == 4
            await wait_until(lambda: gauge.running == 4)
            gauge.release.set()
            await wait_until(lambda: len(completed) == 4)


async def test_scale_down_lets_active_jobs_finish(redis_url: str) -> None:
    gauge = Gauge()
    async with AsyncQueue("pool", redis_url) as q, \
            WorkerPool("pool", gauge, redis_url, size=3) as pool:
        jobs = [await q.add("j", {"i": i}) for i in range(2)]
        await wait_until(lambda: gauge.running == 2)
        busy = {w for w in pool.workers if w._active}
        assert len(busy) == 2
        shrinking = asyncio.ensure_future(pool.scale_down(2))
        await wait_until(lambda: pool.size == 1)
        assert not shrinking.done()  # the busy worker is finishing its job (held by the gauge)
        gauge.release.set()
        await shrinking
        # The idle worker was chosen first; one of the busy ones stays.
        [left] = pool.workers
        assert left in busy
        assert sorted(gauge.done) == sorted(j.id for j in jobs)
        assert await q.get_job_counts("completed") == {"completed": 2}
        # The remaining worker still serves the queue.
        extra = await q.add("j", {"i": 9})
        await wait_until(lambda: extra.id in gauge.done)


async def test_scale_down_with_a_timeout_puts_long_jobs_back(redis_url: str) -> None:
    gauge = Gauge()
    async with AsyncQueue("pool", redis_url) as q:
        async with WorkerPool("pool", gauge, redis_url, size=1) as pool:
            job = await q.add("j", {})
            await wait_until(lambda: gauge.running == 1)
            await pool.scale_down(1, timeout=0.2)
            assert pool.size == 0
        assert await q.get_job_state(job.id) == "waiting"


async def test_misuse_is_refused(redis_url: str) -> None:
    gauge = Gauge()
    with pytest.raises(InvalidOptionsError, match="size"):
        WorkerPool("pool", gauge, redis_url, size=0)
    with pytest.raises(InvalidOptionsError, match="concurrency"):
        WorkerPool("pool", gauge, redis_url, concurrency=0)
    pool = WorkerPool("pool", gauge, redis_url, size=2)
    with pytest.raises(QueueCoreError, match="start"):
        await pool.scale_up(1)
    await pool.start()
    with pytest.raises(QueueCoreError, match="already started"):
        await pool.start()
    with pytest.raises(InvalidOptionsError, match="has 2 workers"):
        await pool.scale_down(3)
    with pytest.raises(InvalidOptionsError):
        await pool.scale_up(-1)
    await pool.close()
    await pool.close()
    with pytest.raises(QueueCoreError, match="closed"):
        await pool.scale_up(1)


async def test_close_without_start_is_harmless(redis_url: str) -> None:
    pool = WorkerPool("pool", Gauge(), redis_url, size=2)
    await pool.close()
    assert pool.size == 0
