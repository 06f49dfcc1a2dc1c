"""Dead-letter queues: exactly the jobs that failed for good arrive, and can be replayed."""

from __future__ import annotations

import pytest

from queuecore import (
    AsyncJob,
    JobNotFoundError,
    JobNotInStateError,
    Queue,
    UnrecoverableError,
    Worker,
)
from tests.worker_utils import events_of, running, wait_until


@pytest.fixture
def queues(redis_url: str):
    main, dlq = Queue("orders", redis_url), Queue("orders-dead", redis_url)
    yield main, dlq
    main.close()
    dlq.close()


async def test_dead_letter_queue_receives_exactly_the_exhausted_jobs(queues, redis_url, r):
    main, dlq = queues
    plan = {"ok": 0, "flaky": 1, "doomed": 99, "fatal": 0}

    seen: dict[str, int] = {}

    async def process(job: AsyncJob) -> str:
        seen[job.name] = seen.get(job.name, 0) + 1
        if job.name == "fatal":
            raise UnrecoverableError("bad order")
        if seen[job.name] <= plan[job.name]:
            raise RuntimeError(f"{job.name} failed try {seen[job.name]}")
        return "done"

    jobs = {name: main.add(name, {"order": name}, attempts=3) for name in plan}
    main.get_job(jobs["doomed"].id).log("first line")  # type: ignore[union-attr]
    async with running(Worker("orders", process, connection=redis_url,
                              dead_letter_queue="orders-dead")):
        await wait_until(lambda: dlq.get_job_counts("failed")["failed"] == 2)
        await wait_until(lambda: main.get_job_counts("completed")["completed"] == 2)

    dead = {job.name: job for job in dlq.get_jobs("failed")}
    assert set(dead) == {"doomed", "fatal"}
    doomed = dead["doomed"]
    assert doomed.data == {"order": "doomed"}
    assert doomed.opts["attempts"] == 3
    assert doomed.failed_reason == "doomed failed try 3"
    assert doomed.attempts_made == 3
    assert len(doomed.stacktrace) == 3
    assert doomed.dead_letter_origin is not None
    assert doomed.dead_letter_origin["queue"] == "orders"
    assert doomed.dead_letter_origin["jobId"] == jobs["doomed"].id
    assert dlq.get_job_logs(doomed.id) == (["first line"], 1)
    assert dead["fatal"].failed_reason == "bad order"
    # They left the origin queue; the completed ones stayed.
    assert main.get_job_counts("failed", "completed") == {"failed": 0, "completed": 2}
    assert r.exists(f"bull:orders:{jobs['doomed'].id}") == 0
    assert ("removed", {"jobId": jobs["doomed"].id, "prev": "failed"}) in events_of(r, "orders")


async def test_replay_sends_a_fresh_job_back(queues, redis_url):
    main, dlq = queues
    attempts: list[int] = []

    async def process(job: AsyncJob) -> str:
        attempts.append(job.attempts_made)
        if job.data.get("broken", True):
            raise RuntimeError("still broken")
        return "fixed"

    original = main.add("pay", {"broken": True}, attempts=2)
    async with running(Worker("orders", process, connection=redis_url,
                              dead_letter_queue="orders-dead")):
        await wait_until(lambda: dlq.get_job_counts("failed")["failed"] == 1)
    [dead] = dlq.get_jobs("failed")
    new_id = dlq.replay_dead_letter(dead.id)
    assert new_id == original.id  # the old id was free again
    replayed = main.get_job(new_id)
    assert replayed is not None
    assert replayed.get_state() == "waiting"
    assert replayed.attempts_made == 0
    assert replayed.data == {"broken": True}
    assert dlq.get_job_counts("failed")["failed"] == 0
    with pytest.raises(JobNotFoundError):
        dlq.replay_dead_letter(dead.id)


def test_replay_many_and_manual_move(queues, redis_url):
    main, dlq = queues
    from tests.queue_helpers import run_to

    failed_ids = [run_to(main, "failed") for _ in range(3)]
    moved = [main.move_to_dead_letter(job_id, "orders-dead") for job_id in failed_ids]
    assert dlq.get_job_counts("failed")["failed"] == 3
    replayed = dlq.replay_dead_letters()
    assert sorted(replayed) == sorted(failed_ids)
    assert main.get_job_counts("waiting")["waiting"] == 3
    assert len(moved) == 3
    waiting = main.add("w", {})
    with pytest.raises(JobNotInStateError):
        main.move_to_dead_letter(waiting.id, "orders-dead")
