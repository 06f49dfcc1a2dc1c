"""Case 9: SIGTERM with jobs in flight: the jobs that end within the grace period finish,
the worker exits, and jobs longer than the grace period are back in `wait` at once (not
after a stall check), with no attempt counted."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest
import redis

from queuecore import Queue
from tests.reliability.conftest import read_ledgers, starts_by_job, worker_args
from tests.waiting import wait_for

GRACE = 3.0
BASE = "bull:term:"


@pytest.mark.parametrize("mode", [
    "sleep",
    "sync-sleep",
])
def test_sigterm_finishes_short_jobs_and_gives_long_ones_back_at_once(
        redis_url: str, r: redis.Redis, tmp_path: Path, spawn, mode: str):
    queue = Queue("term", redis_url)
    short = [queue.add("short", {"sleep": 1.0}) for _ in range(2)]
    long = [queue.add("long", {"sleep": 60}) for _ in range(2)]
    waiting = queue.add("never-started", {"sleep": 0})
    ledgers = tmp_path / "ledgers"
    ledgers.mkdir()
    worker = spawn("tests.reliability.proc_worker", *worker_args(
        redis_url, "term", ledgers, mode=mode, concurrency=4, shutdown_timeout=GRACE))
    wait_for(lambda: len(starts_by_job(read_ledgers(ledgers))) == 4,
             what="four jobs in flight")
    t0 = time.monotonic()
    worker.proc.send_signal(signal.SIGTERM)
    wait_for(lambda: read_ledgers(ledgers)[worker.pid][-1] == "exit", what="run_sync() returned")
    # "At once" is shown by the state below (the 60 s jobs are back, unstarted), not by a
    # time limit; the time it took is printed.
    print(f"stopped {time.monotonic() - t0:.1f} s after SIGTERM (grace {GRACE} s)")
    lines = read_ledgers(ledgers)[worker.pid]
    for job in short:
        assert f"end {job.id}" in lines
        assert queue.get_job_state(job.id) == "completed"
    # Right at exit, with no stall check having run: the long jobs wait again, unharmed.
    assert r.lrange(BASE + "active", 0, -1) == []
    assert sorted(r.lrange(BASE + "wait", 0, -1)) == sorted([waiting.id, *(j.id for j in long)])
    for job in long:
        stored = queue.get_job(job.id)
        assert stored is not None
        assert stored.attempts_made == 0
        assert stored.stalled_counter == 0
        assert stored.failed_reason is None
        assert r.exists(BASE + job.id + ":lock") == 0
    assert r.scard(BASE + "stalled") == 0
    # ... and the process is gone, with exit status 0.
    try:
        code = worker.proc.wait(2)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the worker process still runs {time.monotonic() - t0:.1f} s after "
                    f"SIGTERM although its worker stopped")
    assert code == 0, worker.stderr()
    queue.close()
