"""Case 3: CPU-bound plain-function processors (run in the worker's thread pool) do not
cause false stalls: the worker keeps renewing its locks while a processor spins, so another
worker's stall check never recovers the job and its stall counter stays 0."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import redis

from queuecore import AsyncJob, Queue, Worker
from tests.reliability.conftest import read_ledgers, scale, starts_by_job, worker_args
from tests.waiting import wait_for
from tests.worker_utils import running, wait_until

SECONDS = scale(3.0, 15.0)
LOCK_MS = 1_000
STALLED_MS = 300


@pytest.mark.timeout(scale(60, 120))
@pytest.mark.parametrize("mode", ["busy", "hash", "sync-sleep"])
async def test_cpu_bound_processors_cause_no_false_stalls(redis_url: str, r: redis.Redis,
                                                          tmp_path: Path, spawn, mode: str):
    """busy: a pure-Python loop holding the GIL; hash: sha256 over 64 MiB buffers (long C
    calls); sync-sleep: time.sleep in the thread. Each runs 3 s (15 s in soak) with a 1 s lock
    at concurrency 2, while a worker in another process checks for stalls every 0.3 s."""
    queue = Queue("cpu", redis_url)
    data = {"seconds": SECONDS, "sleep": SECONDS}
    jobs = [queue.add("cpu", data) for _ in range(2)]
    cpu_worker = spawn("tests.reliability.proc_worker", *worker_args(
        redis_url, "cpu", tmp_path, mode=mode, concurrency=2, lock_duration=LOCK_MS,
        stalled_interval=STALLED_MS))
    wait_for(lambda: len(starts_by_job(read_ledgers(tmp_path))) == 2,
             what="both jobs started")

    stalled: list[str] = []
    taken: list[str] = []

    async def never(job: AsyncJob) -> None:
        taken.append(job.id)

    watcher = Worker("cpu", never, connection=redis_url, lock_duration=LOCK_MS,
                     stalled_interval=STALLED_MS)
    watcher.on("stalled", lambda job_id, prev: stalled.append(job_id))
    async with running(watcher):
        await wait_until(lambda: queue.get_job_counts("completed")["completed"] == 2,
                         timeout=SECONDS * 4 + 10, interval=0.1)
    assert stalled == []
    assert taken == []
    for job in jobs:
        stored = queue.get_job(job.id)
        assert stored is not None
        assert stored.stalled_counter == 0
        assert stored.attempts_started == 1
        assert stored.return_value["pid"] == cpu_worker.pid
    assert starts_by_job(read_ledgers(tmp_path)) == {job.id: [cpu_worker.pid] for job in jobs}
    assert "lock" not in cpu_worker.stderr()
    cpu_worker.terminate()
    assert await asyncio.to_thread(cpu_worker.proc.wait, 15) == 0
    queue.close()
