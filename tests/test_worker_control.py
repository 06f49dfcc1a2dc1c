"""Worker.pause/resume/is_paused (local to one worker) and the ``drained`` event as BullMQ's
worker emits it, on a real redis-server."""

from __future__ import annotations

import asyncio

import pytest

from queuecore import AsyncJob, Queue, Worker
from tests.worker_utils import running, wait_until


@pytest.fixture
def queue(redis_url: str):
    q = Queue("ctl", redis_url)
    yield q
    q.close()


async def test_drained_once_per_empty_queue_like_bullmq(queue: Queue, redis_url: str):
    """BullMQ emits ``drained`` when a fetch (or the fetch of a finish call) finds nothing,
    once until a job is fetched again: on an empty queue at start, then after the last job."""
    seen: list[str] = []

    async def process(job: AsyncJob) -> int:
        return 1

    worker = Worker("ctl", process, connection=redis_url)
    worker.on("drained", lambda: seen.append("drained"))
    worker.on("completed", lambda job, result: seen.append("completed"))
    async with running(worker):
        await wait_until(lambda: seen == ["drained"])
        queue.add_bulk([{"name": n, "data": {}} for n in "abc"])
        await wait_until(lambda: seen.count("completed") == 3 and seen[-1] == "drained")
        queue.add("d", {})
        await wait_until(lambda: seen.count("completed") == 4 and seen[-1] == "drained")
    assert seen == ["drained", "completed", "completed", "completed", "drained",
                    "completed", "drained"]


async def test_pause_waits_for_active_then_fetches_nothing_until_resume(
        queue: Queue, redis_url: str):
    release = asyncio.Event()
    started: list[str] = []

    async def process(job: AsyncJob) -> str:
        started.append(job.name)
        if job.name == "first":
            await release.wait()
        return job.name

    events: list[str] = []
    worker = Worker("ctl", process, connection=redis_url, concurrency=2)
    worker.on("paused", lambda: events.append("paused"))
    worker.on("resumed", lambda: events.append("resumed"))
    async with running(worker):
        queue.add("first", {})
        await wait_until(lambda: started == ["first"])
        assert not worker.is_paused()
        pausing = asyncio.ensure_future(worker.pause())
        await wait_until(worker.is_paused)
        await asyncio.sleep(0)
        assert not pausing.done()  # the active job holds pause() until it is finished
        queue.add("second", {})
        release.set()
        await pausing
        assert events == ["paused"]
        assert worker.active_count == 0
        # Paused: the job added meanwhile stays waiting; the queue itself is not paused.
        assert queue.get_job_counts("waiting")["waiting"] == 1
        assert not queue.is_paused()
        await worker.pause()  # already paused: nothing more
        assert events == ["paused"]
        worker.resume()
        assert not worker.is_paused()
        await wait_until(lambda: queue.get_job_counts("completed")["completed"] == 2)
    assert started == ["first", "second"]
    assert events == ["paused", "resumed"]


async def test_pause_do_not_wait_active_returns_at_once(queue: Queue, redis_url: str):
    release = asyncio.Event()

    async def process(job: AsyncJob) -> None:
        await release.wait()

    worker = Worker("ctl", process, connection=redis_url)
    async with running(worker):
        queue.add("a", {})
        queue.add("b", {})
        await wait_until(lambda: worker.active_count == 1)
        await worker.pause(do_not_wait_active=True)
        assert worker.active_count == 1
        release.set()
        await wait_until(lambda: queue.get_job_counts("completed")["completed"] == 1)
        await wait_until(lambda: worker.active_count == 0)
        assert queue.get_job_counts("waiting")["waiting"] == 1  # not fetched by the finish
        worker.resume()
        await wait_until(lambda: queue.get_job_counts("completed")["completed"] == 2)


async def test_paused_before_run_and_closed_while_paused(queue: Queue, redis_url: str):
    async def process(job: AsyncJob) -> None:
        return None

    queue.add("a", {})
    worker = Worker("ctl", process, connection=redis_url)
    await worker.pause()
    ready = asyncio.Event()
    worker.on("ready", ready.set)
    async with running(worker):
        await ready.wait()
        assert worker.is_paused()
        assert queue.get_job_counts("waiting")["waiting"] == 1
    assert not worker.running  # close() ended the paused worker
    assert queue.get_job_counts("waiting")["waiting"] == 1
