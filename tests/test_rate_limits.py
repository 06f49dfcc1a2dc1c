"""Rate limits and global concurrency on a real redis-server (counts, not rates: how many
jobs a second go through a limited queue is a figure for bench/)."""

from __future__ import annotations

import asyncio

import pytest

from queuecore import AsyncJob, InvalidOptionsError, Queue, Worker
from tests.worker_utils import running, wait_until


@pytest.fixture
def q(redis_url: str):
    queue = Queue("limited", redis_url)
    yield queue
    queue.close()


async def _first_window(q: Queue, redis_url: str, r, **worker_opts) -> list[str]:
    """Two workers (concurrency 10 each) on 200 jobs under a limit of 10 per minute: the ids
    of the jobs they start while the first window lasts.

    The window is far longer than the test (so that no machine is slow enough to see it end):
    exactly the limit's number of jobs must start in it, however fast or slow they ran."""
    q.add_bulk([{"name": "j", "data": {"n": n}} for n in range(200)])
    starts: list[str] = []

    async def process(job: AsyncJob) -> None:
        starts.append(job.id)

    workers = [Worker("limited", process, connection=redis_url, concurrency=10, **worker_opts)
               for _ in range(2)]
    async with running(workers[0]), running(workers[1]):
        # Each of the ten finished and asked for a next job in the same step (refused): the
        # workers are past the point where an eleventh would have started ...
        await wait_until(lambda: q.get_job_counts("completed")["completed"] >= 10)
        await asyncio.sleep(0.5)  # ... and the observation window confirms none does
        counts = q.get_job_counts("completed", "active", "waiting")
    assert r.get("bull:limited:limiter") == "10"
    assert r.pttl("bull:limited:limiter") > 0  # the window still lasts
    assert counts == {"completed": 10, "active": 0, "waiting": 190}
    return starts


async def test_worker_limiter_starts_max_jobs_per_window(q: Queue, redis_url: str, r):
    starts = await _first_window(q, redis_url, r, limiter={"max": 10, "duration": 600_000})
    assert len(starts) == len(set(starts)) == 10


async def test_global_rate_limit_in_meta_holds_across_workers(q: Queue, redis_url: str, r):
    q.set_global_rate_limit(10, 600_000)
    assert q.get_global_rate_limit() == (10, 600_000)
    assert r.hmget("bull:limited:meta", "max", "duration") == ["10", "600000"]
    starts = await _first_window(q, redis_url, r)
    assert len(starts) == len(set(starts)) == 10
    q.remove_global_rate_limit()
    assert q.get_global_rate_limit() is None


async def test_global_concurrency_caps_active_jobs(q: Queue, redis_url: str):
    q.set_global_concurrency(3)
    assert q.get_global_concurrency() == 3
    q.add_bulk([{"name": "j", "data": {}} for _ in range(24)])
    active = 0
    peak = 0

    three_in = asyncio.Event()

    async def process(job: AsyncJob) -> None:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        if active == 3:
            three_in.set()
        # The first jobs hold their slots until three run at once (a fixed sleep could end
        # before a loaded machine started the third); the cap must keep out the rest.
        await asyncio.wait_for(three_in.wait(), 30)
        await asyncio.sleep(0.05)
        active -= 1

    workers = [Worker("limited", process, connection=redis_url, concurrency=5)
               for _ in range(2)]
    async with running(workers[0]), running(workers[1]):
        await wait_until(lambda: q.get_job_counts("completed")["completed"] == 24)
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
