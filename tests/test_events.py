"""QueueEvents: the sync and the async iterator over a queue's event stream."""

from __future__ import annotations

import asyncio
import threading

from queuecore import AsyncJob, Queue, QueueEvents, Worker
from tests.worker_utils import running


def test_sync_iterator_yields_new_events_until_closed(redis_url: str) -> None:
    queue = Queue("ev", redis_url)
    queue.add("before", {})  # written before the iterator starts ("$"): not seen
    events = QueueEvents("ev", redis_url, block_ms=50)
    events.read(block_ms=1)  # pins "$" to the current end of the stream
    seen: list[tuple[str, str | None]] = []

    def consume() -> None:
        for event in events:
            seen.append((event.event, event.job_id))
            if len(seen) == 4:
                events.close()

    reader = threading.Thread(target=consume)
    reader.start()
    first = queue.add("a", {})
    second = queue.add("b", {}, delay=60_000)
    reader.join(10)
    assert not reader.is_alive()
    assert seen == [("added", first.id), ("waiting", first.id), ("added", second.id),
                    ("delayed", second.id)]
    queue.close()


async def test_async_iterator_sees_a_job_complete(redis_url: str) -> None:
    queue = Queue("aev", redis_url)
    events = QueueEvents("aev", redis_url, block_ms=50)
    await events.aread(block_ms=1)

    async def process(job: AsyncJob) -> dict[str, int]:
        return {"n": job.data["n"]}

    async def first_completed() -> dict[str, str]:
        async for event in events:
            if event.event == "completed":
                return event.fields
        raise AssertionError("stream ended")

    async with running(Worker("aev", process, connection=redis_url)):
        job = queue.add("x", {"n": 7})
        fields = await asyncio.wait_for(first_completed(), 10)
    await events.aclose()
    assert fields == {"jobId": job.id, "returnvalue": '{"n":7}', "prev": "active"}
    queue.close()
