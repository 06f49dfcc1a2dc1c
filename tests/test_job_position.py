"""A queued job's place in line and a job's lock time left (what the dashboard's "why is
this job not running" reads), sync and async, on a real Redis."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from queuecore import AsyncQueue, InvalidOptionsError, Queue
from tests.queue_helpers import fetch


@pytest.fixture
def q(redis_url: str) -> Iterator[Queue]:
    with Queue("pos", redis_url) as queue:
        yield queue


def test_position_follows_the_order_workers_take(q: Queue) -> None:
    first, second, third = (q.add("w", i) for i in range(3))
    urgent = q.add("p", priority=1)
    low = q.add("p", priority=5)
    later = q.add("d", delay=60_000)
    assert [q.get_job_position(j.id) for j in (first, second, third)] == [0, 1, 2]
    assert q.get_job_position(urgent.id) == 3
    assert q.get_job_position(low.id) == 4
    assert q.get_job_position(later.id) is None
    assert q.get_job_position("nope") is None
    assert fetch(q) == first.id  # the one at place 0 is the one taken
    assert q.get_job_position(second.id) == 0
    assert q.get_job_position(first.id) is None  # active now
    assert q.get_job_position(third.id, limit=1) is None  # beyond the scan
    with pytest.raises(InvalidOptionsError):
        q.get_job_position(second.id, limit=0)


def test_lock_ttl(q: Queue) -> None:
    job = q.add("w")
    assert q.get_job_lock_ttl(job.id) == -2
    assert fetch(q, lock_ms=30_000) == job.id
    assert 0 < q.get_job_lock_ttl(job.id) <= 30_000


async def test_async_twin(redis_url: str, q: Queue) -> None:
    job = q.add("w")
    async with AsyncQueue("pos", redis_url) as aq:
        assert await aq.get_job_position(job.id) == 0
        assert await aq.get_job_lock_ttl(job.id) == -2
