"""Rate limits and global concurrency, measured on a real redis-server."""

from __future__ import annotations

import asyncio

import pytest

from queuecore import AsyncJob, InvalidOptionsError, Queue, Worker
from queuecore.base.clock import now_ms
from tests.worker_utils import running, wait_until


@pytest.fixture
def q(redis_url: str):
    queue = Queue("limited", redis_url)
    yield queue
    queue.close()


def started_in_window(starts: list[int], seconds: float) -> int:
    t0 = min(starts)
    return sum(1 for t in starts if t - t0 < seconds * 1000)


async def _measure(q: Queue, redis_url: str, seconds: float, **worker_opts) -> list[int]:
    q.add_bulk([{"name": "j", "data": {"n": n}} for n in range(200)])
    starts: list[int] = []

    async def process(job: AsyncJob) -> None:
        starts.append(now_ms())

    workers = [Worker("limited", process, connection=redis_url, concurrency=10, **worker_opts)
               for _ in range(2)]
    async with running(workers[0]), running(workers[1]):
        await asyncio.sleep(seconds + 0.5)
    return starts


async def test_worker_limiter_holds_10_per_second_over_5_seconds(q: Queue, redis_url: str):
    starts = await _measure(q, redis_url, 5, limiter={"max": 10, "duration": 1000})
    count = started_in_window(starts, 5)
    print(f"worker limiter 10/s: {count} jobs started in 5 s (target 50)")
    assert 45 <= count <= 55


async def test_global_rate_limit_in_meta_holds_across_workers(q: Queue, redis_url: str, r):
    q.set_global_rate_limit(10, 1000)
    assert q.get_global_rate_limit() == (10, 1000)
    assert r.hmget("bull:limited:meta", "max", "duration") == ["10", "1000"]
    starts = await _measure(q, redis_url, 5)
    count = started_in_window(starts, 5)
    print(f"global rate limit 10/s: {count} jobs started in 5 s (target 50)")
    assert 45 <= count <= 55
    q.remove_global_rate_limit()
    assert q.get_global_rate_limit() is None


async def test_global_concurrency_caps_active_jobs(q: Queue, redis_url: str):
    q.set_global_concurrency(3)
    assert q.get_global_concurrency() == 3
    q.add_bulk([{"name": "j", "data": {}} for _ in range(24)])
    active = 0
    peak = 0

    async def process(job: AsyncJob) -> None:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        await asyncio.sleep(0.05)
        active -= 1

    workers = [Worker("limited", process, connection=redis_url, concurrency=5)
               for _ in range(2)]
    async with running(workers[0]), running(workers[1]):
        await wait_until(lambda: q.get_job_counts("completed")["completed"] == 24, timeout=15)
    assert peak == 3
    q.remove_global_concurrency()
    assert q.get_global_concurrency() is None


def test_rate_limit_ttl(q: Queue):
    assert q.get_rate_limit_ttl() == 0
    q.rate_limit(5000)
    assert 4000 < q.get_rate_limit_ttl() <= 5000


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "3"])
def test_bad_limits(q: Queue, bad: object):
    with pytest.raises(InvalidOptionsError):
        q.set_global_concurrency(bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidOptionsError):
        q.set_global_rate_limit(bad, 1000)  # type: ignore[arg-type]
