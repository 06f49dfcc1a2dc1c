"""queuecore <-> Node bullmq 6.7: manual processing (a worker without a processor,
getNextJob/get_next_job, moveToCompleted/moveToFailed/extendLock with the token) and a
parent that adds children at run time and waits for them (moveToWaitingChildren with
WaitingChildrenError), in both directions. Each test asserts what the OTHER side sees."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from queuecore import (
    AsyncJob,
    LockMismatchError,
    Queue,
    WaitingChildrenError,
    Worker,
)
from queuecore.client.aqueue import AsyncQueue
from tests.worker_utils import running, wait_until

from .conftest import NodePeer

pytestmark = pytest.mark.interop


async def test_queuecore_adds_node_processes_manually(node_peer: NodePeer, redis_url: str,
                                                      r: Any) -> None:
    q = "q2n-manual"
    queue = Queue(q, redis_url)
    ok = queue.add("ok", {"n": 1})
    bad = queue.add("bad", {"n": 2})
    held = queue.add("held", {"n": 3})
    out = await node_peer.arun({"queue": q, "actions": [{"op": "manual", "token": "nt",
                                                           "outcomes": [
        {"complete": {"by": "node"}, "wrongToken": True},
        {"fail": "node says no"},
        {"extendMs": 120_000},
    ]}]})
    first, second, third = out["results"][0]
    assert (first["id"], second["id"], third["id"]) == (ok.id, bad.id, held.id)
    assert first["data"] == {"n": 1}
    assert first["wrongToken"] != "accepted"  # Node refuses a wrong token too
    assert third["extended"]
    stored_ok, stored_bad = queue.get_job(ok.id), queue.get_job(bad.id)
    assert stored_ok is not None and stored_bad is not None
    assert stored_ok.get_state() == "completed"
    assert stored_ok.return_value == {"by": "node"}
    assert stored_ok.attempts_made == 1
    assert stored_bad.get_state() == "failed"
    assert stored_bad.failed_reason == "node says no"
    # The third is still active, locked with Node's token: queuecore can finish it with that
    # token only.
    assert queue.get_job_state(held.id) == "active"
    assert r.get(f"bull:{q}:{held.id}:lock") == "nt"
    assert r.pttl(f"bull:{q}:{held.id}:lock") > 60_000  # Node's extendLock
    job = await AsyncQueue(q, redis_url).get_job(held.id)
    assert job is not None
    with pytest.raises(LockMismatchError):
        await job.move_to_completed(1, "other")
    await job.move_to_completed({"by": "queuecore"}, "nt")
    await job.queue.close()  # type: ignore[attr-defined]
    node = node_peer({"queue": q, "actions": [{"op": "getJob", "id": held.id}]})
    assert node["results"][0]["state"] == "completed"
    assert node["results"][0]["returnvalue"] == {"by": "queuecore"}
    queue.close()


async def test_node_adds_queuecore_processes_manually(node_peer: NodePeer, redis_url: str,
                                                      r: Any) -> None:
    q = "n2q-manual"
    added = node_peer({"queue": q, "actions": [
        {"op": "add", "name": "ok", "data": {"n": 1}},
        {"op": "add", "name": "bad", "data": {"n": 2}, "opts": {"attempts": 2,
                                                                  "backoff": 60_000}},
        {"op": "add", "name": "held", "data": {"n": 3}},
    ]})
    ok, bad, held = (res["id"] for res in added["results"])
    worker = Worker(q, None, connection=redis_url, lock_duration=5_000)
    try:
        job = await worker.get_next_job("qt")
        assert job is not None and job.id == ok
        await job.move_to_completed({"by": "queuecore"}, "qt")
        job = await worker.get_next_job("qt")
        assert job is not None and job.id == bad
        await job.move_to_failed(ValueError("queuecore says no"), "qt")  # retried, delayed
        job = await worker.get_next_job("qt")
        assert job is not None and job.id == held
        await job.extend_lock("qt", 120_000)
    finally:
        await worker.close()
    node = node_peer({"queue": q, "actions": [
        {"op": "getJob", "id": ok}, {"op": "getJob", "id": bad}, {"op": "getJob", "id": held},
    ]})
    got_ok, got_bad, got_held = node["results"]
    assert got_ok["state"] == "completed" and got_ok["returnvalue"] == {"by": "queuecore"}
    assert got_ok["attemptsMade"] == 1
    assert got_bad["state"] == "delayed"
    assert got_bad["failedReason"] == "queuecore says no"
    assert got_bad["attemptsMade"] == 1
    assert got_held["state"] == "active"
    assert r.pttl(f"bull:{q}:{held}:lock") > 60_000
    # Node finishes the held job with queuecore's token after a wrong one was refused.
    out = node_peer({"queue": q, "actions": [
        {"op": "promote", "id": bad},
        {"op": "manual", "token": "nt", "outcomes": [{"fail": "node too"}]},
    ]})
    assert out["results"][1][0]["id"] == bad
    queue = Queue(q, redis_url)
    stored = queue.get_job(bad)
    assert stored is not None
    assert stored.get_state() == "failed"  # the second of two attempts
    assert stored.failed_reason == "node too"
    assert len(stored.stacktrace) == 2
    queue.close()


async def test_node_parent_waits_for_children_run_by_queuecore(node_peer: NodePeer,
                                                               redis_url: str) -> None:
    parents, kids = "n2q-wc-parents", "n2q-wc-kids"
    added = node_peer({"queue": parents, "actions": [
        {"op": "add", "name": "parent", "data": {"spawnChildren": {
            "queue": kids, "children": [{"name": "k", "data": {"n": 1}},
                                        {"name": "k", "data": {"n": 2}}]}}},
    ]})
    parent_id = added["results"][0]["id"]

    async def child(job: AsyncJob) -> int:
        return int(job.data["n"]) * 10

    kid_queue = Queue(kids, redis_url)
    parent_queue = Queue(parents, redis_url)
    node_work = asyncio.ensure_future(node_peer.arun({"queue": parents, "actions": [
        {"op": "work", "count": 1, "timeoutMs": 30_000},
    ]}, timeout=60))
    # Node's parent moved itself to waiting-children (seen by queuecore) before any child
    # ran: the children run only now, on queuecore.
    await wait_until(lambda: parent_queue.get_job_state(parent_id) == "waiting-children",
                     timeout=30)
    assert kid_queue.get_job_counts("waiting")["waiting"] == 2
    async with running(Worker(kids, child, connection=redis_url)):
        out = await node_work
    parent_queue.close()
    completed = out["results"][0]["completed"]
    assert [c["id"] for c in completed] == [parent_id]
    values = completed[0]["returnvalue"]
    assert sorted(values.values()) == [10, 20]
    assert all(key.startswith(f"bull:{kids}:") for key in values)
    assert kid_queue.get_job_counts("completed")["completed"] == 2
    kid_queue.close()


async def test_queuecore_parent_waits_for_children_run_by_node(node_peer: NodePeer,
                                                               redis_url: str) -> None:
    parents, kids = "q2n-wc-parents", "q2n-wc-kids"
    kid_queue = AsyncQueue(kids, redis_url)
    runs: list[str] = []

    async def parent(job: AsyncJob) -> Any:
        runs.append(job.id)
        values = await job.get_children_values()
        if values:
            return sorted(values.values(), key=str)
        for n in (1, 2):
            await kid_queue.add("k", {"return": n * 10},
                                parent={"id": job.id, "queue": parents})
        assert await job.move_to_waiting_children()
        raise WaitingChildrenError()

    queue = Queue(parents, redis_url)
    p = queue.add("parent", {})
    async with running(Worker(parents, parent, connection=redis_url)):
        await wait_until(lambda: queue.get_job_state(p.id) == "waiting-children")
        node = await node_peer.arun({"queue": kids, "actions": [
            {"op": "work", "count": 2, "timeoutMs": 20_000},
        ]}, timeout=40)
        assert len(node["results"][0]["completed"]) == 2
        await wait_until(lambda: queue.get_job_state(p.id) == "completed")
    seen = node_peer({"queue": parents, "actions": [{"op": "getJob", "id": p.id}]})
    assert seen["results"][0]["state"] == "completed"
    assert seen["results"][0]["returnvalue"] == [10, 20]
    assert runs == [p.id, p.id]
    await kid_queue.close()
    queue.close()
