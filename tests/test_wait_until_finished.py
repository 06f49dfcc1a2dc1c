"""``Job.wait_until_finished(queue_events, timeout=)``: the return value, the failed reason as
``JobFailedError``, a job that finished before the call, timeouts and unknown jobs."""

from __future__ import annotations

import asyncio

import pytest

from queuecore import (
    AsyncQueue,
    InvalidOptionsError,
    JobFailedError,
    JobNotFoundError,
    Queue,
    QueueCoreError,
    QueueEvents,
    UnrecoverableError,
    WaitTimeoutError,
    Worker,
)
from tests.worker_utils import running


async def _double(job):
    if job.data.get("fail"):
        raise UnrecoverableError(f"no luck with {job.data['n']}")
    return {"n": job.data["n"] * 2}


async def test_waits_for_a_job_that_finishes_later(redis_url: str) -> None:
    queue = AsyncQueue("wuf", redis_url)
    events = QueueEvents("wuf", redis_url)
    try:
        job = await queue.add("double", {"n": 21})
        waiting = asyncio.ensure_future(job.wait_until_finished(events, timeout=30))
        await asyncio.sleep(0)  # the wait has taken its place in the stream before the work
        async with running(Worker("wuf", _double, connection=redis_url)):
            assert await waiting == {"n": 42}
    finally:
        await events.aclose()
        await queue.close()


async def test_a_job_failed_for_good_raises_with_its_reason(redis_url: str) -> None:
    queue = AsyncQueue("wuf-fail", redis_url)
    events = QueueEvents("wuf-fail", redis_url)
    try:
        job = await queue.add("double", {"n": 1, "fail": True}, attempts=3)
        async with running(Worker("wuf-fail", _double, connection=redis_url)):
            with pytest.raises(JobFailedError) as caught:
                await job.wait_until_finished(events, timeout=30)
        assert caught.value.failed_reason == "no luck with 1"
        assert caught.value.job_id == job.id
        assert isinstance(caught.value, QueueCoreError)
    finally:
        await events.aclose()
        await queue.close()


async def test_a_retried_attempt_is_not_the_end(redis_url: str) -> None:
    """The first attempt fails, the second completes: the wait returns the value."""
    seen: list[int] = []

    async def flaky(job):
        seen.append(job.attempts_made)
        if len(seen) == 1:
            raise RuntimeError("first try fails")
        return "second try"

    queue = AsyncQueue("wuf-retry", redis_url)
    events = QueueEvents("wuf-retry", redis_url)
    try:
        job = await queue.add("j", {}, attempts=2)
        async with running(Worker("wuf-retry", flaky, connection=redis_url)):
            assert await job.wait_until_finished(events, timeout=30) == "second try"
        assert len(seen) == 2
    finally:
        await events.aclose()
        await queue.close()


def _work_until(redis_url: str, queue_name: str, done: str) -> None:
    """Run a worker until the queue has ``done`` (a job id) completed or removed."""
    async def work() -> None:
        queue = AsyncQueue(queue_name, redis_url)
        try:
            async with running(Worker(queue_name, _double, connection=redis_url)):
                for _ in range(3000):
                    if await queue.get_job_state(done) in ("completed", "unknown"):
                        return
                    await asyncio.sleep(0.01)
                raise AssertionError(f"job {done} was not processed")
        finally:
            await queue.close()

    asyncio.run(work())


def test_sync_job_that_finished_before_the_call_returns_at_once(redis_url: str) -> None:
    queue = Queue("wuf-sync", redis_url)
    events = QueueEvents("wuf-sync", redis_url, block_ms=50)
    try:
        job = queue.add("double", {"n": 5})
        _work_until(redis_url, "wuf-sync", job.id)
        assert job.wait_until_finished(events, timeout=30) == {"n": 10}
        # A job removed on completion, finished before the call: gone, so not found.
        gone = queue.add("double", {"n": 6}, remove_on_complete=True)
        _work_until(redis_url, "wuf-sync", gone.id)
        with pytest.raises(JobNotFoundError):
            gone.wait_until_finished(events, timeout=30)
    finally:
        events.close()
        queue.close()


def test_timeout_and_bad_input(redis_url: str) -> None:
    queue = Queue("wuf-timeout", redis_url)
    events = QueueEvents("wuf-timeout", redis_url)
    try:
        job = queue.add("nobody works here", {})
        with pytest.raises(WaitTimeoutError) as caught:
            job.wait_until_finished(events, timeout=0.2)
        assert isinstance(caught.value, TimeoutError)
        with pytest.raises(InvalidOptionsError):
            job.wait_until_finished(events, timeout=0)
        with pytest.raises(JobNotFoundError):
            events.job_result("no-such-job", timeout=1)
        assert queue.get_job_state(job.id) == "waiting"  # waiting changed nothing
    finally:
        events.close()
        queue.close()


async def test_waiting_takes_no_event_from_an_iterating_reader(redis_url: str) -> None:
    queue = AsyncQueue("wuf-share", redis_url)
    events = QueueEvents("wuf-share", redis_url, last_event_id="0", block_ms=50)
    try:
        job = await queue.add("double", {"n": 2})
        async with running(Worker("wuf-share", _double, connection=redis_url)):
            assert await job.wait_until_finished(events, timeout=30) == {"n": 4}
        names = [e.event for e in await events.aread()]
        assert "added" in names and "completed" in names
    finally:
        await events.aclose()
        await queue.close()
