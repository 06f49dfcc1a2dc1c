"""queuecore <-> Python bullmq 3.4: manual processing (a worker without a processor,
getNextJob/get_next_job, moveToCompleted/moveToFailed with the token), both directions.
Python bullmq's Job has no extendLock; move_to_waiting_children is covered against Node."""

from __future__ import annotations

import pytest

from queuecore import Queue, Worker

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
