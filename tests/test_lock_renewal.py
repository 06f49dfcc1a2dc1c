"""Lock renewal from the worker's renewal thread: a job whose finish call is already out is
not reported as a lost lock, however often renewal rounds coincide with finishes."""

from __future__ import annotations

import asyncio
import threading

import redis

from queuecore import AsyncJob, Job, Queue, Worker
from tests.worker_utils import LockWatch, running, wait_until


async def test_finishing_jobs_are_never_reported_as_lost_locks(redis_url: str) -> None:
    queue = Queue("renew", redis_url)
    queue.add_bulk([{"name": "j", "data": {"n": n}} for n in range(600)])
    lost: list[str] = []

    async def short(job: AsyncJob) -> int:
        await asyncio.sleep(0.002)
        return int(job.data["n"])

    # A renewal round every 5 ms, beside ~10 finishes per ms: before the fix a round that
    # read a job just before its finish went out reported that job's lock as lost.
    worker = Worker("renew", short, connection=redis_url, concurrency=20, lock_duration=10_000,
                    lock_renew_time=5)
    worker.on("lock-lost", lambda job_id, exc: lost.append(job_id))
    async with running(worker):
        await wait_until(lambda: queue.get_job_counts("completed")["completed"] == 600,
                         timeout=30)
    assert lost == []
    queue.close()


async def test_locks_of_running_thread_jobs_are_renewed(redis_url: str) -> None:
    queue = Queue("renew-sync", redis_url)
    job = queue.add("slow", {})

    release = threading.Event()

    def slow(j: Job) -> str:
        assert release.wait(60)
        return "done"

    r = redis.Redis.from_url(redis_url, decode_responses=True)
    # Held until its lock was renewed twice (seen in Redis), with a lock that outlasts a late
    # renewal on a loaded machine.
    worker = Worker("renew-sync", slow, connection=redis_url, lock_duration=3000)
    async with running(worker):
        lock = LockWatch(r, f"bull:renew-sync:{job.id}:lock")
        await wait_until(lambda: lock.seen() >= 2)
        release.set()
        await wait_until(lambda: queue.get_job_counts("completed")["completed"] == 1)
    r.close()
    stored = queue.get_job(job.id)
    assert stored is not None and stored.stalled_counter == 0
    assert stored.return_value == "done"
    queue.close()
