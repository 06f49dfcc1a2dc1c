"""Workers in their own processes: killed with SIGKILL mid-job, stopped with SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from queuecore import AsyncJob, Queue, Worker
from tests.waiting import wait_for
from tests.worker_utils import running, wait_until

ROOT = Path(__file__).resolve().parent.parent


def start_worker(url: str, queue: str, ledger: Path, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.helpers.run_worker", url, queue, str(ledger), *args],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )


def ledger_lines(ledger: Path) -> list[str]:
    return ledger.read_text().splitlines() if ledger.exists() else []


def wait_for_line(ledger: Path, text: str) -> None:
    wait_for(lambda: any(line.endswith(text) for line in ledger_lines(ledger)),
             what=f"{text!r} in the ledger")


@pytest.fixture
def procs() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
        for stream in (proc.stdout, proc.stderr):
            if stream:
                stream.close()


async def test_sigkilled_worker_job_is_recovered_by_another(redis_url: str, tmp_path: Path,
                                                            procs: list):
    queue = Queue("kill", redis_url)
    job = queue.add("long", {"sleep": 30})
    ledger = tmp_path / "ledger.txt"
    victim = start_worker(redis_url, "kill", str(ledger), "--lock-duration", "1000",
                          "--stalled-interval", "500")
    procs.append(victim)
    wait_for_line(ledger, f"start {job.id}")
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait(10)
    assert queue.get_job_state(job.id) == "active"  # the dead worker left it active

    finished: list[str] = []

    async def process(j: AsyncJob) -> str:
        finished.append(j.id)
        return "recovered"

    stalled: list[str] = []
    rescuer = Worker("kill", process, connection=redis_url, lock_duration=1000,
                     stalled_interval=500)
    rescuer.on("stalled", lambda job_id, prev: stalled.append(job_id))
    async with running(rescuer):
        await wait_until(lambda: finished == [job.id])
    stored = queue.get_job(job.id)
    assert stored is not None
    assert stored.get_state() == "completed"
    assert stored.return_value == "recovered"
    assert stored.stalled_counter == 1
    assert stored.attempts_started == 2
    assert stalled == [job.id]
    queue.close()


def test_sigterm_finishes_active_jobs_then_exits(redis_url: str, tmp_path: Path, procs: list):
    queue = Queue("term", redis_url)
    jobs = [queue.add("j", {"sleep": 0.8}) for _ in range(3)]
    ledger = tmp_path / "ledger.txt"
    worker = start_worker(redis_url, "term", str(ledger), "--concurrency", "2")
    procs.append(worker)
    wait_for_line(ledger, f"start {jobs[1].id}")
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(15) == 0, worker.stderr.read().decode() if worker.stderr else ""
    lines = ledger_lines(ledger)
    assert lines[-1].endswith("exit")
    assert queue.get_job_counts("completed", "waiting", "active") == {
        "completed": 2, "waiting": 1, "active": 0}
    assert f"{worker.pid} start {jobs[2].id}" not in lines  # no fetch after SIGTERM
    queue.close()


def test_sigterm_with_grace_period_puts_long_jobs_back(redis_url: str, tmp_path: Path,
                                                       procs: list):
    queue = Queue("grace", redis_url)
    job = queue.add("very-long", {"sleep": 60})
    ledger = tmp_path / "ledger.txt"
    worker = start_worker(redis_url, "grace", str(ledger), "--shutdown-timeout", "0.5")
    procs.append(worker)
    wait_for_line(ledger, f"start {job.id}")
    t0 = time.monotonic()
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(15) == 0
    assert time.monotonic() - t0 < 5
    assert queue.get_job_state(job.id) == "waiting"
    stored = queue.get_job(job.id)
    assert stored is not None
    assert stored.attempts_made == 0
    queue.close()


async def test_processes_run_cpu_work_in_parallel_and_survive_a_crashing_child(redis_url: str):
    """processes=2: two CPU-bound jobs overlap on two pids; a child that SIGKILLs itself fails
    only that attempt (retried per attempts), and the worker keeps serving."""
    queue = Queue("cpu", redis_url)
    burn = [queue.add("burn", {"seconds": 0.6}) for _ in range(2)]
    worker = Worker("cpu", "tests.helpers.processors:burn_cpu", connection=redis_url,
                    concurrency=2, processes=2)
    async with running(worker):
        await wait_until(lambda: queue.get_job_counts("completed")["completed"] == 2)
    results = [queue.get_job(j.id).return_value for j in burn]  # type: ignore[union-attr]
    assert results[0]["pid"] != results[1]["pid"]
    assert results[0]["start"] < results[1]["end"] and results[1]["start"] < results[0]["end"]
    queue.obliterate(force=True)

    victim = queue.add("victim", {"kill": True}, attempts=2)
    after = queue.add("after", {})
    crashy = Worker("cpu", "tests.helpers.processors:kill_self", connection=redis_url,
                    processes=1)
    async with running(crashy):
        await wait_until(lambda: queue.get_job_state(after.id) == "completed")
        await wait_until(lambda: queue.get_job_state(victim.id) == "failed")
    stored = queue.get_job(victim.id)
    assert stored is not None
    assert stored.attempts_made == 2
    assert "exit" in (stored.failed_reason or "").lower() or "kill" in (
        stored.failed_reason or "").lower()
    assert queue.get_job(after.id).return_value > 0  # type: ignore[union-attr]
    queue.close()
