"""Manual processing (a Worker without a processor, get_next_job, the Job's moves with a
token, extend_lock) and move_to_waiting_children with WaitingChildrenError, on a real
redis-server. Bad input gets the typed errors and writes nothing."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from queuecore import (
    AsyncJob,
    AsyncQueue,
    InvalidOptionsError,
    JobNotInStateError,
    LockMismatchError,
    LockNotFoundError,
    Queue,
    QueueCoreError,
    UnrecoverableError,
    WaitingChildrenError,
    Worker,
)
from queuecore.base.errors import FailedChildrenError
from tests.worker_utils import running, wait_until


@pytest.fixture
def queue(redis_url: str):
    q = Queue("manual", redis_url)
    yield q
    q.close()


@pytest.fixture
async def manual(redis_url: str):
    worker = Worker("manual", None, connection=redis_url, drain_delay=0.2)
    yield worker
    await worker.close()


def snapshot(r: Any, job_id: str) -> tuple[Any, ...]:
    """What a refused move must leave as it was."""
    base = f"bull:manual:{job_id}"
    return (r.hgetall(base), r.get(base + ":lock"), r.lrange("bull:manual:active", 0, -1),
            r.zrange("bull:manual:completed", 0, -1), r.zrange("bull:manual:failed", 0, -1),
            r.lrange("bull:manual:wait", 0, -1), r.xlen("bull:manual:events"))


async def test_get_next_job_and_move_to_completed(queue: Queue, manual: Worker, r):
    added = queue.add("a", {"n": 1})
    job = await manual.get_next_job("tok-1", block=False)
    assert job is not None
    assert job.id == added.id and job.token == "tok-1" and job.data == {"n": 1}
    assert await job.get_state() == "active"
    assert r.get(f"bull:manual:{added.id}:lock") == "tok-1"
    await job.move_to_completed({"done": True}, "tok-1")
    stored = queue.get_job(added.id)
    assert stored is not None
    assert stored.get_state() == "completed"
    assert stored.return_value == {"done": True}
    assert stored.attempts_made == 1
    assert r.get(f"bull:manual:{added.id}:lock") is None
    assert await manual.get_next_job("tok-2", block=False) is None


async def test_get_next_job_blocks_until_a_job_is_added(queue: Queue, manual: Worker):
    waiting = asyncio.ensure_future(manual.get_next_job("tok"))
    await asyncio.sleep(0.05)
    queue.add("late", {})
    job = await asyncio.wait_for(waiting, 10)
    if job is None:  # the add came after the wait's drain_delay: one more wait finds it
        job = await manual.get_next_job("tok")
    assert job is not None
    assert job.name == "late"
    assert job.token == "tok"


async def test_wrong_token_and_wrong_state_write_nothing(queue: Queue, manual: Worker, r):
    added = queue.add("a", {})
    job = await manual.get_next_job("mine", block=False)
    assert job is not None
    before = snapshot(r, job.id)
    with pytest.raises(LockMismatchError):
        await job.move_to_completed(1, "theirs")
    with pytest.raises(LockMismatchError):
        await job.move_to_failed(ValueError("x"), "theirs")
    with pytest.raises(LockMismatchError):
        await job.extend_lock("theirs", 60_000)
    with pytest.raises(LockMismatchError):
        await job.move_to_waiting_children("theirs")
    with pytest.raises(InvalidOptionsError):
        await job.move_to_failed("not an exception", "mine")  # type: ignore[arg-type]
    with pytest.raises(InvalidOptionsError):
        await job.extend_lock("mine", 0)
    assert snapshot(r, job.id) == before
    # Never fetched: no lock to own; a job read without a token has none to give.
    other = await manual.queue.add("b", {})
    before_other = snapshot(r, other.id)
    with pytest.raises(LockNotFoundError):
        await other.move_to_completed(1, "mine")
    with pytest.raises(InvalidOptionsError, match="token"):
        await other.move_to_completed(1)
    assert snapshot(r, other.id) == before_other
    # Finished: no longer active.
    await job.move_to_completed(1, "mine")
    r.set(f"bull:manual:{added.id}:lock", "mine")  # even with a lock, not in active
    with pytest.raises(JobNotInStateError):
        await job.move_to_failed(ValueError("late"), "mine")


async def test_extend_lock(queue: Queue, redis_url: str, r):
    worker = Worker("manual", None, connection=redis_url, lock_duration=1000)
    try:
        queue.add("a", {})
        job = await worker.get_next_job("t", block=False)
        assert job is not None
        assert 0 < r.pttl(f"bull:manual:{job.id}:lock") <= 1000
        await job.extend_lock("t", 60_000)
        assert r.pttl(f"bull:manual:{job.id}:lock") > 50_000
        r.delete(f"bull:manual:{job.id}:lock")
        with pytest.raises(LockNotFoundError):
            await job.extend_lock("t", 60_000)
    finally:
        await worker.close()


async def test_move_to_failed_retries_then_fails(queue: Queue, manual: Worker):
    added = queue.add("a", {}, attempts=2, backoff=60_000)
    job = await manual.get_next_job("t", block=False)
    assert job is not None
    await job.move_to_failed(ValueError("first"), "t")
    stored = queue.get_job(added.id)
    assert stored is not None
    assert stored.get_state() == "delayed"  # retried after the backoff
    assert stored.failed_reason == "first"
    assert stored.attempts_made == 1
    stored.promote()
    job = await manual.get_next_job("t2", block=False)
    assert job is not None
    await job.move_to_failed(ValueError("second"), "t2")
    stored = queue.get_job(added.id)
    assert stored is not None
    assert stored.get_state() == "failed"
    assert stored.failed_reason == "second"
    assert len(stored.stacktrace) == 2
    # UnrecoverableError: failed for good even with attempts left.
    other = queue.add("b", {}, attempts=5)
    job = await manual.get_next_job("t3", block=False)
    assert job is not None and job.id == other.id
    await job.move_to_failed(UnrecoverableError("stop"), "t3")
    assert queue.get_job_state(other.id) == "failed"


async def test_worker_without_processor_does_not_run(manual: Worker):
    with pytest.raises(QueueCoreError, match="get_next_job"):
        await manual.run()
    with pytest.raises(InvalidOptionsError):
        await manual.get_next_job("")


async def test_get_next_job_needs_a_manual_worker(redis_url: str):
    async def process(job: AsyncJob) -> None:
        return None

    worker = Worker("manual", process, connection=redis_url)
    with pytest.raises(QueueCoreError, match="without a processor"):
        await worker.get_next_job("t")
    with pytest.raises(InvalidOptionsError):
        Worker("manual", None, connection=redis_url, processes=2)


async def test_processor_adds_children_waits_and_runs_again(redis_url: str, r):
    """The documented pattern: a processor adds children at run time, moves its job to
    waiting-children, raises WaitingChildrenError, and runs again when they are done."""
    parents = AsyncQueue("manual", redis_url)
    runs: list[str] = []

    async def process(job: AsyncJob) -> Any:
        if job.name == "child":
            return job.data["n"] * 10
        runs.append("parent")
        values = await job.get_children_values()
        if values:
            return sorted(values.values())
        for n in (1, 2):
            await parents.add("child", {"n": n},
                              parent={"id": job.id, "queue": "manual"})
        assert await job.move_to_waiting_children(job.token)
        raise WaitingChildrenError()

    q = Queue("manual", redis_url)
    parent = q.add("parent", {})
    worker = Worker("manual", process, connection=redis_url)
    async with running(worker):
        await wait_until(lambda: q.get_job_state(parent.id) == "completed")
    await parents.close()
    stored = q.get_job(parent.id)
    assert stored is not None
    assert stored.return_value == [10, 20]
    assert runs == ["parent", "parent"]
    events = [f["event"] for _, f in r.xrange("bull:manual:events")
              if f.get("jobId") == parent.id]
    assert "waiting-children" in events
    q.close()


async def test_move_to_waiting_children_without_pending_children(queue: Queue,
                                                                manual: Worker, r):
    queue.add("p", {})
    job = await manual.get_next_job("t", block=False)
    assert job is not None
    before = snapshot(r, job.id)
    assert await job.move_to_waiting_children("t") is False  # nothing pending: go on
    assert snapshot(r, job.id) == before
    child = queue.add("c", {}, parent={"id": job.id, "queue": "manual"})
    assert await job.move_to_waiting_children("t", child_key="bull:manual:nope") is False
    assert await job.move_to_waiting_children("t", child_key=f"bull:manual:{child.id}")
    assert queue.get_job_state(job.id) == "waiting-children"
    assert r.get(f"bull:manual:{job.id}:lock") is None


async def test_move_to_waiting_children_refused_after_a_child_failed_the_parent(
        queue: Queue, manual: Worker, r):
    queue.add("p", {})
    job = await manual.get_next_job("t", block=False)
    assert job is not None
    queue.add("c", {}, parent={"id": job.id, "queue": "manual"})
    r.zadd(f"bull:manual:{job.id}:unsuccessful", {"bull:manual:gone": 1})
    before = snapshot(r, job.id)
    with pytest.raises(FailedChildrenError):
        await job.move_to_waiting_children("t")
    assert snapshot(r, job.id) == before


async def test_thread_processor_waits_for_children_too(redis_url: str):
    """The same pattern from a plain ``def`` processor (its sync ``Job``)."""
    from queuecore import Job

    def process(job: Job) -> Any:
        if job.name == "child":
            return "c"
        values = job.get_children_values()
        if values:
            return list(values.values())
        with Queue("manual", redis_url) as q:
            q.add("child", {}, parent={"id": job.id, "queue": "manual"})
        # concurrency=1: the child cannot run before its parent gives the slot back
        assert job.move_to_waiting_children()
        raise WaitingChildrenError()

    q = Queue("manual", redis_url)
    parent = q.add("parent", {})
    async with running(Worker("manual", process, connection=redis_url)):
        await wait_until(lambda: q.get_job_state(parent.id) == "completed")
    stored = q.get_job(parent.id)
    assert stored is not None and stored.return_value == ["c"]
    q.close()


async def test_a_processor_that_moved_its_job_loses_no_lock(redis_url: str):
    """After its own move the job's lock is gone with it: the renewal stops for that job
    instead of reporting lock-lost while the processor winds down."""
    from queuecore import DelayedError
    from queuecore.base.clock import now_ms

    lost: list[Any] = []
    rounds = asyncio.Event()

    async def process(job: AsyncJob) -> None:
        await job.move_to_delayed(now_ms() + 60_000)
        # Wind down across several renewal rounds (every 100 ms) before raising.
        for _ in range(5):
            await asyncio.sleep(0.1)
        rounds.set()
        raise DelayedError()

    q = Queue("manual", redis_url)
    job = q.add("a", {})
    worker = Worker("manual", process, connection=redis_url, lock_duration=200)
    worker.on("lock-lost", lambda job_id, exc: lost.append(job_id))
    async with running(worker):
        await asyncio.wait_for(rounds.wait(), 10)
        await wait_until(lambda: worker.active_count == 0)
    assert q.get_job_state(job.id) == "delayed"
    assert lost == []
    q.close()
