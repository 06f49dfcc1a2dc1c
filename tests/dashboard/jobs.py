"""Put jobs into each state on the private Redis, through queuecore only."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from queuecore import Queue, Worker


async def _process(job: Any) -> Any:
    await job.log(f"processing {job.name}")
    await job.update_progress(100)
    if job.name.startswith("fail"):
        raise RuntimeError(f"boom <b>{job.name}</b>")
    return {"ok": True, "name": job.name}


def run_worker(url: str, queue: Queue, finished: int, timeout: float = 15.0) -> None:
    """Process jobs until ``finished`` jobs are completed or failed, then stop the worker."""

    async def main() -> None:
        worker = Worker(queue.name, _process, connection=url, concurrency=4)
        task = asyncio.create_task(worker.run())
        deadline = time.monotonic() + timeout
        try:
            while True:
                counts = queue.get_job_counts("completed", "failed")
                if counts["completed"] + counts["failed"] >= finished:
                    break
                if time.monotonic() > deadline or task.done():
                    raise AssertionError(f"worker did not finish {finished} jobs: {counts}")
                await asyncio.sleep(0.02)
        finally:
            await worker.close()
            await asyncio.wait_for(task, 10)

    asyncio.run(main())


def populate(url: str, queue: Queue) -> dict[str, list[str]]:
    """One or more jobs in completed, failed, delayed, prioritized and waiting; returns ids."""
    done = [queue.add("ok", {"n": i}).id for i in range(2)]
    failed = [queue.add("fail-once", {"n": 1}, attempts=1).id]
    run_worker(url, queue, finished=3)
    delayed = [queue.add("later", {"x": 1}, delay=3_600_000).id]
    prioritized = [queue.add("urgent", {"x": 2}, priority=3).id]
    waiting = [queue.add("plain", {"x": 3}).id]
    return {
        "completed": done,
        "failed": failed,
        "delayed": delayed,
        "prioritized": prioritized,
        "waiting": waiting,
    }
