"""QueueEvents.on(event, fn) with run()/run_sync() beside iteration, and the events a Queue
emits locally (as BullMQ's Queue: waiting, paused, resumed, removed, cleaned), on a real
redis-server."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from queuecore import AsyncJob, AsyncQueue, Queue, QueueEvent, QueueEvents, Worker
from tests.worker_utils import running, wait_until


@pytest.fixture
def queue(redis_url: str):
    q = Queue("ev", redis_url)
    yield q
    q.close()


async def test_queue_events_on_completed_with_run(queue: Queue, redis_url: str):
    events = QueueEvents("ev", redis_url, block_ms=100)
    completed: list[tuple[str | None, str]] = []
    everything: list[str] = []
    seen_async: list[str] = []

    async def on_failed(event: QueueEvent) -> None:
        await asyncio.sleep(0)
        seen_async.append(event["failedReason"])

    events.on("completed", lambda e: completed.append((e.job_id, e["returnvalue"])))
    events.on("failed", on_failed)
    events.on("*", lambda e: everything.append(e.event))
    dropped = events.on("completed", lambda e: completed.append(("never", "")))
    events.off("completed", dropped)
    events.on("completed", lambda e: 1 / 0)  # a raising listener does not stop the loop
    await events.aread(block_ms=1)  # pins "$" to the stream's end before anything happens
    loop = asyncio.ensure_future(events.run())

    async def process(job: AsyncJob) -> dict[str, int]:
        if job.name == "bad":
            raise ValueError("nope")
        return {"n": job.data["n"]}

    ok = queue.add("ok", {"n": 7})
    bad = queue.add("bad", {"n": 0})
    async with running(Worker("ev", process, connection=redis_url)):
        await wait_until(lambda: completed and seen_async)
    assert completed == [(ok.id, '{"n":7}')]
    assert seen_async == ["nope"]
    assert {"added", "waiting", "active", "completed", "failed"} <= set(everything)
    await events.aclose()
    await asyncio.wait_for(loop, 10)  # run() ends after aclose()
    assert bad.id


async def test_listeners_are_called_while_iterating(queue: Queue, redis_url: str):
    events = QueueEvents("ev", redis_url, last_event_id="0", block_ms=100)
    waiting: list[str | None] = []
    events.on("waiting", lambda e: waiting.append(e.job_id))
    job = queue.add("a", {})
    names = []
    async for event in events:
        names.append(event.event)
        if event.event == "waiting":
            break
    assert waiting == [job.id]
    assert names[-1] == "waiting"
    await events.aclose()


def test_run_sync_in_a_thread_until_close(queue: Queue, redis_url: str):
    events = QueueEvents("ev", redis_url, last_event_id="0", block_ms=100)
    added: list[str | None] = []
    events.on("added", lambda e: added.append(e.job_id))
    thread = threading.Thread(target=events.run_sync)
    thread.start()
    job = queue.add("a", {})
    deadline = threading.Event()
    for _ in range(1000):
        if added:
            break
        deadline.wait(0.01)
    events.close()
    thread.join(10)
    assert not thread.is_alive()
    assert added == [job.id]


def test_a_coroutine_listener_needs_the_async_loop(queue: Queue, redis_url: str, caplog):
    events = QueueEvents("ev", redis_url, last_event_id="0", block_ms=100)

    async def listener(event: QueueEvent) -> None:
        return None

    events.on("added", listener)
    queue.add("a", {})
    assert events.read()  # the listener is refused (logged), the read goes on
    assert "coroutine listener" in caplog.text
    events.close()
    with pytest.raises(ValueError, match="event name"):
        events.on("", print)


def test_queue_emits_locally_like_bullmq(queue: Queue):
    seen: list[tuple[Any, ...]] = []
    queue.on("waiting", lambda job: seen.append(("waiting", job.id)))
    queue.on("paused", lambda: seen.append(("paused",)))
    queue.on("resumed", lambda: seen.append(("resumed",)))
    queue.on("removed", lambda job_id: seen.append(("removed", job_id)))
    queue.on("cleaned", lambda ids, state: seen.append(("cleaned", sorted(ids), state)))
    a = queue.add("a", {}, job_id="mine")
    again = queue.add("a", {}, job_id="mine")  # an existing id: the stored job, still emitted
    queue.add_bulk([{"name": "b", "data": {}}])  # BullMQ's addBulk emits nothing
    queue.pause()
    queue.resume()
    queue.remove(a.id)
    queue.clean(0, 0, "waiting")
    assert seen[:5] == [("waiting", a.id), ("waiting", again.id), ("paused",), ("resumed",),
                        ("removed", a.id)]
    assert seen[5][0] == "cleaned" and seen[5][2] == "wait" and len(seen[5][1]) == 1
    with pytest.raises(ValueError, match="unknown event"):
        queue.on("completed", print)  # a worker's event, not the queue's


async def test_async_queue_emits_to_coroutine_listeners(redis_url: str):
    queue = AsyncQueue("ev", redis_url)
    got: list[str] = []

    async def on_waiting(job: AsyncJob) -> None:
        got.append(job.id)

    queue.on("waiting", on_waiting)
    job = await queue.add("a", {})
    await wait_until(lambda: got == [job.id])
    queue.off("waiting", on_waiting)
    await queue.add("b", {})
    await queue.close()
    assert got == [job.id]
