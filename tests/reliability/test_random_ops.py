"""Case 10: random operations with worker kills, state invariants after every round.

A seeded random loop over add / add delayed / add prioritized / add bulk / take (fetch) /
complete / fail / retry / release / kill a worker / stall check / promote / remove / pause /
resume / clean, plus rounds where a real Worker processes jobs. The fetching and finishing
is done with the very script calls the Worker makes (worker_ops), by simulated workers whose
death is their lock expiring. After every round: each job id lives in exactly one state
structure and has its hash, the job hashes are exactly the jobs the model says exist, the
jobs held by live workers are active under their lock, the dead workers' jobs are active
without one until the stall check gives them back."""

from __future__ import annotations

import asyncio
import random
import zlib
from typing import Any

import pytest
import redis

from queuecore import (
    AsyncJob,
    JobLockedError,
    JobNotFoundError,
    JobNotInStateError,
    Queue,
    UnrecoverableError,
    Worker,
)
from queuecore.base.clock import now_ms
from queuecore.base.options import keep_jobs
from queuecore.commands import worker_ops
from tests.reliability.conftest import scale
from tests.reliability.invariants import check_invariants
from tests.worker_utils import running, wait_until

QUEUE = "rnd"
BASE = f"bull:{QUEUE}:"
SEEDS = scale(5, 25)
OPS = scale(400, 1500)
ROUND = 15
HOLD_MS = 600_000  # simulated workers' locks never expire by themselves during a test
MAX_STALLED = 1


def outcome_of(job_id: str) -> str:
    return ("complete", "complete", "retry", "fail")[zlib.crc32(job_id.encode()) % 4]


async def real_processor(job: AsyncJob) -> str:
    what = outcome_of(job.id)
    if what == "fail":
        raise UnrecoverableError("random failure")
    if what == "retry":
        raise ValueError("random retryable failure")
    return "ok"


class Sim:
    def __init__(self, queue: Queue, r: redis.Redis, rng: random.Random, url: str) -> None:
        self.q, self.r, self.rng, self.url = queue, r, rng, url
        self.keys = queue.keys
        self.alive: set[str] = set()
        self.held: dict[str, str] = {}
        self.dead: set[str] = set()
        self.n = 0
        self.log: list[str] = []

    def token(self) -> str:
        self.n += 1
        return f"sim-{self.n}:1"

    # -- helpers --

    def state(self, job_id: str) -> str:
        return self.q.get_job_state(job_id)

    def pick(self, ids: Any) -> str | None:
        ids = sorted(ids)
        return self.rng.choice(ids) if ids else None

    def take_reply(self, reply: Any, token: str) -> None:
        if reply and reply != 0 and reply[0]:
            job_id = str(reply[1])
            assert job_id in self.alive, f"fetched unknown job {job_id}"
            assert job_id not in self.held and job_id not in self.dead, f"{job_id} fetched twice"
            self.held[job_id] = token

    # -- operations --

    def add(self) -> None:
        kind = self.rng.choice(["plain", "delayed", "delayed-long", "prioritized", "lifo",
                                "attempts", "backoff", "same-id"])
        opts: dict[str, Any] = {
            "plain": {}, "delayed": {"delay": self.rng.choice([1, 5, 30])},
            "delayed-long": {"delay": 60_000}, "prioritized": {"priority": self.rng.randint(1, 5)},
            "lifo": {"lifo": True}, "attempts": {"attempts": 2},
            "backoff": {"attempts": 3, "backoff": {"type": "fixed",
                                                   "delay": self.rng.choice([1, 60_000])}},
            "same-id": {"job_id": f"c{self.rng.randint(0, 9)}"},
        }[kind]
        job = self.q.add(kind, {"k": kind}, **opts)
        self.alive.add(job.id)

    def add_bulk(self) -> None:
        jobs = self.q.add_bulk([{"name": "bulk", "data": {}, "opts": self.rng.choice(
            [{}, {"priority": 2}, {"delay": 2}])} for _ in range(self.rng.randint(1, 5))])
        self.alive.update(job.id for job in jobs)

    def take(self) -> None:
        token = self.token()
        reply = self.q.run_op(worker_ops.move_to_active(self.keys, now_ms(), token, HOLD_MS, 0, 0,
                                                      "sim"))
        self.take_reply(reply, token)

    def finish(self) -> None:
        job_id = self.pick(self.held)
        if job_id is None:
            return
        token = self.held.pop(job_id)
        how = self.rng.choice(["complete", "fail", "retry", "delay", "release"])
        keys, now = self.keys, now_ms()
        if how in ("complete", "fail"):
            next_token = self.token()
            reply = self.q.run_op(worker_ops.move_to_finished(
                keys, job_id, token, now, completed=how == "complete",
                value='"ok"' if how == "complete" else "failed", stacktrace="",
                keep=keep_jobs(None), max_attempts=1, metrics_points=0,
                fetch_next=self.rng.random() < 0.5, next_token=next_token,
                lock_ms=HOLD_MS, limiter_max=0, limiter_ms=0, worker_name="sim"))
            self.take_reply(reply, next_token)
        elif how == "retry":
            self.q.run_op(worker_ops.retry_job(keys, job_id, token, "again", "", False))
        elif how == "delay":
            self.q.run_op(worker_ops.move_to_delayed(keys, job_id, token, now,
                                                   now + self.rng.choice([1, 60_000]),
                                                   count_attempt=True, reason="later"))
        else:
            self.q.run_op(worker_ops.release(keys, job_id, token))

    def kill(self) -> None:
        """A simulated worker dies: the locks of some held jobs expire."""
        victims = [j for j in sorted(self.held) if self.rng.random() < 0.5]
        for job_id in victims:
            del self.held[job_id]
            self.r.delete(self.keys.lock(job_id))
            self.dead.add(job_id)

    def renew(self) -> None:
        if self.held:
            lost = self.q.run_op(worker_ops.extend_locks(self.keys, HOLD_MS, dict(self.held)))
            assert lost == [], lost

    def stall_check(self) -> None:
        self.r.delete(self.keys.stalled_check)
        recovered, _deferred = self.q.run_op(worker_ops.check_stalled(
            self.keys, MAX_STALLED, now_ms(), 60_000))
        assert set(recovered) <= self.dead, f"recovered live jobs: {set(recovered) - self.dead}"
        self.dead -= set(recovered)

    def retry(self) -> None:
        job_id = self.pick(self.alive)
        if job_id is None:
            return
        state = self.state(job_id)
        job = self.q.get_job(job_id)
        assert job is not None
        if state in ("completed", "failed"):
            job.retry(state)
            assert self.state(job_id) in ("waiting", "prioritized")
        else:
            with pytest.raises(JobNotInStateError):
                job.retry("failed")

    def promote(self) -> None:
        job_id = self.pick(self.alive)
        if job_id is None:
            return
        job = self.q.get_job(job_id)
        assert job is not None
        if self.state(job_id) == "delayed":
            job.promote()
            assert self.state(job_id) in ("waiting", "prioritized")
        else:
            with pytest.raises(JobNotInStateError):
                job.promote()

    def remove(self) -> None:
        job_id = self.pick(self.alive)
        if job_id is None:
            return
        if job_id in self.held:
            with pytest.raises(JobLockedError):
                self.q.remove(job_id)
            return
        self.q.remove(job_id)
        self.alive.discard(job_id)
        self.dead.discard(job_id)
        with pytest.raises(JobNotFoundError):
            self.q.remove(job_id)

    def pause(self) -> None:
        self.q.pause()

    def resume(self) -> None:
        self.q.resume()

    def clean(self) -> None:
        state = self.rng.choice(["completed", "failed", "delayed", "waiting", "prioritized",
                                 "active"])
        removed = set(self.q.clean(0, limit=self.rng.randint(0, 3), state=state))
        assert removed <= self.alive
        assert not removed & set(self.held), f"clean removed held jobs {removed & set(self.held)}"
        self.alive -= removed
        self.dead -= removed

    async def process(self) -> None:
        """A real Worker runs for a moment (its own fetch, finish, retry, backoff)."""
        worker = Worker(QUEUE, real_processor, connection=self.url, concurrency=3,
                        skip_stalled_check=True, drain_delay=0.2)
        async with running(worker):
            await asyncio.sleep(self.rng.choice([0.05, 0.1, 0.2]))
        for job_id in self.r.lrange(self.keys.active, 0, -1):
            assert job_id in self.held or job_id in self.dead, f"worker left {job_id} active"

    # -- checks --

    def check(self) -> dict[str, str]:
        where = check_invariants(self.r, BASE)
        assert set(where) == self.alive, (
            f"jobs in Redis but not in the model: {set(where) - self.alive}; "
            f"in the model but not in Redis: {self.alive - set(where)}")
        for job_id, token in self.held.items():
            assert where[job_id] == "active", (job_id, where[job_id])
            assert self.r.get(self.keys.lock(job_id)) == token
        for job_id in self.dead:
            assert where[job_id] == "active", (job_id, where[job_id])
            assert not self.r.exists(self.keys.lock(job_id))
        return where


SYNC_OPS = {"add": 6, "add_bulk": 2, "take": 6, "finish": 6, "kill": 1, "renew": 1,
            "stall_check": 2, "retry": 2, "promote": 2, "remove": 2, "pause": 1, "resume": 2,
            "clean": 1, "process": 1}


@pytest.mark.timeout(scale(120, 1500))
@pytest.mark.parametrize("seed", range(SEEDS))
async def test_random_operations_keep_every_job_in_exactly_one_state(
        redis_url: str, r: redis.Redis, seed: int):
    rng = random.Random(seed)
    queue = Queue(QUEUE, redis_url)
    sim = Sim(queue, r, rng, redis_url)
    names = list(SYNC_OPS)
    weights = [SYNC_OPS[n] for n in names]
    for step in range(OPS):
        name = rng.choices(names, weights)[0]
        sim.log.append(name)
        if name == "process":
            await sim.process()
        else:
            getattr(sim, name)()
        if step % ROUND == ROUND - 1:
            sim.check()
    sim.check()

    # The end: every live worker dies, the stall check gives their jobs back, nothing is
    # delayed any more, and real workers take every job to completed or failed.
    sim.resume()
    for job_id in list(sim.held):
        del sim.held[job_id]
        r.delete(queue.keys.lock(job_id))
        sim.dead.add(job_id)
    sim.stall_check()
    sim.stall_check()
    assert sim.dead == set()
    sim.check()

    async def drained() -> bool:
        queue.promote_jobs()
        counts = queue.get_job_counts("waiting", "active", "delayed", "prioritized")
        return sum(counts.values()) == 0

    async with running(Worker(QUEUE, real_processor, connection=redis_url, concurrency=4,
                              backoff_strategy=lambda *args: 0)):
        await wait_until(drained, timeout=30, interval=0.1)
    where = sim.check()
    assert set(where.values()) <= {"completed", "failed"}
    queue.close()
