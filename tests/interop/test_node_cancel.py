"""queuecore -> Node bullmq 6.7: request_cancel reaches a Node worker that follows BullMQ's
guide (a Relay subscription to ``jobs.<queue>.cancel`` calling ``worker.cancelJob``), through
the Relay's own inboxes; the Node side aborts the job and queuecore reads it failed."""

from __future__ import annotations

import asyncio

import pytest

from queuecore import Queue, request_cancel
from tests.worker_utils import wait_until

from .conftest import NodePeer

pytestmark = pytest.mark.interop


async def test_queuecore_cancels_a_job_running_on_node(node_peer: NodePeer,
                                                       redis_url: str) -> None:
    q = "q2n-cancel"
    queue = Queue(q, redis_url)
    job = queue.add("long", {})
    node = asyncio.ensure_future(node_peer.arun({"queue": q, "actions": [
        {"op": "relayCancel", "count": 1, "timeoutMs": 30_000},
    ]}, timeout=60))
    await wait_until(lambda: queue.get_job_state(job.id) == "active", timeout=30)
    # The Relay subscription may come a moment after the worker took the job: ask until a
    # listener heard it.
    await wait_until(lambda: request_cancel(queue, job.id, "user asked",
                                            relay_namespace="default") >= 1, timeout=30)
    out = (await node)["results"][0]
    assert not out["timedOut"]
    assert out["failed"] == [{"id": job.id, "failedReason": "cancelled: user asked"}]
    assert out["messages"][0] == {"jobId": job.id, "reason": "user asked"}
    stored = queue.get_job(job.id)
    assert stored is not None
    assert stored.get_state() == "failed"
    assert stored.failed_reason == "cancelled: user asked"
    assert stored.attempts_made == 1
    queue.close()

