"""close(timeout) while Redis is away: the worker stops within seconds (it does not wait out
the finishing ops' retries for every unfinished job), and the jobs it could not give back are
recovered by the stall check once Redis is back."""

from __future__ import annotations

import asyncio

from queuecore import AsyncJob, Queue, Worker
from tests.waiting import TIMEOUT
from tests.worker_utils import wait_until


async def test_close_with_redis_gone_returns_promptly_and_jobs_are_recovered(redis_servers):
    server = redis_servers(config={"appendonly": "yes", "appendfsync": "always"}).start()
    url = server.url
    queue = Queue("outage-close", url)
    ids = [queue.add("slow", {}).id for _ in range(3)]
    started: list[str] = []

    async def slow(job: AsyncJob) -> None:
        started.append(job.id)
        await asyncio.sleep(60)

    worker = Worker("outage-close", slow, connection=url, concurrency=3, lock_duration=1000,
                    stalled_interval=500)
    task = asyncio.ensure_future(worker.run())
    await wait_until(lambda: len(started) == 3)
    server.kill()
    await asyncio.wait_for(worker.close(timeout=0.2), timeout=TIMEOUT)
    await asyncio.wait_for(task, timeout=TIMEOUT)
    assert not worker._renewer  # the renewal thread has ended

    server.start()  # same port, same AOF: the jobs are still active with their old locks
    rescuer_saw: list[str] = []

    async def done(job: AsyncJob) -> str:
        rescuer_saw.append(job.id)
        return "ok"

    rescuer = Worker("outage-close", done, connection=url, lock_duration=1000,
                     stalled_interval=300)
    rescue = asyncio.ensure_future(rescuer.run())
    try:
        await wait_until(lambda: sorted(rescuer_saw) == sorted(ids))
    finally:
        await rescuer.close()
        await rescue
    queue.close()
