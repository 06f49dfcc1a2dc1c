"""Case 2: a worker that lost its lock can neither complete nor fail the job afterwards, and
leaves the job hash untouched (the job belongs to its new owner)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import redis

from queuecore import AsyncJob, Queue, UnrecoverableError, Worker
from tests.worker_utils import running, wait_until

QUEUE = "lost"
BASE = f"bull:{QUEUE}:"

OUTCOMES: dict[str, dict[str, Any]] = {
    "complete": {},
    "fail": {},  # UnrecoverableError: fails for good
    "retry": {"attempts": 3},  # retried at once (retry_job)
    "backoff": {"attempts": 3, "backoff": {"type": "fixed", "delay": 1000}},  # move_to_delayed
}


async def old_owner_finishes(outcome: str) -> str:
    if outcome == "complete":
        return "from the old owner"
    if outcome == "fail":
        raise UnrecoverableError("old owner failed it")
    raise ValueError("old owner wants a retry")


@pytest.mark.parametrize("outcome", list(OUTCOMES))
async def test_old_owner_cannot_finish_a_job_taken_over_by_another_worker(
        redis_url: str, r: redis.Redis, outcome: str):
    queue = Queue(QUEUE, redis_url)
    job = queue.add("j", {}, **OUTCOMES[outcome])
    old_started, old_go = asyncio.Event(), asyncio.Event()
    new_started, new_go = asyncio.Event(), asyncio.Event()

    async def old(j: AsyncJob) -> str:
        old_started.set()
        await old_go.wait()
        return await old_owner_finishes(outcome)

    async def new(j: AsyncJob) -> str:
        new_started.set()
        await new_go.wait()
        return "from the new owner"

    old_worker = Worker(QUEUE, old, connection=redis_url, skip_stalled_check=True)
    lost: list[str] = []
    old_done: list[str] = []
    old_worker.on("lock-lost", lambda job_id, exc: lost.append(job_id))
    old_worker.on("completed", lambda j, result: old_done.append("completed"))
    old_worker.on("failed", lambda j, err, prev: old_done.append("failed"))
    new_worker = Worker(QUEUE, new, connection=redis_url, stalled_interval=200)
    async with running(old_worker):
        await asyncio.wait_for(old_started.wait(), 10)
        r.delete(BASE + job.id + ":lock")  # the old owner froze past its lock duration
        async with running(new_worker):
            await asyncio.wait_for(new_started.wait(), 10)  # recovered and taken over
            new_lock = r.get(BASE + job.id + ":lock")
            before = r.hgetall(BASE + job.id)
            events_before = r.xlen(BASE + "events")
            old_go.set()
            await wait_until(lambda: lost == [job.id])
            await asyncio.sleep(0.2)
            assert r.hgetall(BASE + job.id) == before
            assert r.get(BASE + job.id + ":lock") == new_lock
            assert r.lrange(BASE + "active", 0, -1) == [job.id]
            assert r.zcard(BASE + "delayed") == r.zcard(BASE + "failed") == 0
            assert r.xlen(BASE + "events") == events_before
            assert old_done == []
            new_go.set()
            await wait_until(lambda: queue.get_job_state(job.id) == "completed")
    stored = queue.get_job(job.id)
    assert stored is not None
    assert stored.return_value == "from the new owner"
    assert stored.attempts_made == 1
    assert stored.failed_reason is None
    assert stored.stalled_counter == 1
    queue.close()


@pytest.mark.parametrize("outcome", list(OUTCOMES))
async def test_owner_whose_lock_expired_cannot_finish_an_unclaimed_job(
        redis_url: str, r: redis.Redis, outcome: str):
    """Nobody took the job over yet: still the old owner may not finish it; the job stays
    active for the stall check to recover, its hash unchanged."""
    queue = Queue(QUEUE, redis_url)
    job = queue.add("j", {}, **OUTCOMES[outcome])
    started, go = asyncio.Event(), asyncio.Event()

    async def old(j: AsyncJob) -> str:
        started.set()
        await go.wait()
        return await old_owner_finishes(outcome)

    worker = Worker(QUEUE, old, connection=redis_url, skip_stalled_check=True)
    lost: list[str] = []
    worker.on("lock-lost", lambda job_id, exc: lost.append(job_id))
    async with running(worker):
        await asyncio.wait_for(started.wait(), 10)
        r.delete(BASE + job.id + ":lock")
        before = r.hgetall(BASE + job.id)
        go.set()
        await wait_until(lambda: lost == [job.id])
        assert r.hgetall(BASE + job.id) == before
        assert r.lrange(BASE + "active", 0, -1) == [job.id]
    assert queue.get_job_counts("completed", "failed", "delayed", "waiting") == {
        "completed": 0, "failed": 0, "delayed": 0, "waiting": 0}
    queue.close()
