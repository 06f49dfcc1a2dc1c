"""queuecore <-> Python bullmq 3.4: manual processing (a worker without a processor,
getNextJob/get_next_job, moveToCompleted/moveToFailed with the token) and a parent that
adds children at run time and waits for them (moveToWaitingChildren + WaitingChildrenError),
both directions. Python bullmq's Job has no extendLock."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from queuecore import AsyncJob, AsyncQueue, Queue, WaitingChildrenError, Worker
from tests.worker_utils import running, wait_until

from .conftest import PyPeer

pytestmark = pytest.mark.interop


async def test_queuecore_adds_python_bullmq_processes_manually(py_peer: PyPeer,
                                                               redis_url: str) -> None:
    q = "q2p-manual"
    queue = Queue(q, redis_url)
    ok = queue.add("ok", {"n": 1})
    bad = queue.add("bad", {"n": 2})
    out = await py_peer.arun({"queue": q, "actions": [{"op": "manual", "token": "pt",
                                                         "outcomes": [
        {"complete": {"by": "python"}, "wrongToken": True},
        {"fail": "python says no"},
    ]}]})
    first, second = out["results"][0]
    assert (first["id"], second["id"]) == (ok.id, bad.id)
    assert first["wrongToken"] != "accepted"
    stored_ok, stored_bad = queue.get_job(ok.id), queue.get_job(bad.id)
    assert stored_ok is not None and stored_bad is not None
    assert stored_ok.get_state() == "completed"
    assert stored_ok.return_value == {"by": "python"}
    assert stored_bad.get_state() == "failed"
    assert stored_bad.failed_reason == "python says no"
    queue.close()


async def test_python_bullmq_adds_queuecore_processes_manually(py_peer: PyPeer,
                                                               redis_url: str) -> None:
    q = "p2q-manual"
    added = py_peer({"queue": q, "actions": [
        {"op": "add", "name": "ok", "data": {"n": 1}},
        {"op": "add", "name": "bad", "data": {"n": 2}},
    ]})
    ok, bad = (res["id"] for res in added["results"])
    worker = Worker(q, None, connection=redis_url)
    try:
        job = await worker.get_next_job("qt")
        assert job is not None and job.id == ok and job.data == {"n": 1}
        await job.move_to_completed({"by": "queuecore"}, "qt")
        job = await worker.get_next_job("qt")
        assert job is not None and job.id == bad
        await job.move_to_failed(ValueError("queuecore says no"), "qt")
    finally:
        await worker.close()
    seen = py_peer({"queue": q, "actions": [{"op": "getJob", "id": ok},
                                            {"op": "getJob", "id": bad}]})
    got_ok, got_bad = seen["results"]
    assert got_ok["state"] == "completed" and got_ok["returnvalue"] == {"by": "queuecore"}
    assert got_bad["state"] == "failed" and got_bad["failedReason"] == "queuecore says no"


async def test_python_bullmq_parent_waits_for_children_run_by_queuecore(
        py_peer: PyPeer, redis_url: str) -> None:
    parents, kids = "p2q-wc-parents", "p2q-wc-kids"
    added = py_peer({"queue": parents, "actions": [
        {"op": "add", "name": "parent", "data": {"spawnChildren": {
            "queue": kids, "children": [{"name": "k", "data": {"n": 1}},
                                        {"name": "k", "data": {"n": 2}}]}}},
    ]})
    parent_id = added["results"][0]["id"]

    async def child(job: AsyncJob) -> int:
        return int(job.data["n"]) * 10

    kid_queue, parent_queue = Queue(kids, redis_url), Queue(parents, redis_url)
    work = asyncio.ensure_future(py_peer.arun({"queue": parents, "actions": [
        {"op": "work", "count": 1, "timeoutMs": 30_000},
    ]}, timeout=60))
    # Python bullmq's parent moved itself to waiting-children before any child ran.
    await wait_until(lambda: parent_queue.get_job_state(parent_id) == "waiting-children",
                     timeout=30)
    async with running(Worker(kids, child, connection=redis_url)):
        out = await work
    completed = out["results"][0]["completed"]
    assert [c["id"] for c in completed] == [parent_id]
    assert sorted(completed[0]["returnvalue"].values()) == [10, 20]
    kid_queue.close()
    parent_queue.close()


async def test_queuecore_parent_waits_for_children_run_by_python_bullmq(
        py_peer: PyPeer, redis_url: str) -> None:
    parents, kids = "q2p-wc-parents", "q2p-wc-kids"
    kid_queue = AsyncQueue(kids, redis_url)

    async def parent(job: AsyncJob) -> Any:
        values = await job.get_children_values()
        if values:
            return sorted(values.values(), key=str)
        for n in (1, 2):
            await kid_queue.add("k", {"return": n * 10}, parent={"id": job.id, "queue": parents})
        assert await job.move_to_waiting_children()
        raise WaitingChildrenError()

    queue = Queue(parents, redis_url)
    p = queue.add("parent", {})
    async with running(Worker(parents, parent, connection=redis_url)):
        await wait_until(lambda: queue.get_job_state(p.id) == "waiting-children")
        out = await py_peer.arun({"queue": kids, "actions": [
            {"op": "work", "count": 2, "timeoutMs": 20_000},
        ]}, timeout=40)
        assert len(out["results"][0]["completed"]) == 2
        await wait_until(lambda: queue.get_job_state(p.id) == "completed")
    seen = py_peer({"queue": parents, "actions": [{"op": "getJob", "id": p.id}]})
    assert seen["results"][0]["state"] == "completed"
    assert seen["results"][0]["returnvalue"] == [10, 20]
    await kid_queue.close()
    queue.close()
