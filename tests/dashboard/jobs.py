"""Put jobs into each state on the private Redis, through queuecore only."""

from __future__ import annotations

import asyncio
from typing import Any

from queuecore import Queue, Worker
from tests.waiting import TIMEOUT, wait_until


async def _process(job: Any) -> Any:
    await job.log(f"processing {job.name}")
    await job.update_progress(100)
    if job.name.startswith("fail"):
        raise RuntimeError(f"boom <b>{job.name}</b>")
    return {"ok": True, "name": job.name}


def run_worker(url: str, queue: Queue, finished: int, timeout: float = TIMEOUT) -> None:
    """Process jobs until ``finished`` jobs are completed or failed, then stop the worker."""

    def done() -> bool:
        return sum(queue.get_job_counts("completed", "failed").values()) >= finished

    async def main() -> None:
        worker = Worker(queue.name, _process, connection=url, concurrency=4)
        task = asyncio.create_task(worker.run())
        try:
            await wait_until(lambda: done() or task.done(), timeout=timeout,
                             what=f"{finished} jobs finished")
            assert done(), f"the worker stopped early: {queue.get_job_counts()}"
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
