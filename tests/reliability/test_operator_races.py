"""Case 11: what an operator does (dashboard, CLI, scripts) while workers run."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
import redis

from queuecore import (
    AsyncJob,
    JobLockedError,
    JobNotInStateError,
    Queue,
    UnrecoverableError,
    Worker,
)
from queuecore.base.clock import now_ms
from queuecore.commands import worker_ops
from tests.reliability.invariants import check_invariants
from tests.worker_utils import blocked_on_marker, running, wait_until

QUEUE = "ops"
BASE = f"bull:{QUEUE}:"
STALLED_REASON = "job stalled more than allowable limit"


async def test_removing_an_active_job_is_refused(redis_url: str, r: redis.Redis):
    queue = Queue(QUEUE, redis_url)
    job = queue.add("busy", {})
    started, go = asyncio.Event(), asyncio.Event()

    async def process(j: AsyncJob) -> str:
        started.set()
        await go.wait()
        return "done"

    async with running(Worker(QUEUE, process, connection=redis_url)):
        await asyncio.wait_for(started.wait(), 10)
        before = r.hgetall(BASE + job.id)
        with pytest.raises(JobLockedError):
            queue.remove(job.id)
        stored = queue.get_job(job.id)
        assert stored is not None
        with pytest.raises(JobLockedError):
            stored.remove()
        assert r.hgetall(BASE + job.id) == before
        assert queue.get_job_state(job.id) == "active"
        check_invariants(r, BASE)
        go.set()
        await wait_until(lambda: queue.get_job_state(job.id) == "completed")
    queue.remove(job.id)  # finished: now it may go
    assert queue.get_job(job.id) is None
    check_invariants(r, BASE)
    queue.close()


async def test_retry_while_paused_keeps_the_job_until_resume(redis_url: str, r: redis.Redis):
    queue = Queue(QUEUE, redis_url)
    runs: list[str] = []

    async def process(j: AsyncJob) -> str:
        runs.append(j.id)
        if len(runs) == 1:
            raise UnrecoverableError("first run fails")
        return "second run"

    job = queue.add("flaky", {})
    async with running(Worker(QUEUE, process, connection=redis_url)):
        await wait_until(lambda: queue.get_job_state(job.id) == "failed")
        queue.pause()
        stored = queue.get_job(job.id)
        assert stored is not None
        stored.retry()
        assert queue.get_job_state(job.id) == "waiting"
        # The worker is idle on the marker (the retry of a paused queue does not wake it) ...
        await wait_until(lambda: blocked_on_marker(r))
        await asyncio.sleep(0.5)  # ... and stays so over the observation window
        assert runs == [job.id]
        assert queue.get_job_state(job.id) == "waiting"
        check_invariants(r, BASE)
        queue.resume()
        await wait_until(lambda: queue.get_job_state(job.id) == "completed")
    assert runs == [job.id, job.id]
    queue.close()


def stall(queue: Queue, job_id: str, max_stalled: int) -> tuple[list[str], list[str]]:
    """What a worker dying with ``job_id`` does: it takes the job, then its lock expires;
    the stall check runs twice (suspect, then recover)."""
    keys = queue.keys
    reply = queue.run_op(worker_ops.move_to_active(keys, now_ms(), "dead-worker:1", 30_000, 0, 0,
                                                 "dead-worker"))
    assert reply[1] == job_id
    queue.client.delete(keys.lock(job_id))
    result: Any = None
    for _ in range(2):
        queue.client.delete(keys.stalled_check)
        result = queue.run_op(worker_ops.check_stalled(keys, max_stalled, now_ms(), 1000))
    return result


async def test_retrying_a_job_that_failed_by_stalling_resets_its_stall_counter(
        redis_url: str, r: redis.Redis):
    queue = Queue(QUEUE, redis_url)
    job = queue.add("stalls", {})
    recovered, deferred = stall(queue, job.id, max_stalled=0)
    assert recovered == deferred == [job.id]
    runs: list[str] = []

    async def process(j: AsyncJob) -> str:
        runs.append(j.id)
        return "ran"

    async with running(Worker(QUEUE, process, connection=redis_url, max_stalled_count=0)):
        await wait_until(lambda: queue.get_job_state(job.id) == "failed")
        stored = queue.get_job(job.id)
        assert stored is not None
        assert stored.failed_reason == STALLED_REASON
        assert stored.stalled_counter == 1
        assert runs == []
        stored.retry()
        assert r.hmget(BASE + job.id, "stc", "defa") == [None, None]
        await wait_until(lambda: queue.get_job_state(job.id) == "completed")
    stored = queue.get_job(job.id)
    assert stored is not None
    assert runs == [job.id]
    assert stored.stalled_counter == 0
    assert stored.return_value == "ran"
    queue.close()


async def test_a_retry_submitted_twice_enqueues_once(redis_url: str, r: redis.Redis):
    queue = Queue(QUEUE, redis_url)
    job = queue.add("twice", {})
    runs: list[str] = []
    go = asyncio.Event()

    async def process(j: AsyncJob) -> str:
        runs.append(j.id)
        if len(runs) == 1:
            raise UnrecoverableError("first run fails")
        await go.wait()
        return "retried"

    async with running(Worker(QUEUE, process, connection=redis_url)):
        await wait_until(lambda: queue.get_job_state(job.id) == "failed")
        queue.pause()  # the retried job stays put while we look at it
        operators = [Queue(QUEUE, redis_url) for _ in range(8)]
        barrier = threading.Barrier(len(operators))
        outcomes: list[str] = []

        def operator(q: Queue) -> None:
            barrier.wait()
            try:
                q.get_job(job.id).retry()  # type: ignore[union-attr]
                outcomes.append("retried")
            except JobNotInStateError:
                outcomes.append("refused")

        threads = [threading.Thread(target=operator, args=(q,)) for q in operators]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
        assert sorted(outcomes) == ["refused"] * 7 + ["retried"]
        assert queue.retry_jobs() == 0
        assert r.lrange(BASE + "wait", 0, -1) == [job.id]
        check_invariants(r, BASE)
        queue.resume()
        await wait_until(lambda: len(runs) == 2)
        with pytest.raises(JobNotInStateError):  # active again: nothing to retry
            queue.get_job(job.id).retry()  # type: ignore[union-attr]
        go.set()
        await wait_until(lambda: queue.get_job_state(job.id) == "completed")
        for q in operators:
            q.close()
    assert runs == [job.id, job.id]  # the workers are closed: no run can come later
    check_invariants(r, BASE)
    queue.close()


def test_cleaning_a_dead_workers_active_job_leaves_no_stall_suspect(redis_url: str,
                                                                    r: redis.Redis):
    """clean(state="active") may remove an active job whose lock is gone (its worker died);
    it must take the id out of `stalled` too (found by the random-operations soak)."""
    queue = Queue(QUEUE, redis_url)
    job = queue.add("orphan", {})
    keys = queue.keys
    queue.run_op(worker_ops.move_to_active(keys, now_ms(), "dead:1", 30_000, 0, 0, "dead"))
    r.delete(keys.lock(job.id))  # the worker died; its lock expired
    queue.run_op(worker_ops.check_stalled(keys, 1, now_ms(), 1000))  # now a suspect
    assert r.smembers(keys.stalled) == {job.id}
    assert queue.clean(0, state="active") == [job.id]
    assert r.smembers(keys.stalled) == set()
    check_invariants(r, BASE)
    queue.close()
