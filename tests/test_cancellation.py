"""Cancelling running jobs: a processor that takes a CancelSignal (async, thread and child
process), Worker.cancel_job / cancel_all_jobs, and request_cancel from another process
through the queue's cancel channel, on a real redis-server."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from queuecore import (
    AsyncJob,
    AsyncQueue,
    CancelSignal,
    InvalidOptionsError,
    Job,
    JobCancelledError,
    Queue,
    Worker,
    arequest_cancel,
    request_cancel,
)
from queuecore.commands.worker_ops import relay_cancel_topic
from queuecore.worker.options import takes_cancel_signal
from tests.worker_utils import running, wait_until


@pytest.fixture
def queue(redis_url: str):
    q = Queue("cx", redis_url)
    yield q
    q.close()


def failed_reason(queue: Queue, job_id: str) -> str | None:
    job = queue.get_job(job_id)
    return None if job is None or job.get_state() != "failed" else job.failed_reason


async def test_async_processor_cancelled_fails_for_good(queue: Queue, redis_url: str):
    started = asyncio.Event()
    seen: list[Any] = []

    async def process(job: AsyncJob, signal: CancelSignal) -> str:
        signal.add_callback(seen.append)
        started.set()
        reason = await signal.wait()
        seen.append(signal.cancelled)
        assert reason == signal.reason
        signal.raise_if_cancelled()
        return "not reached"

    failures: list[BaseException] = []
    worker = Worker("cx", process, connection=redis_url)
    worker.on("failed", lambda job, exc, prev: failures.append(exc))
    job = queue.add("long", {}, attempts=3)
    async with running(worker):
        await asyncio.wait_for(started.wait(), 10)
        assert worker.cancel_job("no-such-job") is False
        assert worker.cancel_job(job.id, "user asked") is True
        await wait_until(lambda: failed_reason(queue, job.id) == "user asked")
    assert seen == ["user asked", True]
    assert isinstance(failures[0], JobCancelledError)
    stored = queue.get_job(job.id)
    assert stored is not None and stored.attempts_made == 1  # no retry of a cancelled job
    assert worker.cancel_job(job.id) is False  # no longer running


async def test_processor_without_signal_is_not_cancellable(queue: Queue, redis_url: str):
    release = asyncio.Event()

    async def process(job: AsyncJob) -> str:
        await release.wait()
        return "done"

    worker = Worker("cx", process, connection=redis_url)
    job = queue.add("a", {})
    async with running(worker):
        await wait_until(lambda: worker.active_count == 1)
        assert worker.cancel_job(job.id) is False  # as BullMQ: no signal, nothing to cancel
        release.set()
        await wait_until(lambda: queue.get_job_state(job.id) == "completed")


async def test_thread_processors_and_cancel_all_jobs(queue: Queue, redis_url: str):
    threads: set[str] = set()

    def process(job: Job, signal: CancelSignal) -> str:
        threads.add(threading.current_thread().name)
        while not signal.wait_sync(0.05):
            pass
        signal.raise_if_cancelled()
        return "not reached"

    worker = Worker("cx", process, connection=redis_url, concurrency=2)
    jobs = [queue.add("a", {}), queue.add("b", {})]
    async with running(worker):
        await wait_until(lambda: worker.active_count == 2 and len(threads) == 2)
        worker.cancel_all_jobs("shutting down")
        await wait_until(lambda: all(failed_reason(queue, j.id) == "shutting down"
                                     for j in jobs))
    assert all(name != threading.main_thread().name for name in threads)


async def test_process_processor_receives_the_cancel(queue: Queue, redis_url: str):
    worker = Worker("cx", "tests.helpers.processors:wait_for_cancel", connection=redis_url,
                    processes=1)
    job = queue.add("long", {})
    async with running(worker):
        await wait_until(lambda: queue.get_job_logs(job.id)[1] == 1, timeout=30)
        assert worker.cancel_job(job.id, "stop it") is True
        await wait_until(lambda: failed_reason(queue, job.id) == "stop it", timeout=20)
        # The child is still serving: the next job runs there.
        other = queue.add("next", {})
        await wait_until(lambda: queue.get_job_logs(other.id)[1] == 1, timeout=20)
        worker.cancel_all_jobs()
        await wait_until(lambda: failed_reason(queue, other.id) == "the job was cancelled",
                         timeout=20)
    stored = queue.get_job(job.id)
    assert stored is not None and "JobCancelledError" in stored.stacktrace[0]


async def test_request_cancel_reaches_the_worker_running_the_job(queue: Queue, redis_url: str):
    async def process(job: AsyncJob, signal: CancelSignal) -> str:
        await job.log("started")
        await signal.wait()
        signal.raise_if_cancelled()
        return "not reached"

    async def idle(job: AsyncJob) -> None:
        return None

    other_queue = AsyncQueue("cx", redis_url)
    busy = Worker("cx", process, connection=redis_url, remote_cancel=True)
    bystander = Worker("cx", idle, connection=redis_url, remote_cancel=True)
    deaf = Worker("cx", idle, connection=redis_url)  # not listening
    job = queue.add("long", {})
    async with running(busy):
        await wait_until(lambda: queue.get_job_logs(job.id)[1] == 1)
        async with running(bystander), running(deaf):
            await wait_until(lambda: bystander.running and deaf.running)
            request_cancel(queue, "someone-else")  # runs nowhere: a no-op for every worker
            heard = 0

            async def ask() -> bool:
                nonlocal heard
                heard = await arequest_cancel(other_queue, job.id, "from the web app")
                return heard >= 2  # both listening workers subscribed

            await wait_until(ask)
            await wait_until(lambda: failed_reason(queue, job.id) == "from the web app")
    assert heard == 2
    with pytest.raises(InvalidOptionsError):
        request_cancel(queue, "")
    await other_queue.close()


async def test_malformed_cancel_requests_are_ignored(queue: Queue, redis_url: str, r):
    async def process(job: AsyncJob, signal: CancelSignal) -> str:
        await job.log("started")
        await signal.wait()
        return f"cancelled: {signal.reason}"

    worker = Worker("cx", process, connection=redis_url, remote_cancel=True)
    job = queue.add("a", {})
    async with running(worker):
        await wait_until(lambda: queue.get_job_logs(job.id)[1] == 1)
        for junk in ("not json", "[1, 2]", '{"reason": "x"}', '{"jobId": true}'):
            r.publish("bull:jobs.cx.cancel", junk)
        await wait_until(lambda: r.publish("bull:jobs.cx.cancel",
                                           f'{{"jobId": "{job.id}", "reason": "ok"}}') == 1
                         and queue.get_job_state(job.id) == "completed")
    stored = queue.get_job(job.id)
    assert stored is not None and stored.return_value == "cancelled: ok"


def test_cancel_signal_from_other_threads() -> None:
    signal = CancelSignal()
    assert not signal.cancelled and signal.reason is None
    signal.raise_if_cancelled()  # not cancelled: nothing

    async def waiter() -> str | None:
        return await signal.wait()

    async def main() -> str | None:
        task = asyncio.ensure_future(waiter())
        await asyncio.sleep(0)
        threading.Thread(target=signal.cancel, args=("from a thread",)).start()
        return await asyncio.wait_for(task, 10)

    assert asyncio.run(main()) == "from a thread"
    assert signal.cancel("again") is False
    assert signal.reason == "from a thread"
    late: list[str | None] = []
    signal.add_callback(late.append)  # already cancelled: called at once
    assert late == ["from a thread"]
    assert signal.wait_sync(0) is True
    with pytest.raises(JobCancelledError, match="from a thread"):
        signal.raise_if_cancelled()


def test_how_a_processor_opts_in() -> None:
    def one(job: Any) -> None: ...
    def two(job: Any, signal: Any) -> None: ...
    def star(job: Any, *args: Any) -> None: ...
    def keyword_only(job: Any, *, signal: Any = None) -> None: ...

    class Method:
        def __call__(self, job: Any, signal: Any) -> None: ...

    assert [takes_cancel_signal(f) for f in (one, two, star, keyword_only, Method(), len)] \
        == [False, True, True, False, True, False]


def test_relay_topic_encoding() -> None:
    assert relay_cancel_topic("exports") == "jobs.exports.cancel"
    assert relay_cancel_topic("a.b c/é") == "jobs.a%2Eb%20c%2F%C3%A9.cancel"


def test_no_relay_no_relay_keys(redis_url: str, r) -> None:
    queue = Queue("q-no-relay", redis_url)
    assert request_cancel(queue, "1") == 0
    assert r.keys("bull::relay*") == []
    queue.close()
