"""The Worker on a real redis-server: processing, events, priorities, delays, retries."""

from __future__ import annotations

import asyncio
import itertools
import json
import statistics
import threading
import time

import pytest

from queuecore import (
    AsyncJob,
    DataError,
    Job,
    Queue,
    RateLimitError,
    UnrecoverableError,
    Worker,
)
from queuecore.base.clock import now_ms
from queuecore.base.errors import InvalidOptionsError
from tests.worker_utils import LockWatch, blocked_on_marker, events_of, running, wait_until


@pytest.fixture
def queue(redis_url: str):
    q = Queue("work", redis_url)
    yield q
    q.close()


async def test_async_processor_completes_and_stores_result(queue: Queue, redis_url: str, r):
    job = queue.add("greet", {"who": "ada"})
    seen: list[tuple[str, object]] = []

    async def process(j: AsyncJob) -> dict[str, str]:
        await j.update_progress({"step": 1})
        await j.log("hello from the processor")
        return {"hi": j.data["who"]}

    worker = Worker("work", process, connection=redis_url, name="w1")
    worker.on("completed", lambda j, result: seen.append(("completed", result)))
    worker.on("active", lambda j, prev: seen.append(("active", j.id)))
    async with running(worker):
        await wait_until(lambda: len(seen) == 2)

    stored = queue.get_job(job.id)
    assert stored is not None
    assert stored.get_state() == "completed"
    assert stored.return_value == {"hi": "ada"}
    assert stored.attempts_made == 1
    assert stored.attempts_started == 1
    assert stored.progress == {"step": 1}
    assert stored.processed_by == "w1"
    assert stored.processed_on
    assert stored.finished_on
    assert stored.finished_on >= stored.processed_on >= stored.timestamp
    assert queue.get_job_logs(job.id) == (["hello from the processor"], 1)
    assert seen == [("active", job.id), ("completed", {"hi": "ada"})]
    assert r.hget(f"bull:work:{job.id}", "returnvalue") == '{"hi":"ada"}'
    assert r.exists(f"bull:work:{job.id}:lock") == 0
    names = [name for name, _ in events_of(r, "work")]
    assert names[-3:] == ["progress", "completed", "drained"] or "completed" in names
    assert ("completed", {"jobId": job.id, "returnvalue": '{"hi":"ada"}', "prev": "active"}) in \
        events_of(r, "work")


async def test_sync_processor_runs_in_a_thread(queue: Queue, redis_url: str):
    jobs = [queue.add("t", {"n": n}) for n in range(4)]
    threads: set[str] = set()
    main_thread = threading.current_thread().name

    def process(j: Job) -> int:
        threads.add(threading.current_thread().name)
        j.update_progress(100)
        j.log("sync log")
        time.sleep(0.05)
        return int(j.data["n"]) * 2

    async with running(Worker("work", process, connection=redis_url, concurrency=4)):
        await wait_until(lambda: queue.get_job_counts("completed")["completed"] == 4)
    assert main_thread not in threads
    for j in jobs:
        stored = queue.get_job(j.id)
        assert stored is not None
        assert stored.return_value == j.data["n"] * 2
        assert stored.progress == 100
        assert queue.get_job_logs(j.id)[0] == ["sync log"]


async def test_concurrency_runs_jobs_in_parallel(queue: Queue, redis_url: str):
    for n in range(10):
        queue.add("p", {"n": n})
    running_now = 0
    peak = 0
    all_in = asyncio.Event()

    async def process(j: AsyncJob) -> None:
        nonlocal running_now, peak
        running_now += 1
        peak = max(peak, running_now)
        if running_now == 10:
            all_in.set()
        # Each job holds its slot until all ten run at once (not for a fixed time that a slow
        # fetch could outlast); without concurrency this times out and the peak stays low.
        await asyncio.wait_for(all_in.wait(), 30)
        running_now -= 1

    async with running(Worker("work", process, connection=redis_url, concurrency=10)):
        await wait_until(lambda: queue.get_job_counts("completed")["completed"] == 10)
    assert peak == 10


async def test_priorities_in_order_fifo_within_a_priority(queue: Queue, redis_url: str):
    order: list[str] = []
    plan = [("p5a", 5), ("p1a", 1), ("none", 0), ("p5b", 5), ("p1b", 1), ("p3", 3),
            ("p5c", 5), ("p2097151", 2_097_151)]
    for name, priority in plan:
        queue.add(name, {}, priority=priority)

    async def process(j: AsyncJob) -> None:
        order.append(j.name)

    async with running(Worker("work", process, connection=redis_url)):
        await wait_until(lambda: len(order) == len(plan))
    # Jobs without priority (wait) are served first, then by priority, FIFO inside one.
    assert order == ["none", "p1a", "p1b", "p3", "p5a", "p5b", "p5c", "p2097151"]


async def test_delayed_jobs_never_early_and_in_due_order(queue: Queue, redis_url: str, r):
    """An idle worker starts every delayed job, none before its due time, in due order (how
    late it starts them is measured by bench/ S5, not asserted here)."""
    lateness: list[int] = []
    order: list[int] = []

    async def process(j: AsyncJob) -> None:
        lateness.append(now_ms() - (j.timestamp + j.opts["delay"]))
        order.append(j.data["i"])

    async with running(Worker("work", process, connection=redis_url)):
        await wait_until(lambda: blocked_on_marker(r))  # idle, blocked on the marker
        for i in range(20):
            queue.add("d", {"i": i}, delay=150 + i * 43)
            await asyncio.sleep(0.005)
        await wait_until(lambda: len(lateness) == 20)
    print(f"delayed-job lateness ms: median {statistics.median(lateness)}, all {lateness}")
    assert min(lateness) >= 0, "a delayed job ran early"
    assert order == list(range(20))


async def test_delayed_job_promoted_when_nothing_else_happens(queue: Queue, redis_url: str, r):
    done = asyncio.Event()

    async def process(j: AsyncJob) -> None:
        done.set()

    # The worker blocks on the marker for up to drain_delay: far longer than the wait below,
    # so the job only runs if the delayed job's marker wakes the worker.
    worker = Worker("work", process, connection=redis_url, drain_delay=120)
    async with running(worker):
        await wait_until(lambda: blocked_on_marker(r))
        job = queue.add("later", {}, delay=700)
        await asyncio.wait_for(done.wait(), 60)
    stored = queue.get_job(job.id)
    assert stored is not None and stored.processed_on is not None
    assert stored.processed_on >= stored.timestamp + 700, "the delayed job ran early"


async def test_exponential_backoff_gaps_follow_the_formula(queue: Queue, redis_url: str, r):
    starts: list[int] = []

    async def process(j: AsyncJob) -> None:
        starts.append(now_ms())
        raise RuntimeError(f"attempt {len(starts)} failed")

    job = queue.add("flaky", {}, attempts=4, backoff={"type": "exponential", "delay": 150})
    async with running(Worker("work", process, connection=redis_url)):
        await wait_until(lambda: queue.get_job_counts("failed")["failed"] == 1)
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    print(f"exponential backoff gaps ms: {gaps} (expected 150, 300, 600)")
    for gap, expected in zip(gaps, [150, 300, 600], strict=True):
        assert expected <= gap < expected + 120
    stored = queue.get_job(job.id)
    assert stored is not None
    assert stored.attempts_made == 4
    assert stored.failed_reason == "attempt 4 failed"
    assert len(stored.stacktrace) == 4
    assert "RuntimeError: attempt 1 failed" in stored.stacktrace[0]
    names = [name for name, _ in events_of(r, "work")]
    assert names.count("delayed") == 3  # one per retry with backoff (BullMQ writes no failed)
    assert names.count("failed") == 1
    assert names.count("retries-exhausted") == 1


async def test_fixed_backoff_and_retry_without_delay(queue: Queue, redis_url: str):
    attempts: dict[str, int] = {}

    async def process(j: AsyncJob) -> str:
        attempts[j.name] = attempts.get(j.name, 0) + 1
        if attempts[j.name] < 3:
            raise ValueError("not yet")
        return "ok"

    queue.add("fixed", {}, attempts=3, backoff=100)
    queue.add("nodelay", {}, attempts=3)
    async with running(Worker("work", process, connection=redis_url)):
        await wait_until(lambda: queue.get_job_counts("completed")["completed"] == 2)
    assert attempts == {"fixed": 3, "nodelay": 3}
    for job in queue.get_jobs("completed"):
        assert job.attempts_made == 3
        assert job.failed_reason == "not yet"  # the last failure stays on record


async def test_custom_backoff_strategy_and_no_retry(queue: Queue, redis_url: str):
    calls: list[tuple[int, str, str]] = []

    def strategy(attempts_made: int, kind: str, err: BaseException | None,
                 job: object) -> int | None:
        calls.append((attempts_made, kind, str(err)))
        return None if attempts_made >= 2 else 50

    async def process(j: AsyncJob) -> None:
        raise RuntimeError("nope")

    job = queue.add("c", {}, attempts=5, backoff={"type": "linear-ish", "delay": 10})
    async with running(Worker("work", process, connection=redis_url,
                              backoff_strategy=strategy)):
        await wait_until(lambda: queue.get_job_counts("failed")["failed"] == 1)
    assert calls == [(1, "linear-ish", "nope"), (2, "linear-ish", "nope")]
    stored = queue.get_job(job.id)
    assert stored is not None
    assert stored.attempts_made == 2


async def test_unrecoverable_error_fails_at_once(queue: Queue, redis_url: str, r):
    count = 0

    async def process(j: AsyncJob) -> None:
        nonlocal count
        count += 1
        raise UnrecoverableError("bad input, do not retry")

    job = queue.add("u", {}, attempts=5, backoff=10)
    async with running(Worker("work", process, connection=redis_url)):
        await wait_until(lambda: queue.get_job_counts("failed")["failed"] == 1)
    assert count == 1
    stored = queue.get_job(job.id)
    assert stored is not None
    assert stored.failed_reason == "bad input, do not retry"
    assert stored.attempts_made == 1
    # BullMQ writes retries-exhausted only when attempts ran out.
    assert "retries-exhausted" not in [name for name, _ in events_of(r, "work")]


async def test_return_value_that_is_not_json_fails_the_job(queue: Queue, redis_url: str):
    async def process(j: AsyncJob) -> object:
        return {1, 2}

    job = queue.add("bad-result", {})
    async with running(Worker("work", process, connection=redis_url)):
        await wait_until(lambda: queue.get_job_counts("failed")["failed"] == 1)
    stored = queue.get_job(job.id)
    assert stored is not None
    assert "JSON" in (stored.failed_reason or "")


@pytest.mark.parametrize("is_async", [True, False])
async def test_oversized_return_value_fails_the_attempt_and_limits_progress(
        queue: Queue, redis_url: str, is_async: bool):
    """The worker's max_data_size bounds what a processor writes: return value, progress and
    log lines, in async and thread processors alike; the job's data is untouched."""
    def body(report: object) -> object:
        return "x" * 200

    async def process_async(j: AsyncJob) -> object:
        with pytest.raises(DataError, match="progress"):
            await j.update_progress("p" * 200)
        with pytest.raises(DataError, match="log line"):
            await j.log("l" * 200)
        return body(j)

    def process_sync(j: Job) -> object:
        with pytest.raises(DataError, match="progress"):
            j.update_progress("p" * 200)
        with pytest.raises(DataError, match="log line"):
            j.log("l" * 200)
        return body(j)

    job = queue.add("big-result", {"keep": "me"})
    worker = Worker("work", process_async if is_async else process_sync,
                    connection=redis_url, max_data_size=100)
    async with running(worker):
        await wait_until(lambda: queue.get_job_counts("failed")["failed"] == 1)
    stored = queue.get_job(job.id)
    assert stored is not None
    assert stored.failed_reason == ("job return value is 202 bytes of JSON, over the limit "
                                    "of 100")
    assert stored.data == {"keep": "me"}
    assert stored.progress in (0, None)


async def test_none_return_value_is_stored_as_null_and_bounded(queue: Queue, redis_url: str,
                                                                r):
    """A processor returning None stores the JSON ``null``; under a max_data_size smaller
    than those 4 bytes the attempt fails as for any oversized return value."""
    async def process(j: AsyncJob) -> None:
        return None

    job = queue.add("nothing", {})
    async with running(Worker("work", process, connection=redis_url)):
        await wait_until(lambda: queue.get_job_counts("completed")["completed"] == 1)
    assert r.hget(f"bull:work:{job.id}", "returnvalue") == "null"
    done = queue.get_job(job.id)
    assert done is not None and done.return_value is None

    tiny = queue.add("tiny", {})
    async with running(Worker("work", process, connection=redis_url, max_data_size=3)):
        await wait_until(lambda: queue.get_job_counts("failed")["failed"] == 1)
    failed = queue.get_job(tiny.id)
    assert failed is not None
    assert failed.failed_reason == "job return value is 4 bytes of JSON, over the limit of 3"


async def test_remove_on_complete_and_fail(queue: Queue, redis_url: str, r):
    async def process(j: AsyncJob) -> None:
        if j.data.get("fail"):
            raise RuntimeError("x")

    gone = queue.add("gone", {}, remove_on_complete=True)
    kept = [queue.add("kept", {"n": n}, remove_on_complete=2) for n in range(4)]
    failed = [queue.add("f", {"fail": True}, remove_on_fail={"count": 1}) for _ in range(3)]
    async with running(Worker("work", process, connection=redis_url)):
        await wait_until(lambda: queue.get_job_counts("active", "waiting") ==
                         {"active": 0, "waiting": 0} and len(events_of(r, "work")) > 20)
        await wait_until(lambda: r.zcard("bull:work:failed") == 1)
    assert r.exists(f"bull:work:{gone.id}") == 0
    assert r.zrange("bull:work:completed", 0, -1) == [kept[2].id, kept[3].id]
    assert r.exists(f"bull:work:{kept[0].id}") == 0
    assert r.zrange("bull:work:failed", 0, -1) == [failed[2].id]
    assert r.exists(f"bull:work:{failed[0].id}") == 0


async def test_stack_trace_limit(queue: Queue, redis_url: str):
    async def process(j: AsyncJob) -> None:
        raise RuntimeError("again")

    job = queue.add("s", {}, attempts=4, stack_trace_limit=2)
    async with running(Worker("work", process, connection=redis_url)):
        await wait_until(lambda: queue.get_job_counts("failed")["failed"] == 1)
    stored = queue.get_job(job.id)
    assert stored is not None
    assert len(stored.stacktrace) == 2


async def test_move_to_delayed_from_the_processor(queue: Queue, redis_url: str):
    runs: list[int] = []

    async def process(j: AsyncJob) -> str | None:
        runs.append(now_ms())
        if len(runs) == 1:
            await j.move_to_delayed(now_ms() + 200)
            return None
        return "second run"

    job = queue.add("md", {})
    async with running(Worker("work", process, connection=redis_url)):
        await wait_until(lambda: queue.get_job_counts("completed")["completed"] == 1)
    stored = queue.get_job(job.id)
    assert stored is not None
    assert stored.return_value == "second run"
    assert stored.attempts_made == 1  # moving to delayed counts no attempt
    assert runs[1] - runs[0] >= 200


async def test_deferred_failure_fails_without_running(queue: Queue, redis_url: str, r):
    ran = []

    async def process(j: AsyncJob) -> None:
        ran.append(j.id)

    job = queue.add("stalled-too-often", {}, attempts=3)
    r.hset(f"bull:work:{job.id}", "defa", "job stalled more than allowable limit")
    async with running(Worker("work", process, connection=redis_url)):
        await wait_until(lambda: queue.get_job_counts("failed")["failed"] == 1)
    assert ran == []
    stored = queue.get_job(job.id)
    assert stored is not None
    assert stored.failed_reason == "job stalled more than allowable limit"
    assert stored.deferred_failure is None


async def test_a_worker_that_lost_its_lock_leaves_the_job_untouched(queue: Queue, redis_url: str,
                                                                   r):
    release = asyncio.Event()
    lost: list[str] = []

    async def process(j: AsyncJob) -> str:
        await release.wait()
        return "too late"

    job = queue.add("l", {})
    worker = Worker("work", process, connection=redis_url)
    worker.on("lock-lost", lambda job_id, exc: lost.append(job_id))
    async with running(worker):
        await wait_until(lambda: r.exists(f"bull:work:{job.id}:lock"))
        r.set(f"bull:work:{job.id}:lock", "someone-else:1")
        before = r.hgetall(f"bull:work:{job.id}")
        release.set()
        await wait_until(lambda: lost == [job.id])
    assert r.hgetall(f"bull:work:{job.id}") == before
    assert r.lrange("bull:work:active", 0, -1) == [job.id]


async def test_locks_are_renewed_while_a_job_runs(queue: Queue, redis_url: str, r):
    release = asyncio.Event()

    async def process(j: AsyncJob) -> str:
        await asyncio.wait_for(release.wait(), 60)
        return "done"

    job = queue.add("long", {})
    # The job runs until its lock was renewed twice (seen in Redis), not for a fixed time; the
    # lock outlasts a late renewal on a loaded machine (a 400 ms lock did not: a renewal
    # more than 200 ms late let the stall checker take the job).
    worker = Worker("work", process, connection=redis_url, lock_duration=3000,
                    stalled_interval=500)
    stalled: list[str] = []
    worker.on("stalled", lambda job_id, prev: stalled.append(job_id))
    async with running(worker):
        lock = LockWatch(r, f"bull:work:{job.id}:lock")
        await wait_until(lambda: lock.seen() >= 2)
        release.set()
        await wait_until(lambda: queue.get_job_counts("completed")["completed"] == 1)
    assert stalled == []
    stored = queue.get_job(job.id)
    assert stored is not None
    assert stored.attempts_started == 1


async def test_events_drained_and_error_free_idle(queue: Queue, redis_url: str):
    drained = []
    errors = []

    async def process(j: AsyncJob) -> None:
        return None

    worker = Worker("work", process, connection=redis_url)
    worker.on("drained", lambda: drained.append(1))
    worker.on("error", errors.append)
    async with running(worker):
        queue.add("a", {})
        await wait_until(lambda: queue.get_job_counts("completed")["completed"] == 1)
        await wait_until(lambda: drained)
    assert errors == []


async def test_idle_worker_uses_no_cpu(queue: Queue, redis_url: str, r):
    async def process(j: AsyncJob) -> None:
        return None

    async with running(Worker("work", process, connection=redis_url, drain_delay=120,
                              skip_stalled_check=True)):
        await wait_until(lambda: blocked_on_marker(r))
        before = int(r.info("stats")["total_commands_processed"])
        cpu0 = time.process_time()
        await asyncio.sleep(1.0)  # the observation window: nothing should happen in it
        used = time.process_time() - cpu0
        after = int(r.info("stats")["total_commands_processed"])
        still_blocked = blocked_on_marker(r)
    print(f"CPU used by an idle worker over 1 s: {used * 1000:.1f} ms")
    # Idle means blocked in Redis, not polling: over the window Redis saw no command but
    # this test's own INFO (and the CLIENT LIST of the check), and the worker still waits.
    assert after - before <= 2
    assert still_blocked


async def test_paused_queue_is_not_fetched(queue: Queue, redis_url: str, r):
    ran: list[str] = []

    async def process(j: AsyncJob) -> None:
        ran.append(j.id)

    queue.pause()
    job = queue.add("p", {})
    async with running(Worker("work", process, connection=redis_url)):
        # The worker fetched, found the queue paused and went idle: past the point where it
        # would have taken the job.
        await wait_until(lambda: blocked_on_marker(r))
        assert ran == []
        assert r.lrange("bull:work:wait", 0, -1) == [job.id]
        queue.resume()
        await wait_until(lambda: ran == [job.id])


async def test_close_waits_for_active_jobs_and_loses_none(queue: Queue, redis_url: str):
    for n in range(30):
        queue.add("c", {"n": n})
    done: list[int] = []

    async def process(j: AsyncJob) -> None:
        await asyncio.sleep(0.05)
        done.append(j.data["n"])

    worker = Worker("work", process, connection=redis_url, concurrency=5)
    task = asyncio.ensure_future(worker.run())
    await wait_until(lambda: len(done) >= 8)
    await worker.close()
    await task
    counts = queue.get_job_counts("waiting", "active", "completed")
    assert counts["active"] == 0
    assert counts["completed"] == len(done)
    assert counts["waiting"] + counts["completed"] == 30
    async with running(Worker("work", process, connection=redis_url, concurrency=5)):
        await wait_until(lambda: queue.get_job_counts("completed")["completed"] == 30)
    assert sorted(done) == list(range(30))


async def test_close_with_timeout_releases_long_jobs(queue: Queue, redis_url: str, r):
    job = queue.add("slow", {})
    started = asyncio.Event()
    ended: list[str] = []

    async def process(j: AsyncJob) -> None:
        started.set()
        await asyncio.sleep(30)
        ended.append(j.id)

    worker = Worker("work", process, connection=redis_url)
    task = asyncio.ensure_future(worker.run())
    await asyncio.wait_for(started.wait(), 30)
    await worker.close(timeout=0.2)
    await task
    assert ended == []  # close returned without waiting for the job to end
    assert r.lrange("bull:work:wait", 0, -1) == [job.id]
    assert r.llen("bull:work:active") == 0
    assert r.exists(f"bull:work:{job.id}:lock") == 0


def test_worker_options_are_validated(redis_url: str):
    async def process(j: AsyncJob) -> None:
        return None

    with pytest.raises(InvalidOptionsError):
        Worker("work", process, connection=redis_url, concurrency=0)
    with pytest.raises(InvalidOptionsError):
        Worker("work", process, connection=redis_url, lock_duration=-1)
    with pytest.raises(InvalidOptionsError):
        Worker("work", process, connection=redis_url, limiter={"max": 0, "duration": 10})
    with pytest.raises(InvalidOptionsError):
        Worker("work", "not callable", connection=redis_url)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="queue name"):
        Worker("bad:name", process, connection=redis_url)
    worker = Worker("work", process, connection=redis_url)
    with pytest.raises(ValueError, match="unknown event"):
        worker.on("no-such-event", print)


async def test_worker_is_listed_by_get_workers(queue: Queue, redis_url: str):
    async def process(j: AsyncJob) -> None:
        return None

    async with running(Worker("work", process, connection=redis_url, name="billing-1")):
        await wait_until(lambda: queue.get_workers())
        names = [w["name"] for w in queue.get_workers()]
    assert names == ["bull:d29yaw==:w:billing-1"]


async def test_stored_hash_is_bullmq_shaped(queue: Queue, redis_url: str, r):
    async def process(j: AsyncJob) -> list[int]:
        return [1, 2]

    job = queue.add("shape", {"a": 1}, attempts=2)
    async with running(Worker("work", process, connection=redis_url)):
        await wait_until(lambda: queue.get_job_counts("completed")["completed"] == 1)
    h = r.hgetall(f"bull:work:{job.id}")
    assert json.loads(h["data"]) == {"a": 1}
    assert json.loads(h["opts"])["attempts"] == 2
    assert h["returnvalue"] == "[1,2]"
    assert h["atm"] == "1"
    assert h["ats"] == "1"
    assert set(h) >= {"name", "data", "opts", "timestamp", "delay", "priority", "processedOn",
                      "finishedOn", "atm", "ats", "returnvalue"}


async def test_job_timeout_retries_then_fails(queue: Queue, redis_url: str):
    calls: list[int] = []

    async def process(j: AsyncJob) -> str:
        calls.append(now_ms())
        await asyncio.sleep(5)
        return "never"

    job = queue.add("slow", {}, attempts=2, timeout=200)
    async with running(Worker("work", process, connection=redis_url)):
        await wait_until(lambda: queue.get_job_counts("failed")["failed"] == 1)
    stored = queue.get_job(job.id)
    assert stored is not None
    assert stored.attempts_made == 2
    assert "timed out after 200 ms" in (stored.failed_reason or "")
    assert len(calls) == 2


async def test_sync_processor_timeout_abandons_the_thread(queue: Queue, redis_url: str):
    def process(j: Job) -> str:
        time.sleep(1.5)
        return "late"

    job = queue.add("slow-thread", {}, timeout=200)
    async with running(Worker("work", process, connection=redis_url)):
        await wait_until(lambda: queue.get_job_counts("failed")["failed"] == 1)
    stored = queue.get_job(job.id)
    assert stored is not None
    assert "timed out" in (stored.failed_reason or "")


async def test_manual_rate_limit_holds_all_workers(queue: Queue, redis_url: str, r):
    starts: list[int] = []
    limited = False
    worker: Worker

    async def process(j: AsyncJob) -> None:
        nonlocal limited
        if not limited:
            limited = True
            await worker.rate_limit(500)
            raise RateLimitError()
        starts.append(now_ms())

    job = queue.add("rl", {})
    t0 = now_ms()
    worker = Worker("work", process, connection=redis_url)
    async with running(worker):
        await wait_until(lambda: starts)
    assert starts[0] - t0 >= 450
    stored = queue.get_job(job.id)
    assert stored is not None
    assert stored.attempts_made == 1  # the rate-limited try counted no attempt


async def test_progress_events_from_async_and_sync_processors(queue: Queue, redis_url: str):
    seen: list[tuple[str, object]] = []

    async def aprocess(j: AsyncJob) -> None:
        await j.update_progress(10)
        await j.update_progress({"stage": "b"})

    def sprocess(j: Job) -> None:
        j.update_progress(99)

    queue.add("a", {})
    worker = Worker("work", aprocess, connection=redis_url)
    worker.on("progress", lambda job, value: seen.append((job.id, value)))
    async with running(worker):
        await wait_until(lambda: len(seen) == 2)
    queue.add("s", {})
    sworker = Worker("work", sprocess, connection=redis_url)
    sworker.on("progress", lambda job, value: seen.append((job.id, value)))
    async with running(sworker):
        await wait_until(lambda: len(seen) == 3)
    assert seen == [("1", 10), ("1", {"stage": "b"}), ("2", 99)]
