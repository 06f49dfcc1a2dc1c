""""Why isn't it running?" on a queue served by a real Node bullmq worker: the worker is
seen (no "no workers" reason), and a pause and the worker's rate limiter are explained."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from dashboard.services import why
from queuecore import Queue
from tests.interop.conftest import NodePeer, _missing_reason
from tests.waiting import wait_until

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("dash_redis")]


@pytest.fixture
def node_peer(dash_redis: str) -> NodePeer:
    reason = _missing_reason()
    if reason is not None:
        pytest.fail(f"interop peer missing: {reason}", pytrace=False)
    node = shutil.which("node")
    assert node is not None
    return NodePeer(node, dash_redis)


Start = Callable[..., Any]


@pytest.fixture
async def node_worker(node_peer: NodePeer) -> AsyncIterator[Start]:
    """Start a Node worker on ``emails`` that runs until the test ends (or ``count`` jobs)."""
    procs: list[asyncio.subprocess.Process] = []

    async def start(count: int = 0, **worker_opts: Any) -> asyncio.subprocess.Process:
        proc = await node_peer.spawn({"queue": "emails", "actions": [
            {"op": "work", "count": count, "timeoutMs": 60_000,
             "workerOpts": {"drainDelay": 1, **worker_opts}}]})
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.returncode is None:
            proc.kill()
        await proc.wait()


def codes(result: why.Why) -> list[str]:
    return [r.code for r in result.reasons]


async def explain(job_id: str) -> why.Why:
    return await asyncio.to_thread(why.why_job, "default", "emails", job_id)


async def test_node_worker_on_a_paused_queue(queue: Queue, node_worker: Start) -> None:
    queue.pause()
    job = queue.add("held", {"return": 1})
    await node_worker()
    await wait_until(lambda: queue.get_workers(), what="the Node worker connected")
    result = await explain(job.id)
    assert "no-workers" not in codes(result)
    assert codes(result)[0] == "paused"
    queue.resume()
    await wait_until(lambda: queue.get_job_state(job.id) == "completed",
                     what="the Node worker ran the job once resumed")
    assert (await explain(job.id)).reasons == ()


async def test_node_worker_rate_limited(queue: Queue, node_worker: Start) -> None:
    first = queue.add("one", {"return": 1})
    second = queue.add("two", {"return": 2})
    await node_worker(limiter={"max": 1, "duration": 60_000})
    await wait_until(lambda: queue.get_job_state(first.id) == "completed",
                     what="the Node worker ran the first job")
    await wait_until(lambda: queue.get_rate_limit_ttl() > 0, what="the limiter set")
    result = await explain(second.id)
    assert "no-workers" not in codes(result)
    limit = next(r for r in result.reasons if r.code == "rate-limit")
    assert limit.at is not None and limit.level == why.BLOCKS
    assert queue.get_job_state(second.id) in ("waiting", "prioritized")


async def test_node_worker_at_global_concurrency(queue: Queue, node_worker: Start) -> None:
    queue.set_global_concurrency(1)
    held = queue.add("held", {"sleepMs": 4000, "return": 1})
    second = queue.add("next", {"return": 2})
    await node_worker(concurrency=2)
    await wait_until(lambda: queue.get_job_state(held.id) == "active",
                     what="the Node worker took the first job")
    result = await explain(second.id)
    full = next(r for r in result.reasons if r.code == "concurrency")
    assert "1 of 1" in full.text
    running = await explain(held.id)
    assert [r.code for r in running.reasons] == ["lock-held"]  # its worker renews the lock
    await wait_until(lambda: queue.get_job_state(second.id) == "completed",
                     what="the second job ran once the first finished")
