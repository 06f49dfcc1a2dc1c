"""Case 1: worker processes killed with SIGKILL over and over while jobs run.

`make test`: 2,000 jobs, `make soak-reliability`: 10,000; 4 worker processes at concurrency
8, a random one killed (and a new one started) at least 5 times. A ledger outside Redis (one
file per process) counts the executions."""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

import pytest
import redis

from queuecore import Queue
from tests.reliability.conftest import (
    Child,
    read_ledgers,
    scale,
    starts_by_job,
    worker_args,
)
from tests.reliability.invariants import check_invariants
from tests.waiting import wait_for

JOBS = scale(2_000, 10_000)
KILLS = scale(5, 10)
WORKERS = 4
CONCURRENCY = 8
LOCK_MS = 2_000
STALLED_MS = 1_000
MAX_STALLED = 1
QUEUE = "soak"
BASE = f"bull:{QUEUE}:"


def held_by(r: redis.Redis, name: str) -> set[str]:
    """Ids in `active` whose hash says worker ``name`` took them."""
    active = r.lrange(BASE + "active", 0, -1)
    pipe = r.pipeline(transaction=False)
    for job_id in active:
        pipe.hget(BASE + job_id, "pb")
    return {job_id for job_id, pb in zip(active, pipe.execute(), strict=True) if pb == name}


def completed(r: redis.Redis, ids: set[str]) -> bool:
    pipe = r.pipeline(transaction=False)
    for job_id in ids:
        pipe.zscore(BASE + "completed", job_id)
    return all(score is not None for score in pipe.execute())


@pytest.mark.timeout(scale(170, 1500))
def test_sigkilled_workers_lose_no_job_and_rerun_only_killed_ones(redis_url: str,
                                                                  r: redis.Redis,
                                                                  tmp_path: Path, spawn):
    rng = random.Random(20240607)
    ledger_dir = tmp_path / "ledgers"
    ledger_dir.mkdir()
    queue = Queue(QUEUE, redis_url)
    generation = 0

    def start_worker(slot: int) -> tuple[Child, str]:
        nonlocal generation
        generation += 1
        name = f"soak-{slot}-{generation}"
        child = spawn("tests.reliability.proc_worker", *worker_args(
            redis_url, QUEUE, ledger_dir, name=name, concurrency=CONCURRENCY,
            lock_duration=LOCK_MS, stalled_interval=STALLED_MS,
            max_stalled_count=MAX_STALLED))
        return child, name

    t0 = time.monotonic()
    workers = [start_worker(slot) for slot in range(WORKERS)]
    chunks = [JOBS // (KILLS + 1)] * (KILLS + 1)
    chunks[-1] += JOBS - sum(chunks)
    ids: list[str] = []
    killed_pids: set[int] = set()
    held_at_kill: list[set[str]] = []

    def add_chunk(size: int) -> None:
        jobs = queue.add_bulk([{"name": "soak", "data": {"sleep": round(rng.uniform(0.01, 0.1),
                                                                         3)}}
                               for _ in range(size)])
        ids.extend(job.id for job in jobs)

    for k in range(KILLS):
        if held_at_kill:  # one kill at a time: the last victim's jobs are done again first
            wait_for(lambda: completed(r, held_at_kill[-1]), 30,
                     what=f"recovery of the jobs of kill {k}")
        add_chunk(chunks[k])
        time.sleep(rng.uniform(0.1, 0.5))
        holding = wait_for(lambda: [s for s, (_, name) in enumerate(workers)
                                    if held_by(r, name)], 15, what="a worker holding jobs")
        slot = rng.choice(holding)
        victim, name = workers[slot]
        victim.kill()  # SIGKILL, then reaped
        killed_pids.add(victim.pid)
        held = held_by(r, name)  # the dead worker can change nothing any more: exact
        held_at_kill.append(held)
        workers[slot] = start_worker(slot)
    add_chunk(chunks[-1])

    wait_for(lambda: r.zcard(BASE + "completed") == JOBS, scale(120, 1200), interval=0.2,
             what=f"all {JOBS} jobs completed")
    elapsed = time.monotonic() - t0
    for child, _ in workers:
        child.terminate()
    for child, _ in workers:
        assert child.proc.wait(20) == 0, child.stderr()[-2000:]
    for child, _ in workers:
        assert all(
            "Traceback" not in line for line in child.stderr().splitlines()), child.stderr()

    # Redis: every job completed, nothing anywhere else, structures consistent.
    assert queue.get_job_counts("waiting", "active", "delayed", "prioritized", "failed",
                                "completed") == {
        "waiting": 0, "active": 0, "delayed": 0, "prioritized": 0, "failed": 0,
        "completed": JOBS}
    assert len(set(ids)) == JOBS
    check_invariants(r, BASE)

    # The ledger outside Redis: every job ran; the re-runs are the killed workers' jobs only.
    starts = starts_by_job(read_ledgers(ledger_dir))
    held_any = set().union(*held_at_kill)
    assert set(starts) == set(ids), "jobs that never ran: " + str(set(ids) - set(starts))
    rerun = {job_id: pids for job_id, pids in starts.items() if len(pids) > 1}
    too_many = {job_id: pids for job_id, pids in starts.items()
                if len(pids) > MAX_STALLED + 1}
    assert not too_many, f"ran more than max_stalled_count + 1 times: {too_many}"
    for job_id, pids in rerun.items():
        assert job_id in held_any, f"job {job_id} ran {len(pids)} times but no kill held it"
        survivors = [pid for pid in pids if pid not in killed_pids]
        assert len(survivors) <= 1, f"job {job_id} ran twice on live workers: {pids}"

    pipe = r.pipeline(transaction=False)
    for job_id in ids:
        pipe.hmget(BASE + job_id, "stc", "ats", "returnvalue")
    for job_id, (stc, ats, value) in zip(ids, pipe.execute(), strict=True):
        stalls = int(stc or 0)
        assert stalls == (1 if job_id in held_any else 0), (job_id, stalls)
        assert int(ats) >= len(starts[job_id])
        assert json.loads(value)["pid"] in starts[job_id]
    print(f"\n{JOBS} jobs, {len(killed_pids)} SIGKILLs, {sum(len(h) for h in held_at_kill)} "
          f"jobs held by killed workers, {len(rerun)} ran twice, in {elapsed:.1f} s")
    assert len(killed_pids) >= 5
    queue.close()
