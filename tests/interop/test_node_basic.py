"""queuecore <-> Node bullmq 6.x: each side reads and processes what the other wrote.

Every test asserts what the OTHER side sees: Node's getJob/getState/getJobCounts/isPaused and
its QueueEvents for work done by queuecore, and queuecore's get_job/get_state/logs/events for
work done by Node.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import pytest
import redis

from queuecore import AsyncJob, Queue, QueueEvents
from tests.waiting import wait_until
from tests.worker_utils import blocked_on_marker

from .conftest import NodePeer
from .scenarios import (
    BOTH_REPORT,
    WorkerEvents,
    count,
    held_until,
    peer_events,
    run_worker,
)

pytestmark = pytest.mark.interop


def finished(n: int) -> Callable[[WorkerEvents], bool]:
    return lambda events: len(events) >= n


# -- 1. Node adds, queuecore processes ---------------------------------------------------


async def test_node_adds_queuecore_processes(node_peer: NodePeer, redis_url: str) -> None:
    q = "n2q-basic"
    add = node_peer({"queue": q, "actions": [
        {"op": "add", "name": "plain", "data": {"n": 1}},
        {"op": "add", "name": "custom", "data": {"n": 2}, "opts": {"jobId": "my-custom-id"}},
        {"op": "add", "name": "prio", "data": {"n": 3}, "opts": {"priority": 3}},
        {"op": "add", "name": "prio", "data": {"n": 4}, "opts": {"priority": 1}},
        {"op": "add", "name": "prio", "data": {"n": 5}, "opts": {"priority": 2}},
        {"op": "add", "name": "later", "data": {"n": 6}, "opts": {"delay": 300}},
    ]})
    ids = [r["id"] for r in add["results"]]
    plain, custom, p3, p1, p2, delayed = ids
    assert custom == "my-custom-id"

    started: dict[str, float] = {}
    order: list[str] = []

    async def process(job: AsyncJob) -> dict[str, Any]:
        started[job.id] = time.time() * 1000
        order.append(job.id)
        return {"by": "queuecore", "n": job.data["n"], "name": job.name}

    events = await run_worker(redis_url, q, process, until=count("completed", 6), name="qc-w1")
    assert not [e for e in events if e[0] == "failed"]
    results = {e[1]: e[2] for e in events}

    # wait is served before prioritized (FIFO), prioritized by priority. (The delayed job is
    # left out: once promoted it joins wait, wherever the others are by then.)
    assert [i for i in order if i != delayed] == [plain, custom, p1, p2, p3]

    got = node_peer({"queue": q, "actions": [
        *({"op": "getJob", "id": i} for i in ids),
        {"op": "getJobCounts"},
    ]})["results"]
    jobs, counts = got[:-1], got[-1]
    for job_id, job in zip(ids, jobs, strict=True):
        assert job is not None, job_id
        assert job["id"] == job_id
        assert job["state"] == "completed", job
        assert job["returnvalue"] == results[job_id]
        assert job["attemptsMade"] == 1
        assert job["attemptsStarted"] == 1
        assert job["failedReason"] is None
        assert job["processedBy"] == "qc-w1"
        assert job["processedOn"] and job["finishedOn"]
        assert job["finishedOn"] >= job["processedOn"] >= job["timestamp"]
    assert jobs[1]["opts"]["jobId"] == "my-custom-id"
    assert [jobs[i]["priority"] for i in (2, 3, 4)] == [3, 1, 2]
    d = jobs[5]
    assert d["opts"]["delay"] == 300
    assert d["processedOn"] - d["timestamp"] >= 300
    assert started[delayed] - d["timestamp"] >= 300
    assert counts["completed"] == 6
    assert sum(counts.values()) == 6

    # Node's QueueEvents sees queuecore's active/completed events with the return values.
    evs = peer_events(node_peer, q)
    completed = {e["jobId"]: e for e in evs if e["event"] == "completed"}
    assert set(completed) == set(ids)
    for job_id in ids:
        assert completed[job_id]["returnvalue"] == results[job_id]
        assert completed[job_id]["prev"] == "active"
    assert {e["jobId"] for e in evs if e["event"] == "active"} == set(ids)
    assert any(e["event"] == "waiting" and e["jobId"] == delayed and e.get("prev") == "delayed"
               for e in evs)


# -- 2. queuecore adds, Node processes ---------------------------------------------------


async def test_queuecore_adds_node_processes(node_peer: NodePeer, redis_url: str,
                                             r: redis.Redis) -> None:
    qn = "q2n-basic"
    with Queue(qn, connection=redis_url) as q:
        j1 = q.add("ret", {"return": {"answer": 42, "list": [1, "two"]}})
        j2 = q.add("progress", {"progress": 42, "log": "hello from node"}, job_id="qc-custom")
        j3 = q.add("objprog", {"progress": {"stage": "x", "pct": 50}}, priority=2)
        j4 = q.add("echo", {"k": "v"}, delay=200)
        ids = [j1.id, j2.id, j3.id, j4.id]

        res = node_peer({"queue": qn, "actions": [
            {"op": "work", "count": 4, "timeoutMs": 8000},
            *({"op": "getJob", "id": i} for i in ids),
        ]})["results"]
        work = res[0]
        assert not work["timedOut"], work
        assert work["failed"] == []
        node_ret = {c["id"]: c["returnvalue"] for c in work["completed"]}
        assert set(node_ret) == set(ids)
        assert node_ret[j1.id] == {"answer": 42, "list": [1, "two"]}
        assert node_ret[j4.id] == {"echo": {"k": "v"}}
        # Node decoded queuecore's hash as it wrote it.
        node_jobs = {j["id"]: j for j in res[1:]}
        assert node_jobs["qc-custom"]["opts"]["jobId"] == "qc-custom"
        assert node_jobs[j3.id]["priority"] == 2
        assert node_jobs[j4.id]["opts"]["delay"] == 200

        for job_id in ids:
            job = q.get_job(job_id)
            assert job is not None
            assert job.get_state() == "completed"
            assert job.return_value == node_ret[job_id]
            assert job.attempts_made == 1
            assert job.attempts_started == 1
            assert job.failed_reason is None
            assert job.finished_on is not None and job.processed_on is not None
            assert job.finished_on >= job.processed_on >= job.timestamp
        assert q.get_job(j2.id).progress == 42
        assert q.get_job(j3.id).progress == {"stage": "x", "pct": 50}
        assert q.get_job_logs(j2.id) == (["hello from node"], 1)
        d = q.get_job(j4.id)
        assert d.processed_on - d.timestamp >= 200
        assert q.get_job_counts("completed", "waiting", "active", "delayed", "prioritized") == {
            "completed": 4, "waiting": 0, "active": 0, "delayed": 0, "prioritized": 0}

    # queuecore's QueueEvents reads what the Node worker wrote.
    qe = QueueEvents(qn, connection=redis_url, last_event_id="0")
    try:
        evs = qe.read(block_ms=100)
    finally:
        qe.close()
    completed = {e.job_id: e for e in evs if e.event == "completed"}
    assert set(completed) == set(ids)
    assert completed[j1.id]["returnvalue"] == '{"answer":42,"list":[1,"two"]}'
    progress = [e for e in evs if e.event == "progress"]
    assert {(e.job_id, e["data"]) for e in progress} == {
        ("qc-custom", "42"), (j3.id, '{"stage":"x","pct":50}')}


# -- 3. failures, both ways ---------------------------------------------------------------


async def test_node_adds_queuecore_fails_with_backoff(node_peer: NodePeer,
                                                      redis_url: str) -> None:
    q = "n2q-fail"
    add = node_peer({"queue": q, "actions": [
        {"op": "add", "name": "bad", "data": {"boom": "kaput"},
         "opts": {"attempts": 3, "backoff": {"type": "exponential", "delay": 100}}},
    ]})
    job_id = add["results"][0]["id"]
    attempt_times: list[float] = []

    async def process(job: AsyncJob) -> None:
        attempt_times.append(time.monotonic())
        raise ValueError(job.data["boom"])

    events = await run_worker(redis_url, q, process, until=count("failed", 3))
    assert [e[:2] for e in events] == [("failed", job_id)] * 3
    # exponential backoff: ~100 ms then ~200 ms between attempts
    assert attempt_times[1] - attempt_times[0] >= 0.095
    assert attempt_times[2] - attempt_times[1] >= 0.195

    res = node_peer({"queue": q, "actions": [
        {"op": "getJob", "id": job_id}, {"op": "getJobCounts"}]})["results"]
    job, counts = res
    assert job["state"] == "failed"
    assert job["failedReason"] == "kaput"
    assert isinstance(job["stacktrace"], list)
    assert len(job["stacktrace"]) == 3
    assert all("kaput" in s for s in job["stacktrace"])
    assert job["attemptsMade"] == 3
    assert job["attemptsStarted"] == 3
    assert job["finishedOn"] is not None
    assert job["returnvalue"] is None
    assert counts["failed"] == 1
    assert sum(counts.values()) == 1

    evs = peer_events(node_peer, q)
    names = [(e["event"], e.get("jobId")) for e in evs]
    # D1/D2: retried attempts write `delayed` only; the final one `failed`, retries-exhausted.
    assert names.count(("delayed", job_id)) == 2
    assert names.count(("failed", job_id)) == 1
    failed = next(e for e in evs if e["event"] == "failed")
    assert failed["failedReason"] == "kaput"
    assert failed["prev"] == "active"
    exhausted = [e for e in evs if e["event"] == "retries-exhausted"]
    assert len(exhausted) == 1
    assert str(exhausted[0]["attemptsMade"]) == "3"


async def test_queuecore_adds_node_fails(node_peer: NodePeer, redis_url: str) -> None:
    qn = "q2n-fail"
    with Queue(qn, connection=redis_url) as q:
        once = q.add("once", {"fail": "node says no"})
        twice = q.add("twice", {"fail": "again"}, attempts=2, backoff={"type": "fixed",
                                                                        "delay": 50})
        work = node_peer({"queue": qn, "actions": [
            {"op": "work", "count": 3, "timeoutMs": 8000}]})["results"][0]
        assert not work["timedOut"], work
        assert work["completed"] == []
        assert sorted((f["id"], f["failedReason"]) for f in work["failed"]) == sorted(
            [(once.id, "node says no"), (twice.id, "again"), (twice.id, "again")])

        job = q.get_job(once.id)
        assert job.get_state() == "failed"
        assert job.failed_reason == "node says no"
        assert len(job.stacktrace) == 1
        assert "node says no" in job.stacktrace[0]
        assert job.attempts_made == 1
        assert job.finished_on is not None
        assert job.return_value is None

        job = q.get_job(twice.id)
        assert job.get_state() == "failed"
        assert job.failed_reason == "again"
        assert len(job.stacktrace) == 2
        assert job.attempts_made == 2
        assert job.attempts_started == 2
        assert q.get_job_counts("failed", "waiting", "delayed", "active") == {
            "failed": 2, "waiting": 0, "delayed": 0, "active": 0}


# -- 4. counts and states agree ----------------------------------------------------------


LISTED = ("active", "completed", "delayed", "failed", "prioritized", "waiting")


async def test_counts_and_states_agree(node_peer: NodePeer, redis_url: str) -> None:
    qn = "mixed"
    # Finished jobs: two completed, one failed, added by Node, processed by queuecore.
    node_peer({"queue": qn, "actions": [
        {"op": "add", "name": "ok", "data": {}},
        {"op": "add", "name": "ok", "data": {}},
        {"op": "add", "name": "bad", "data": {"bad": True}},
    ]})

    async def process(job: AsyncJob) -> str:
        if job.data.get("bad"):
            raise RuntimeError("bad job")
        return "ok"

    await run_worker(redis_url, qn, process, until=finished(3))
    release = asyncio.Event()

    # One job held active by a queuecore worker while the rest wait in every other state.
    with Queue(qn, connection=redis_url) as q:
        held = q.add("hold", {"hold": True})
        got_active = asyncio.Event()

        async def hold_then_compare() -> None:
            try:
                await compare()
            finally:
                release.set()

        async def compare() -> None:
            await wait_until(lambda: q.get_job_counts("active")["active"] == 1,
                             what="the held job active")
            got_active.set()
            node_added = (await node_peer.arun({"queue": qn, "actions": [
                {"op": "add", "name": "w", "data": {}},
                {"op": "add", "name": "p", "data": {}, "opts": {"priority": 7}},
                {"op": "add", "name": "d", "data": {}, "opts": {"delay": 60000}},
            ]}))["results"]
            q.add("w2", {})
            q.add("p2", {}, priority=1)
            q.add("d2", {}, delay=60000)
            all_ids = sorted({j.id for j in q.get_jobs()} | {a["id"] for a in node_added})
            qc_counts = q.get_job_counts()
            qc_states = {i: q.get_job_state(i) for i in all_ids}
            qc_lists = {s: [j.id for j in q.get_jobs(s)] for s in LISTED}
            node = (await node_peer.arun({"queue": qn, "actions": [
                {"op": "getJobCounts"},
                *({"op": "getJobs", "states": [s]} for s in LISTED),
                *({"op": "getState", "id": i} for i in all_ids),
            ]}))["results"]
            node_counts = node[0]
            node_lists = dict(zip(LISTED, node[1:1 + len(LISTED)], strict=True))
            node_states = dict(zip(all_ids, node[1 + len(LISTED):], strict=True))
            release.set()

            common = set(qc_counts) & set(node_counts)
            assert common >= BOTH_REPORT, (qc_counts, node_counts)
            assert {s: qc_counts[s] for s in common} == {s: node_counts[s] for s in common}
            assert node_counts["active"] == 1
            assert node_counts["completed"] == 2
            assert node_counts["failed"] == 1
            assert node_counts["waiting"] == 2
            assert node_counts["prioritized"] == 2
            assert node_counts["delayed"] == 2
            assert qc_states == node_states
            assert qc_lists == node_lists  # same ids, same order (newest first)
            assert node_states[held.id] == "active"
            assert sorted(node_states.values()) == sorted(
                ["completed"] * 2 + ["failed"] + ["active"] + ["waiting"] * 2
                + ["prioritized"] * 2 + ["delayed"] * 2)

        # concurrency 1: the held job blocks the worker, nothing else is fetched meanwhile.
        await run_worker(redis_url, qn, held_until(release), during=hold_then_compare,
                         until=lambda ev: release.is_set() and any(e[1] == held.id for e in ev))
        assert got_active.is_set()


# -- 5. pause seen by both ---------------------------------------------------------------


async def test_pause_seen_by_both(node_peer: NodePeer, redis_url: str) -> None:
    qn = "pausing"
    with Queue(qn, connection=redis_url) as q:
        q.pause()
        job = q.add("while-paused", {"return": "node-should-not-run-me"})
        res = node_peer({"queue": qn, "actions": [
            {"op": "isPaused"},
            {"op": "work", "count": 1, "timeoutMs": 1000},
            {"op": "getState", "id": job.id},
            {"op": "getJobCounts"},
        ]})["results"]
        paused, work, node_state, node_counts = res
        assert paused is True
        assert work["completed"] == [] and work["failed"] == [] and work["timedOut"] is True
        assert node_state == q.get_job_state(job.id)
        assert q.get_job(job.id).processed_on is None
        assert q.get_job(job.id).attempts_started == 0
        assert q.is_paused()
        qc_counts = q.get_job_counts()
        common = set(qc_counts) & set(node_counts)
        assert {s: qc_counts[s] for s in common} == {s: node_counts[s] for s in common}

        # A queuecore worker started while paused takes nothing either; Node resumes it.
        async def resume_from_node() -> None:
            # The worker is idle on the marker: past its fetch, which the paused queue refused.
            with redis.Redis.from_url(redis_url, decode_responses=True) as r:
                await wait_until(lambda: blocked_on_marker(r), what="the worker idle")
            assert q.get_job(job.id).processed_on is None
            node = (await node_peer.arun({"queue": qn, "actions": [
                {"op": "resume"}, {"op": "isPaused"}]}))["results"]
            assert node == [True, False]
            assert q.is_paused() is False

        async def process(j: AsyncJob) -> str:
            return "queuecore ran it"

        events = await run_worker(redis_url, qn, process, during=resume_from_node,
                                  until=count("completed", 1), timeout=5.0)
        assert events == [("completed", job.id, "queuecore ran it")]

    evs = peer_events(node_peer, qn)
    kinds = [e["event"] for e in evs]
    assert kinds.index("paused") < kinds.index("resumed")
    res = node_peer({"queue": qn, "actions": [{"op": "getJob", "id": job.id}]})["results"][0]
    assert res["state"] == "completed"
    assert res["returnvalue"] == "queuecore ran it"
