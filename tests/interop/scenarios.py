"""Interop scenarios shared by the Node (test_node_*.py) and Python bullmq
(test_python_bullmq_*.py) tests. Each coroutine takes the peer fixture and checks one
operation in one direction, asserting what the OTHER side sees (its getJob/getState/
getJobCounts/getWorkers/isPaused and its QueueEvents, or queuecore's reads and events).

Queue names start with the peer's kind so that a failing test's keys are easy to tell apart.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import redis

from queuecore import (
    AsyncJob,
    FlowProducer,
    JobLockedError,
    Queue,
    QueueEvents,
    Worker,
    fan_out,
    release_fan_out,
)
from tests.waiting import TIMEOUT
from tests.waiting import wait_until as wait_for
from tests.worker_utils import blocked_on_marker

from .conftest import Peer, node_worker_client_name

WorkerEvents = list[tuple[str, str, Any]]


# -- helpers ------------------------------------------------------------------------------


async def run_worker(
    redis_url: str,
    queue: str,
    processor: Callable[[AsyncJob], Awaitable[Any]],
    *,
    until: Callable[[WorkerEvents], bool],
    timeout: float = 8.0,
    during: Callable[[], Awaitable[Any]] | None = None,
    **worker_opts: Any,
) -> WorkerEvents:
    """Run a queuecore Worker until ``until(events)`` holds; events are
    ("completed", id, result) and ("failed", id, message), in order."""
    events: WorkerEvents = []
    changed = asyncio.Event()

    def on_completed(job: Any, result: Any) -> None:
        events.append(("completed", job.id, result))
        changed.set()

    def on_failed(job: Any, err: BaseException, prev: Any = None) -> None:
        events.append(("failed", job.id, str(err)))
        changed.set()

    worker = Worker(queue, processor, connection=redis_url, **worker_opts)
    worker.on("completed", on_completed)
    worker.on("failed", on_failed)
    task = asyncio.ensure_future(worker.run())
    try:
        if during is not None:
            await during()
        deadline = time.monotonic() + timeout
        while not until(events):
            left = deadline - time.monotonic()
            if left <= 0:
                pytest.fail(f"queuecore worker timed out; events so far: {events}")
            changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), min(left, 0.2))
            if task.done():
                task.result()
                pytest.fail(f"queuecore worker stopped early; events so far: {events}")
    finally:
        await worker.close()
        await task
    return events


def count(kind: str, n: int) -> Callable[[WorkerEvents], bool]:
    return lambda events: sum(1 for e in events if e[0] == kind) >= n


def peer_events(peer: Peer, queue: str) -> list[dict[str, Any]]:
    """The whole event stream as the peer's QueueEvents delivers it (replayed from 0-0)."""
    client = redis.Redis.from_url(peer.redis_url)
    try:
        n = client.xlen(f"bull:{queue}:events")
    finally:
        client.close()
    res = peer({"queue": queue, "actions": [
        {"op": "events", "fromId": "0-0", "count": n, "timeoutMs": 3000}]})
    events = res["results"][0]
    assert len(events) == n, f"the peer's QueueEvents delivered {len(events)} of {n} entries"
    return events


def qc_events(redis_url: str, queue: str) -> list[Any]:
    qe = QueueEvents(queue, connection=redis_url, last_event_id="0", batch=100_000)
    try:
        return qe.read(block_ms=50)
    finally:
        qe.close()


def one(results: dict[str, Any]) -> Any:
    return results["results"][0]


async def echo(job: AsyncJob) -> dict[str, Any]:
    return {"by": "queuecore", "data": job.data}


def qname(peer: Peer, what: str) -> str:
    return f"{peer.kind}-{what}"


def held_until(release: asyncio.Event) -> Callable[[AsyncJob], Awaitable[str]]:
    """A processor returning "ok"; a job with ``{"hold": True}`` in its data waits for
    ``release`` first (it stays active meanwhile)."""

    async def process(job: AsyncJob) -> str:
        if job.data.get("hold"):
            await release.wait()
        return "ok"

    return process


# -- add / process / complete ---------------------------------------------------------------


async def peer_adds_queuecore_processes(peer: Peer, redis_url: str) -> None:
    qn = qname(peer, "p2q-basic")
    res = peer({"queue": qn, "actions": [
        {"op": "add", "name": "plain", "data": {"n": 1}},
        {"op": "add", "name": "custom", "data": {"n": 2}, "opts": {"jobId": "peer-custom"}},
        {"op": "addBulk", "jobs": [{"name": "bulk", "data": {"n": 3}},
                                   {"name": "bulk", "data": {"n": 4}}]},
    ]})["results"]
    ids = [res[0]["id"], res[1]["id"], *res[2]["ids"]]
    assert ids[1] == "peer-custom"

    async def process(job: AsyncJob) -> dict[str, Any]:
        return {"n": job.data["n"], "name": job.name, "list": [1, "two", None]}

    events = await run_worker(redis_url, qn, process, until=count("completed", 4),
                              name="qc-w1")
    assert [e[1] for e in events] == ids  # FIFO
    got = peer({"queue": qn, "actions": [
        *({"op": "getJob", "id": i} for i in ids), {"op": "getJobCounts"}]})["results"]
    for job_id, job, n in zip(ids, got[:-1], (1, 2, 3, 4), strict=True):
        assert job["id"] == job_id
        assert job["state"] == "completed"
        assert job["returnvalue"] == {"n": n, "name": job["name"], "list": [1, "two", None]}
        assert job["attemptsMade"] == 1
        assert job["attemptsStarted"] == 1
        assert job["failedReason"] is None
        assert job["finishedOn"] >= job["processedOn"] >= job["timestamp"]
        if peer.kind == "node":
            assert job["processedBy"] == "qc-w1"
    assert got[-1]["completed"] == 4
    assert sum(got[-1].values()) == 4
    evs = peer_events(peer, qn)
    completed = {e["jobId"]: e for e in evs if e["event"] == "completed"}
    assert set(completed) == set(ids)
    assert all(e["prev"] == "active" for e in completed.values())
    assert completed[ids[0]]["returnvalue"] == {"n": 1, "name": "plain", "list": [1, "two", None]}
    assert [e["jobId"] for e in evs if e["event"] == "active"] == ids


async def queuecore_adds_peer_processes(peer: Peer, redis_url: str) -> None:
    qn = qname(peer, "q2p-basic")
    with Queue(qn, connection=redis_url) as q:
        j1 = q.add("ret", {"return": {"answer": 42, "list": [1, "two"]}})
        j2 = q.add("custom", {"k": "v"}, job_id="qc-custom")
        bulk = q.add_bulk([{"name": "bulk", "data": {"return": "s"}},
                           {"name": "bulk", "data": {"return": None}}])
        ids = [j1.id, j2.id, *(j.id for j in bulk)]
        res = peer({"queue": qn, "actions": [
            {"op": "work", "count": 4, "timeoutMs": 8000},
            *({"op": "getJob", "id": i} for i in ids)]})["results"]
        work = res[0]
        assert not work["timedOut"], work
        assert [c["id"] for c in work["completed"]] == ids
        assert [c["returnvalue"] for c in work["completed"]] == [
            {"answer": 42, "list": [1, "two"]}, {"echo": {"k": "v"}}, "s", None]
        assert res[2]["opts"]["jobId"] == "qc-custom"
        for job_id in ids:
            job = q.get_job(job_id)
            assert job is not None
            assert job.get_state() == "completed"
            assert job.attempts_made == 1
            assert job.attempts_started == 1
            assert job.finished_on is not None and job.processed_on is not None
        assert q.get_job(j1.id).return_value == {"answer": 42, "list": [1, "two"]}
        assert q.get_job(j2.id).return_value == {"echo": {"k": "v"}}
        assert q.get_job(bulk[1].id).return_value is None
        assert q.get_job_counts("completed", "waiting", "active") == {
            "completed": 4, "waiting": 0, "active": 0}
    evs = qc_events(redis_url, qn)
    completed = {e.job_id: e for e in evs if e.event == "completed"}
    assert set(completed) == set(ids)
    assert completed[j1.id]["returnvalue"] == '{"answer":42,"list":[1,"two"]}'


# -- failures, retries with backoff ---------------------------------------------------------


async def peer_adds_queuecore_fails_with_backoff(peer: Peer, redis_url: str) -> None:
    qn = qname(peer, "p2q-fail")
    job_id = one(peer({"queue": qn, "actions": [
        {"op": "add", "name": "bad", "data": {"boom": "kaput"},
         "opts": {"attempts": 3, "backoff": {"type": "exponential", "delay": 100}}}]}))["id"]
    times: list[float] = []

    async def process(job: AsyncJob) -> None:
        times.append(time.monotonic())
        raise ValueError(job.data["boom"])

    events = await run_worker(redis_url, qn, process, until=count("failed", 3))
    assert [e[:2] for e in events] == [("failed", job_id)] * 3
    assert times[1] - times[0] >= 0.095
    assert times[2] - times[1] >= 0.195
    job, counts = peer({"queue": qn, "actions": [
        {"op": "getJob", "id": job_id}, {"op": "getJobCounts"}]})["results"]
    assert job["state"] == "failed"
    assert job["failedReason"] == "kaput"
    assert len(job["stacktrace"]) == 3
    assert all("kaput" in s and "ValueError" in s for s in job["stacktrace"])
    assert job["attemptsMade"] == 3
    assert job["attemptsStarted"] == 3
    assert job["finishedOn"] is not None
    assert job["delay"] == 0  # reset when the last backoff was promoted
    assert counts["failed"] == 1 and sum(counts.values()) == 1
    evs = peer_events(peer, qn)
    kinds = [(e["event"], e.get("jobId")) for e in evs]
    assert kinds.count(("delayed", job_id)) == 2
    assert kinds.count(("failed", job_id)) == 1
    failed = next(e for e in evs if e["event"] == "failed")
    assert failed["failedReason"] == "kaput" and failed["prev"] == "active"
    exhausted = [e for e in evs if e["event"] == "retries-exhausted"]
    assert [str(e["attemptsMade"]) for e in exhausted] == ["3"]


async def queuecore_adds_peer_fails_with_backoff(peer: Peer, redis_url: str) -> None:
    qn = qname(peer, "q2p-fail")
    with Queue(qn, connection=redis_url) as q:
        once = q.add("once", {"fail": "peer says no"})
        thrice = q.add("thrice", {"fail": "again"}, attempts=3,
                       backoff={"type": "exponential", "delay": 100})
        fixed = q.add("fixed", {"fail": "fixed"}, attempts=2, backoff=50)
        t0 = time.monotonic()
        work = one(peer({"queue": qn, "actions": [
            {"op": "work", "count": 6, "timeoutMs": 8000}]}))
        assert not work["timedOut"], work
        assert time.monotonic() - t0 >= 0.3  # 100 + 200 ms of backoff at least
        assert work["completed"] == []
        assert sorted(f["id"] for f in work["failed"]) == sorted(
            [once.id, thrice.id, thrice.id, thrice.id, fixed.id, fixed.id])
        job = q.get_job(once.id)
        assert job.get_state() == "failed"
        assert job.failed_reason == "peer says no"
        assert len(job.stacktrace) == 1 and "peer says no" in job.stacktrace[0]
        assert job.attempts_made == 1
        job = q.get_job(thrice.id)
        assert job.get_state() == "failed"
        assert job.failed_reason == "again"
        assert len(job.stacktrace) == 3
        assert job.attempts_made == 3 and job.attempts_started == 3
        assert job.delay == 0  # reset when the last backoff was promoted
        job = q.get_job(fixed.id)
        assert job.attempts_made == 2 and job.delay == 0
        assert q.get_job_counts("failed", "waiting", "delayed", "active") == {
            "failed": 3, "waiting": 0, "delayed": 0, "active": 0}
    evs = qc_events(redis_url, qn)
    assert sorted(e.job_id for e in evs if e.event == "delayed") == sorted(
        [thrice.id, thrice.id, fixed.id])
    failed = {e.job_id: e for e in evs if e.event == "failed"}
    assert set(failed) == {once.id, thrice.id, fixed.id}
    assert failed[thrice.id]["failedReason"] == "again"
    exhausted = {e.job_id: e["attemptsMade"] for e in evs if e.event == "retries-exhausted"}
    assert exhausted == {once.id: "1", thrice.id: "3", fixed.id: "2"}


# -- priority -------------------------------------------------------------------------------


PRIOS = [5, 1, 3, 1, 2, 0]


async def peer_adds_prioritized_queuecore_order(peer: Peer, redis_url: str) -> None:
    qn = qname(peer, "p2q-prio")
    res = one(peer({"queue": qn, "actions": [{"op": "addBulk", "jobs": [
        {"name": f"p{p}", "data": {"i": i}, "opts": {"priority": p} if p else {}}
        for i, p in enumerate(PRIOS)]}]}))
    ids = res["ids"]
    with Queue(qn, connection=redis_url) as q:
        assert q.get_job_counts("prioritized", "waiting") == {"prioritized": 5, "waiting": 1}
    events = await run_worker(redis_url, qn, echo, until=count("completed", 6))
    order = [e[1] for e in events]
    # wait first, then by priority, FIFO within one priority
    assert order == [ids[5], ids[1], ids[3], ids[4], ids[2], ids[0]]
    got = peer({"queue": qn, "actions": [{"op": "getJob", "id": i} for i in ids]})["results"]
    assert [j["priority"] for j in got] == PRIOS
    assert all(j["state"] == "completed" for j in got)


async def queuecore_adds_prioritized_peer_order(peer: Peer, redis_url: str) -> None:
    qn = qname(peer, "q2p-prio")
    with Queue(qn, connection=redis_url) as q:
        ids = [q.add(f"p{p}", {"i": i}, **({"priority": p} if p else {})).id
               for i, p in enumerate(PRIOS)]
        res = peer({"queue": qn, "actions": [
            {"op": "getJobCounts", "types": ["prioritized", "waiting"]},
            {"op": "work", "count": 6, "timeoutMs": 8000}]})["results"]
        assert res[0] == {"prioritized": 5, "waiting": 1}
        order = [c["id"] for c in res[1]["completed"]]
        assert order == [ids[5], ids[1], ids[3], ids[4], ids[2], ids[0]]
        assert [q.get_job(i).priority for i in ids] == PRIOS


# -- delayed and promote ----------------------------------------------------------------------


async def peer_adds_delayed_queuecore_promotes(peer: Peer, redis_url: str) -> None:
    qn = qname(peer, "p2q-delay")
    short, long_ = (r["id"] for r in peer({"queue": qn, "actions": [
        {"op": "add", "name": "short", "data": {}, "opts": {"delay": 400}},
        {"op": "add", "name": "long", "data": {}, "opts": {"delay": 60_000}}]})["results"])
    with Queue(qn, connection=redis_url) as q:
        assert q.get_job_state(long_) == "delayed"
        assert q.get_job(long_).delay == 60_000
        started: dict[str, float] = {}

        async def process(job: AsyncJob) -> str:
            started[job.id] = time.time() * 1000
            return "ok"

        async def promote_long() -> None:
            q.get_job(long_).promote()

        await run_worker(redis_url, qn, process, until=count("completed", 2),
                         during=promote_long)
    short_job, long_job = peer({"queue": qn, "actions": [
        {"op": "getJob", "id": short}, {"op": "getJob", "id": long_}]})["results"]
    assert started[short] - short_job["timestamp"] >= 400
    assert started[long_] - long_job["timestamp"] < 5_000  # promoted, not waited for
    assert long_job["state"] == short_job["state"] == "completed"
    assert long_job["delay"] == 0
    evs = peer_events(peer, qn)
    waiting = [(e["jobId"], e.get("prev")) for e in evs if e["event"] == "waiting"]
    assert (long_, "delayed") in waiting and (short, "delayed") in waiting
    delayed = {e["jobId"]: e for e in evs if e["event"] == "delayed"}
    assert int(delayed[long_]["delay"]) == long_job["timestamp"] + 60_000


async def queuecore_adds_delayed_peer_promotes(peer: Peer, redis_url: str) -> None:
    qn = qname(peer, "q2p-delay")
    with Queue(qn, connection=redis_url) as q:
        short = q.add("short", {}, delay=400)
        long_ = q.add("long", {}, delay=60_000)
        res = peer({"queue": qn, "actions": [
            {"op": "getState", "id": long_.id},
            {"op": "promote", "id": long_.id},
            {"op": "getState", "id": long_.id},
            {"op": "work", "count": 2, "timeoutMs": 5000}]})["results"]
        assert res[:3] == ["delayed", True, "waiting"]
        work = res[3]
        assert [c["id"] for c in work["completed"]] == [long_.id, short.id]
        s, lj = q.get_job(short.id), q.get_job(long_.id)
        assert s.processed_on - s.timestamp >= 400
        assert lj.processed_on - lj.timestamp < 5_000
        assert lj.delay == 0 and lj.get_state() == "completed"
    waiting = [(e.job_id, e.fields.get("prev")) for e in qc_events(redis_url, qn)
               if e.event == "waiting"]
    assert (long_.id, "delayed") in waiting and (short.id, "delayed") in waiting


# -- progress and logs ----------------------------------------------------------------------


async def peer_worker_progress_logs(peer: Peer, redis_url: str) -> None:
    qn = qname(peer, "q2p-progress")
    with Queue(qn, connection=redis_url) as q:
        j1 = q.add("num", {"progress": 42, "log": "hello from the peer"})
        j2 = q.add("obj", {"progress": {"stage": "x", "pct": 50}}, keep_logs=1)
        q.get_job(j2.id).log("from queuecore, trimmed away by keepLogs 1")
        work = one(peer({"queue": qn, "actions": [{"op": "work", "count": 2,
                                                   "timeoutMs": 5000}]}))
        assert not work["timedOut"]
        assert q.get_job(j1.id).progress == 42
        assert q.get_job(j2.id).progress == {"stage": "x", "pct": 50}
        assert q.get_job_logs(j1.id) == (["hello from the peer"], 1)
        res = peer({"queue": qn, "actions": [
            {"op": "log", "id": j2.id, "text": "a"}, {"op": "log", "id": j2.id, "text": "b"},
            {"op": "getLogs", "id": j2.id}]})["results"]
        assert res[1] == 1  # trimmed to keep_logs
        assert res[2] == {"logs": ["b"], "count": 1}
        assert q.get_job_logs(j2.id) == (["b"], 1)
    progress = [(e.job_id, e["data"]) for e in qc_events(redis_url, qn)
                if e.event == "progress"]
    assert progress == [(j1.id, "42"), (j2.id, '{"stage":"x","pct":50}')]


async def queuecore_worker_progress_logs(peer: Peer, redis_url: str) -> None:
    qn = qname(peer, "p2q-progress")
    ids = [r["id"] for r in peer({"queue": qn, "actions": [
        {"op": "add", "name": "a", "data": {}},
        {"op": "add", "name": "b", "data": {}, "opts": {"keepLogs": 2}}]})["results"]]

    async def process(job: AsyncJob) -> str:
        await job.update_progress(10)
        await job.update_progress({"pct": 100, "msg": "done"})
        for i in range(3):
            await job.log(f"line {i}")
        return "ok"

    await run_worker(redis_url, qn, process, until=count("completed", 2))
    res = peer({"queue": qn, "actions": [
        *({"op": "getJob", "id": i} for i in ids),
        *({"op": "getLogs", "id": i} for i in ids),
        {"op": "getLogs", "id": ids[0], "start": 0, "end": 0, "asc": False}]})["results"]
    assert res[0]["progress"] == {"pct": 100, "msg": "done"}
    assert res[2] == {"logs": ["line 0", "line 1", "line 2"], "count": 3}
    assert res[3] == {"logs": ["line 1", "line 2"], "count": 2}
    assert res[4]["logs"] == ["line 2"]
    evs = peer_events(peer, qn)
    prog = [(e["jobId"], e["data"]) for e in evs if e["event"] == "progress"]
    assert prog == [(ids[0], 10), (ids[0], {"pct": 100, "msg": "done"}),
                    (ids[1], 10), (ids[1], {"pct": 100, "msg": "done"})]


# -- retry, remove and promote done by the other side -----------------------------------------


async def peer_retries_queuecore_jobs(peer: Peer, redis_url: str) -> None:
    qn = qname(peer, "p-retries-q")
    with Queue(qn, connection=redis_url) as q:
        bad = q.add("bad", {"failAttempts": 1})
        good = q.add("good", {})

        async def process(job: AsyncJob) -> str:
            if job.attempts_made < job.data.get("failAttempts", 0):
                raise RuntimeError("first time fails")
            return f"ok after {job.attempts_made}"

        await run_worker(redis_url, qn, process, until=lambda ev: len(ev) >= 2)
        assert q.get_job_state(bad.id) == "failed"
        res = peer({"queue": qn, "actions": [
            {"op": "retry", "id": bad.id},
            {"op": "retry", "id": good.id, "state": "completed"},
            {"op": "getState", "id": bad.id}, {"op": "getState", "id": good.id}]})["results"]
        assert res == [True, True, "waiting", "waiting"]
        j = q.get_job(bad.id)
        assert j.failed_reason is None and j.finished_on is None and j.processed_on is None
        assert j.attempts_made == 1  # kept (D6)
        events = await run_worker(redis_url, qn, process, until=count("completed", 2))
        assert sorted(e[1] for e in events) == sorted([bad.id, good.id])
        j = q.get_job(bad.id)
        assert j.get_state() == "completed"
        assert j.return_value == "ok after 1"
        assert j.attempts_made == 2 and j.attempts_started == 2
        assert len(j.stacktrace) == 1  # kept from the failed attempt
        assert q.get_job(good.id).attempts_made == 2
    waiting = [(e.job_id, e.fields.get("prev")) for e in qc_events(redis_url, qn)
               if e.event == "waiting"]
    assert (bad.id, "failed") in waiting and (good.id, "completed") in waiting


async def queuecore_retries_peer_jobs(peer: Peer, redis_url: str) -> None:
    qn = qname(peer, "q-retries-p")
    bad, good = (r["id"] for r in peer({"queue": qn, "actions": [
        {"op": "add", "name": "bad", "data": {"fail": "first time", "failAttempts": 1}},
        {"op": "add", "name": "good", "data": {"return": "fine"}},
        {"op": "work", "count": 2, "timeoutMs": 5000}]})["results"][:2])
    with Queue(qn, connection=redis_url) as q:
        assert q.get_job_state(bad) == "failed"
        assert q.get_job(bad).failed_reason == "first time"
        q.get_job(bad).retry()
        q.get_job(good).retry("completed")
        res = peer({"queue": qn, "actions": [
            {"op": "getJob", "id": bad}, {"op": "work", "count": 2, "timeoutMs": 5000},
            {"op": "getJob", "id": bad}, {"op": "getJob", "id": good}]})["results"]
        before, work, after, good_job = res
        assert before["state"] == "waiting"
        assert before["failedReason"] is None and before["finishedOn"] is None
        assert before["attemptsMade"] == 1
        assert sorted(c["id"] for c in work["completed"]) == sorted([bad, good])
        assert after["state"] == "completed"
        assert after["returnvalue"] == {"echo": {"fail": "first time", "failAttempts": 1}}
        assert after["attemptsMade"] == 2
        assert good_job["attemptsMade"] == 2 and good_job["returnvalue"] == "fine"
    waiting = [(e["jobId"], e.get("prev")) for e in peer_events(peer, qn)
               if e["event"] == "waiting"]
    assert (bad, "failed") in waiting and (good, "completed") in waiting


async def peer_removes_queuecore_jobs(peer: Peer, redis_url: str) -> None:
    qn = qname(peer, "p-removes-q")
    with Queue(qn, connection=redis_url) as q:
        done = q.add("done", {})
        await run_worker(redis_url, qn, echo, until=count("completed", 1))
        held = q.add("held", {"hold": True})
        release = asyncio.Event()
        added: list[str] = []

        process = held_until(release)

        async def remove_from_peer() -> None:
            try:
                await wait_for(lambda: q.get_job_state(held.id) == "active", what="held active")
                # the worker (concurrency 1) is busy with `held`: these stay where they are
                waiting = q.add("waiting", {})
                waiting.log("a log line")
                added.extend([waiting.id, q.add("delayed", {}, delay=60_000).id,
                              q.add("prio", {}, priority=3).id])
                res = (await peer.arun({"queue": qn, "actions": [
                    {"op": "remove", "id": i} for i in (done.id, *added, held.id)]}))["results"]
                assert res == [1, 1, 1, 1, 0]  # 0: locked by queuecore's worker (D5)
                assert q.get_job_state(held.id) == "active"
            finally:
                release.set()

        await run_worker(redis_url, qn, process, during=remove_from_peer,
                         until=count("completed", 1))
        waiting_id, delayed_id, prio_id = added
        for job_id in (done.id, *added):
            assert q.get_job(job_id) is None
        assert q.get_job_logs(waiting_id) == ([], 0)
        assert q.get_job_counts("waiting", "delayed", "prioritized", "completed") == {
            "waiting": 0, "delayed": 0, "prioritized": 0, "completed": 1}
        assert q.get_job_state(held.id) == "completed"
    removed = {e.job_id: e["prev"] for e in qc_events(redis_url, qn) if e.event == "removed"}
    assert removed == {done.id: "completed", waiting_id: "wait", delayed_id: "delayed",
                       prio_id: "prioritized"}


async def queuecore_removes_peer_jobs(peer: Peer, redis_url: str) -> None:
    qn = qname(peer, "q-removes-p")
    ids = [r["id"] for r in peer({"queue": qn, "actions": [
        {"op": "add", "name": "done", "data": {}},
        {"op": "work", "count": 1, "timeoutMs": 5000},
        {"op": "add", "name": "held", "data": {"sleepMs": 1500}},  # taken first (FIFO)
        {"op": "add", "name": "waiting", "data": {}},
        {"op": "add", "name": "delayed", "data": {}, "opts": {"delay": 60_000}},
        {"op": "add", "name": "prio", "data": {}, "opts": {"priority": 2}},
    ]})["results"] if r and "id" in r]
    done, held, waiting, delayed, prio = ids
    proc = await peer.spawn({"queue": qn, "actions": [
        {"op": "work", "count": 1, "timeoutMs": 8000, "workerOpts": {"drainDelay": 1}}]})
    try:
        with Queue(qn, connection=redis_url) as q:
            await wait_for(lambda: q.get_job_state(held) == "active", what="peer holds job")
            with pytest.raises(JobLockedError):
                q.remove(held)
            for job_id in (done, waiting, delayed, prio):
                q.remove(job_id)
            out, _ = await asyncio.wait_for(proc.communicate(), 10)
            work = json.loads(out.decode().strip().splitlines()[-1])["results"][0]
            assert [c["id"] for c in work["completed"]] == [held]
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    res = peer({"queue": qn, "actions": [
        *({"op": "getJob", "id": i} for i in (done, waiting, delayed, prio, held)),
        {"op": "getJobCounts"}]})["results"]
    assert res[:4] == [None] * 4
    assert res[4]["state"] == "completed"
    assert sum(res[5].values()) == 1
    removed = {e["jobId"]: e["prev"] for e in peer_events(peer, qn) if e["event"] == "removed"}
    assert removed == {done: "completed", waiting: "wait", delayed: "delayed",
                       prio: "prioritized"}


# -- pause and resume -------------------------------------------------------------------------


async def queuecore_pauses_peer_sees(peer: Peer, redis_url: str) -> None:
    qn = qname(peer, "q-pauses-p")
    with Queue(qn, connection=redis_url) as q:
        q.pause()
        job = q.add("while-paused", {"return": "peer ran it"})
        res = peer({"queue": qn, "actions": [
            {"op": "isPaused"},
            {"op": "work", "count": 1, "timeoutMs": 800, "workerOpts": {"drainDelay": 1}},
            {"op": "getState", "id": job.id}]})["results"]
        assert res[0] is True
        assert res[1]["completed"] == [] and res[1]["timedOut"] is True
        assert res[2] == q.get_job_state(job.id) == "waiting"
        assert q.get_job(job.id).attempts_started == 0
        q.resume()
        res = peer({"queue": qn, "actions": [
            {"op": "isPaused"}, {"op": "work", "count": 1, "timeoutMs": 5000}]})["results"]
        assert res[0] is False
        assert [c["id"] for c in res[1]["completed"]] == [job.id]
        assert q.get_job(job.id).return_value == "peer ran it"
    kinds = [e["event"] for e in peer_events(peer, qn)]
    assert kinds.index("paused") < kinds.index("resumed") < kinds.index("completed")


async def peer_pauses_queuecore_sees(peer: Peer, redis_url: str) -> None:
    qn = qname(peer, "p-pauses-q")
    peer({"queue": qn, "actions": [{"op": "pause"}]})
    with Queue(qn, connection=redis_url) as q:
        assert q.is_paused() is True
        job = q.add("while-paused", {})
        assert q.get_job_state(job.id) == "waiting"

        async def resume_later() -> None:
            # The worker is idle on the marker: past its fetch, which the paused queue refused.
            with redis.Redis.from_url(redis_url, decode_responses=True) as r:
                await wait_for(lambda: blocked_on_marker(r), what="the worker idle")
            assert q.get_job(job.id).processed_on is None  # the paused queue gave nothing
            q.resume()
            assert one(await peer.arun({"queue": qn, "actions": [{"op": "isPaused"}]})) is False

        events = await run_worker(redis_url, qn, echo, during=resume_later,
                                  until=count("completed", 1))
        assert [e[1] for e in events] == [job.id]
    kinds = [e.event for e in qc_events(redis_url, qn)]
    assert kinds.index("paused") < kinds.index("resumed") < kinds.index("completed")


# -- counts and workers -----------------------------------------------------------------------


# The states both getJobCounts() report by default (queuecore also reports the legacy "paused").
BOTH_REPORT = {"active", "completed", "delayed", "failed", "prioritized", "waiting",
               "waiting-children"}


async def counts_agree(peer: Peer, redis_url: str) -> None:
    qn = qname(peer, "counts")
    # completed / failed by the peer
    peer({"queue": qn, "actions": [
        {"op": "add", "name": "ok", "data": {}}, {"op": "add", "name": "bad",
                                                  "data": {"fail": "no"}},
        {"op": "work", "count": 2, "timeoutMs": 5000}]})
    release = asyncio.Event()
    with Queue(qn, connection=redis_url) as q:
        held = q.add("hold", {"hold": True})

        process = held_until(release)

        async def compare() -> None:
            try:
                await wait_for(lambda: q.get_job_state(held.id) == "active", what="active")
                await peer.arun({"queue": qn, "actions": [
                    {"op": "add", "name": "w", "data": {}},
                    {"op": "add", "name": "p", "data": {}, "opts": {"priority": 4}},
                    {"op": "add", "name": "d", "data": {}, "opts": {"delay": 60_000}}]})
                q.add("w2", {})
                q.add("d2", {}, delay=60_000)
                ids = sorted(j.id for j in q.get_jobs())
                qc_counts = q.get_job_counts()
                qc_states = {i: q.get_job_state(i) for i in ids}
                res = (await peer.arun({"queue": qn, "actions": [
                    {"op": "getJobCounts"},
                    *({"op": "getState", "id": i} for i in ids)]}))["results"]
            finally:
                release.set()
            peer_counts, states = res[0], res[1:]
            assert set(peer_counts) >= BOTH_REPORT
            assert {s: qc_counts[s] for s in peer_counts} == peer_counts
            assert peer_counts == {**dict.fromkeys(peer_counts, 0), "active": 1, "completed": 1,
                                   "failed": 1, "waiting": 2, "prioritized": 1, "delayed": 2}
            assert dict(zip(ids, states, strict=True)) == qc_states

        await run_worker(redis_url, qn, process, during=compare, name="qc-counter",
                         until=lambda ev: release.is_set() and len(ev) >= 1)


async def queuecore_lists_peer_workers(peer: Peer, redis_url: str) -> None:
    qn = qname(peer, "peer-workers")
    proc = await peer.spawn({"queue": qn, "actions": [
        {"op": "work", "count": 0, "timeoutMs": 20_000, "workerOpts": {"name": "peer-w"}}]})
    try:
        with Queue(qn, connection=redis_url) as q:
            want = peer.worker_client_name(qn, "peer-w")
            await wait_for(lambda: any(w["name"] == want for w in q.get_workers()),
                           what=f"{want} in get_workers")
            names = [w["name"] for w in q.get_workers()]
            # Node names its blocking connection; Python bullmq names each of its connections
            assert set(names) == {want}
            if peer.kind == "node":
                assert names == [want]
            listed = one(await peer.arun({"queue": qn, "actions": [{"op": "getWorkers"}]}))
            assert set(listed) == {want}
            proc.kill()  # its connections close with it
            await proc.wait()
            await wait_for(lambda: q.get_workers() == [], what="the dead worker unlisted")
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


# -- flows ------------------------------------------------------------------------------------


async def queuecore_flow_children_on_peer(peer: Peer, redis_url: str) -> None:
    parent_q, child_q = qname(peer, "flow-parent-qc"), qname(peer, "flow-children-peer")
    node = FlowProducer(redis_url).add({
        "name": "parent", "queue_name": parent_q, "data": {"p": 1},
        "children": [
            {"name": "c1", "queue_name": child_q, "data": {"return": {"v": 1}}},
            {"name": "c2", "queue_name": child_q, "data": {"return": "two"}},
        ]})
    pid = node.job.id
    c1, c2 = (c.job.id for c in node.children)
    with Queue(parent_q, connection=redis_url) as pq:
        assert pq.get_job_state(pid) == "waiting-children"
        res = peer({"queue": child_q, "actions": [
            {"op": "getJob", "id": c1}, {"op": "work", "count": 2, "timeoutMs": 5000}]})
        child = res["results"][0]
        assert child["parentKey"] == f"bull:{parent_q}:{pid}"
        assert sorted(c["id"] for c in res["results"][1]["completed"]) == sorted([c1, c2])
        assert pq.get_job_state(pid) == "waiting"
        values: dict[str, Any] = {}

        async def process(job: AsyncJob) -> str:
            values.update(await job.get_children_values())
            return "parent done"

        await run_worker(redis_url, parent_q, process, until=count("completed", 1))
        assert values == {f"bull:{child_q}:{c1}": {"v": 1}, f"bull:{child_q}:{c2}": "two"}
    parent = peer({"queue": parent_q, "actions": [{"op": "getJob", "id": pid},
                                                  {"op": "getChildrenValues", "id": pid}]})
    assert parent["results"][0]["state"] == "completed"
    assert parent["results"][1] == values


async def peer_flow_children_on_queuecore(peer: Peer, redis_url: str) -> None:
    parent_q, child_q = qname(peer, "flow-parent-peer"), qname(peer, "flow-children-qc")
    tree = one(peer({"queue": parent_q, "actions": [{"op": "addFlow", "flow": {
        "name": "parent", "queueName": parent_q, "data": {"returnChildren": True},
        "children": [
            {"name": "c1", "queueName": child_q, "data": {"n": 1}},
            {"name": "c2", "queueName": child_q, "data": {"n": 2},
             "opts": {"failParentOnFailure": True}}]}}]}))
    pid = tree["id"]
    c1, c2 = (c["id"] for c in tree["children"])
    with Queue(child_q, connection=redis_url) as cq:
        job = cq.get_job(c1)
        assert job.parent_key == f"bull:{parent_q}:{pid}"
        assert cq.get_job(c2).opts.get("fpof") is True

    async def process(job: AsyncJob) -> dict[str, Any]:
        return {"child": job.data["n"]}

    await run_worker(redis_url, child_q, process, until=count("completed", 2))
    res = peer({"queue": parent_q, "actions": [
        {"op": "getState", "id": pid}, {"op": "work", "count": 1, "timeoutMs": 5000},
        {"op": "getJob", "id": pid}]})["results"]
    assert res[0] == "waiting"
    want = {f"bull:{child_q}:{c1}": {"child": 1}, f"bull:{child_q}:{c2}": {"child": 2}}
    assert res[1]["completed"][0]["returnvalue"] == want
    with Queue(parent_q, connection=redis_url) as pq:
        parent = pq.get_job(pid)
        assert parent.get_state() == "completed"
        assert parent.return_value == want
        assert parent.get_children_values() == want


# -- fan-out ----------------------------------------------------------------------------------


def job_key(queue: str, job_id: str) -> str:
    return f"bull:{queue}:{job_id}"


async def peer_work_ends(peer: Peer, proc: asyncio.subprocess.Process,
                         scenario: dict[str, Any], timeout: float) -> dict[str, Any]:
    """The result of ``peer.spawn(scenario)``'s single ``work`` action (killed on timeout)."""
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    return one(peer._parse(scenario, proc.returncode, out, err))


async def queuecore_fan_out_run_by_peer(
        peer: Peer, redis_url: str,
        while_held: Callable[[dict[str, Any]], Awaitable[None]] | None = None,
) -> dict[str, Any]:
    """A fan-out written by queuecore whose first, "then" and join jobs the peer's workers run
    (three queues, all worked at once); queuecore runs only the gate worker, and only once
    ``first`` completed. ``while_held(jobs)`` runs in between, when ``first`` completed but
    nothing after it may run yet. Returns ``jobs``: {"first", "then", "join", "gate": (queue,
    id) or a list of them, "result": first's result}."""
    qa, qb, qc = (qname(peer, f"fo-{x}") for x in "abc")
    gate_q = qname(peer, "fo-gate")
    result = {"ingested": "talk.mp4", "parts": [1, "two", None]}
    children = {"returnChildren": True}  # the peer's processor returns getChildrenValues()
    with FlowProducer(redis_url) as flows:
        fanned = flows.add(fan_out(
            {"name": "ingest", "queue_name": qa, "data": {"return": result}},
            then=[{"name": "transcode", "queue_name": qb, "data": children},
                  {"name": "thumbnail", "queue_name": qb, "data": children},
                  {"name": "transcribe", "queue_name": qc, "data": children,
                   "opts": {"priority": 2}}],
            join={"name": "publish", "queue_name": qa, "data": children},
            gate_queue=gate_q))
    assert fanned.join is not None
    jobs: dict[str, Any] = {
        "first": (qa, fanned.first.job.id), "join": (qa, fanned.join.job.id),
        "then": [(q, n.job.id) for q, n in zip((qb, qb, qc), fanned.then, strict=True)],
        "gate": (gate_q, fanned.gate.job.id), "result": result}
    first_key = job_key(*jobs["first"])
    then_keys = [job_key(*t) for t in jobs["then"]]

    scenarios = [{"queue": q, "actions": [{"op": "work", "count": n, "concurrency": 2,
                                           "timeoutMs": 15_000}]}
                 for q, n in ((qa, 2), (qb, 2), (qc, 1))]
    procs = [await peer.spawn(s) for s in scenarios]
    try:
        with Queue(qa, connection=redis_url) as q:
            await wait_for(lambda: q.get_job_state(fanned.first.job.id) == "completed",
                           what="the peer ran first")
        await asyncio.sleep(0.5)  # the peer's workers had every chance to take a "then" job
        for (queue, job_id) in [*jobs["then"], jobs["join"]]:
            with Queue(queue, connection=redis_url) as q:
                held = q.get_job(job_id)
                assert held.get_state() == "waiting-children", (queue, job_id)
                assert held.processed_on is None and held.attempts_started == 0
        with Queue(gate_q, connection=redis_url) as q:
            assert q.get_job_state(fanned.gate.job.id) == "waiting"  # BullMQ's own rule
        states = (await peer.arun({"queue": qb, "actions": [
            {"op": "getState", "id": i} for _, i in jobs["then"][:2]]}))["results"]
        assert states == ["waiting-children"] * 2
        if while_held is not None:
            await while_held(jobs)

        released_at = time.time() * 1000
        events = await run_worker(redis_url, gate_q, release_fan_out,
                                  until=count("completed", 1))
        assert events == [("completed", fanned.gate.job.id, {"released": 3})]
        work = [await peer_work_ends(peer, p, s, 20) for p, s in zip(procs, scenarios,
                                                                      strict=True)]
    finally:
        for p in procs:
            if p.returncode is None:
                p.kill()
                await p.wait()

    for w in work:
        assert not w["timedOut"] and w["failed"] == [], w
    returned = {c["id"]: c["returnvalue"] for w in work for c in w["completed"]}
    assert returned[fanned.first.job.id] == result
    for _, job_id in jobs["then"]:
        # each "then" job's getChildrenValues(), called by the peer inside its processor
        assert returned[job_id] == {first_key: result}, job_id
    assert returned[fanned.join.job.id] == {k: {first_key: result} for k in then_keys}

    def stored(queue: str, job_id: str) -> Any:
        with Queue(queue, connection=redis_url) as q:
            job = q.get_job(job_id)
        assert job is not None and job.get_state() == "completed", (queue, job_id)
        return job

    first = stored(*jobs["first"])
    then = [stored(*t) for t in jobs["then"]]
    for t in then:
        assert t.processed_on >= first.finished_on
        # released jobs wake the peer's blocked workers (no wait for their drain delay)
        assert t.processed_on - released_at < 4_000, t.processed_on - released_at
    assert stored(*jobs["join"]).processed_on >= max(t.finished_on for t in then)
    with Queue(gate_q, connection=redis_url) as q:
        assert q.get_job(fanned.gate.job.id) is None  # the gate removed itself
    return jobs


# -- job schedulers ---------------------------------------------------------------------------


async def peer_scheduler_runs_on_queuecore(peer: Peer, redis_url: str, *, cron: bool) -> None:
    qn = qname(peer, "p-sched-cron" if cron else "p-sched-every")
    repeat = {"pattern": "* * * * * *"} if cron else {"every": 400}
    first = one(peer({"queue": qn, "actions": [{"op": "upsertJobScheduler", "id": "tick",
                                               "repeat": repeat, "template": {
                                                   "name": "tick", "data": {"k": "v"}}}]}))
    assert first["id"].startswith("repeat:tick:")
    with Queue(qn, connection=redis_url) as q:
        [sched] = q.get_job_schedulers()
        assert sched.id == "tick"
        if cron:
            assert sched.pattern == "* * * * * *"
        else:
            assert sched.every == 400
        seen: list[tuple[str, Any, str | None]] = []

        async def process(job: AsyncJob) -> str:
            seen.append((job.id, job.data, job.scheduler_id))
            return "tick"

        await run_worker(redis_url, qn, process, until=count("completed", 2), timeout=6)
        assert len(seen) >= 2 and all(s[1] == {"k": "v"} for s in seen)
        assert all(s[2] == "tick" and s[0].startswith("repeat:tick:") for s in seen)
        due = [int(s[0].rsplit(":", 1)[1]) for s in seen]
        step = 1000 if cron else 400
        # runs keep the first one's phase; a slot already past when a run is made is skipped
        assert all(b > a and (b - a) % step == 0 for a, b in itertools.pairwise(due))
        assert q.get_job(seen[0][0]).finished_on >= due[0]
        # the next run was created by queuecore's worker, in the peer's format
        [nxt] = one(peer({"queue": qn, "actions": [{"op": "getJobs", "states": ["delayed"]}]}))
        nxt_due = int(nxt.rsplit(":", 1)[1])
        assert nxt.startswith("repeat:tick:") and nxt_due > due[-1]
        assert (nxt_due - due[-1]) % step == 0
        assert q.remove_job_scheduler("tick") is True
    res = peer({"queue": qn, "actions": [{"op": "getJobSchedulers"},
                                         {"op": "getJobCounts"}]})["results"]
    assert res[0] == []
    assert res[1]["delayed"] == 0 and res[1]["completed"] == len(seen)


async def queuecore_scheduler_runs_on_peer(peer: Peer, redis_url: str, *, cron: bool) -> None:
    qn = qname(peer, "q-sched-cron" if cron else "q-sched-every")
    with Queue(qn, connection=redis_url) as q:
        if cron:
            first = q.upsert_job_scheduler("tock", pattern="* * * * * *", tz="Europe/Paris",
                                           name="tock", data={"return": "tocked"})
        else:
            first = q.upsert_job_scheduler("tock", every=400, name="tock",
                                           data={"return": "tocked"})
        assert first is not None and first.id.startswith("repeat:tock:")
        res = peer({"queue": qn, "actions": [
            {"op": "getJobSchedulers"}, {"op": "work", "count": 2, "timeoutMs": 6000},
            {"op": "getJobs", "states": ["delayed"]}]})["results"]
        [sched] = res[0]
        assert sched["key"] == "tock" and sched["name"] == "tock"
        if cron:
            assert sched["pattern"] == "* * * * * *" and sched["tz"] == "Europe/Paris"
        else:
            assert int(sched["every"]) == 400
        done = res[1]["completed"]  # 2, or 3 when a run started while the worker closed
        assert len(done) >= 2 and {c["returnvalue"] for c in done} == {"tocked"}
        due = [int(c["id"].rsplit(":", 1)[1]) for c in done]
        step = 1000 if cron else 400
        assert all(b > a and (b - a) % step == 0 for a, b in itertools.pairwise(due))
        [nxt_id] = res[2]  # the next run, made by the peer
        nxt_due = int(nxt_id.rsplit(":", 1)[1])
        assert nxt_id.startswith("repeat:tock:") and nxt_due > due[-1]
        assert (nxt_due - due[-1]) % step == 0
        nxt = q.get_job(nxt_id)
        assert nxt.scheduler_id == "tock" and nxt.data == {"return": "tocked"}
        [s] = q.get_job_schedulers()
        assert s.next == nxt_due
        assert one(peer({"queue": qn, "actions": [{"op": "removeJobScheduler",
                                                  "id": "tock"}]})) in (True, 0, 1)
        assert q.get_job_schedulers() == []
        assert q.get_job_counts("delayed")["delayed"] == 0


# -- deduplication ----------------------------------------------------------------------------


async def peer_dedup_then_queuecore(peer: Peer, redis_url: str) -> None:
    qn = qname(peer, "p-dedup-q")
    owner = one(peer({"queue": qn, "actions": [
        {"op": "add", "name": "d", "data": {"n": 1}, "opts": {"deduplication": {"id": "dd"}}},
    ]}))["id"]
    with Queue(qn, connection=redis_url) as q:
        dup = q.add("d", {"n": 2}, deduplication={"id": "dd"})
        assert dup.id == owner
        assert q.get_job(owner).data == {"n": 1}
        assert q.get_job(owner).deduplication_id == "dd"
        await run_worker(redis_url, qn, echo, until=count("completed", 1))
        fresh = q.add("d", {"n": 3}, deduplication={"id": "dd", "ttl": 60_000})
        assert fresh.id != owner
        res = peer({"queue": qn, "actions": [
            {"op": "add", "name": "d", "data": {"n": 4}, "opts": {"deduplication": {"id": "dd"}}},
            {"op": "getDeduplicationJobId", "id": "dd"}, {"op": "getJob", "id": fresh.id}]})
        assert res["results"][0]["id"] == fresh.id
        assert res["results"][1] == fresh.id
        assert res["results"][2]["deduplicationId"] == "dd"
        assert q.get_job_counts("waiting", "completed") == {"waiting": 1, "completed": 1}
    dd = [(e.job_id, e["deduplicationId"], e["deduplicatedJobId"])
          for e in qc_events(redis_url, qn) if e.event == "deduplicated"]
    assert [d[:2] for d in dd] == [(owner, "dd"), (fresh.id, "dd")]


async def queuecore_dedup_then_peer(peer: Peer, redis_url: str) -> None:
    qn = qname(peer, "q-dedup-p")
    client = redis.Redis.from_url(redis_url)
    with Queue(qn, connection=redis_url) as q:
        owner = q.add("d", {"return": 1}, deduplication={"id": "dd", "ttl": 60_000})
        assert 0 < client.pttl(f"bull:{qn}:de:dd") <= 60_000
        short = q.add("d", {"return": 2}, deduplication={"id": "short", "ttl": 200})
        await wait_for(lambda: not client.exists(f"bull:{qn}:de:short"), what="ttl ends")
        res = peer({"queue": qn, "actions": [
            {"op": "add", "name": "d", "data": {"n": 2}, "opts": {"deduplication": {"id": "dd"}}},
            {"op": "getDeduplicationJobId", "id": "dd"},
            {"op": "getJob", "id": owner.id},
            {"op": "add", "name": "d", "data": {"n": 3},
             "opts": {"deduplication": {"id": "short"}}},
            {"op": "getDeduplicationJobId", "id": "short"}]})["results"]
        client.close()
        assert res[0]["id"] == owner.id
        assert res[1] == owner.id
        assert res[2]["deduplicationId"] == "dd"
        assert res[3]["id"] not in (owner.id, short.id)  # the ttl ended: a new job
        assert res[4] == res[3]["id"]
        assert q.get_job(res[3]["id"]).deduplication_id == "short"
        assert q.get_job_counts("waiting")["waiting"] == 3
    kinds = [(e["event"], e.get("jobId")) for e in peer_events(peer, qn)]
    assert ("deduplicated", owner.id) in kinds


# -- a worker killed mid-job ------------------------------------------------------------------


async def peer_worker_killed_queuecore_recovers(peer: Peer, redis_url: str) -> None:
    qn = qname(peer, "p-killed")
    with Queue(qn, connection=redis_url) as q:
        job = q.add("long", {"sleepMs": 30_000})
        proc = await peer.spawn({"queue": qn, "actions": [
            {"op": "work", "count": 1, "timeoutMs": 30_000,
             "workerOpts": {"lockDuration": 1000, "stalledInterval": 1000}}]})
        try:
            await wait_for(lambda: q.get_job_state(job.id) == "active",
                           what="the peer took the job")
        finally:
            proc.send_signal(signal.SIGKILL)
            await proc.wait()
        assert q.get_job(job.id).attempts_started == 1

        async def process(j: AsyncJob) -> str:
            return "recovered by queuecore"

        await run_worker(redis_url, qn, process, until=count("completed", 1),
                         stalled_interval=300, lock_duration=1000)
    got = peer({"queue": qn, "actions": [{"op": "getJob", "id": job.id}]})
    j = got["results"][0]
    assert j["state"] == "completed"
    assert j["returnvalue"] == "recovered by queuecore"
    assert j["stalledCounter"] == 1
    assert j["attemptsStarted"] == 2
    assert j["attemptsMade"] == 1
    kinds = [(e["event"], e.get("jobId"), e.get("prev")) for e in peer_events(peer, qn)]
    assert ("stalled", job.id, None) in kinds
    assert ("waiting", job.id, "active") in kinds


QC_SLEEPER = """
import asyncio, sys
from queuecore import Worker

async def process(job):
    print("started", job.id, flush=True)
    await asyncio.sleep(60)

async def main():
    w = Worker(sys.argv[2], process, connection=sys.argv[1], lock_duration=1000,
               stalled_interval=1000)
    await w.run()

asyncio.run(main())
"""


async def queuecore_worker_killed_peer_recovers(peer: Peer, redis_url: str) -> None:
    qn = qname(peer, "q-killed")
    job_id = one(peer({"queue": qn, "actions": [
        {"op": "add", "name": "long", "data": {"return": "recovered by the peer"}}]}))["id"]
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", QC_SLEEPER, redis_url, qn, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), TIMEOUT)
        assert line.decode().split() == ["started", job_id]
    finally:
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
    with Queue(qn, connection=redis_url) as q:
        assert q.get_job_state(job_id) == "active"
        work = one(peer({"queue": qn, "actions": [
            {"op": "work", "count": 1, "timeoutMs": int(TIMEOUT * 1000),
             "workerOpts": {"stalledInterval": 300, "lockDuration": 1000}}]}))
        assert [c["id"] for c in work["completed"]] == [job_id]
        j = q.get_job(job_id)
        assert j.get_state() == "completed"
        assert j.return_value == "recovered by the peer"
        assert j.stalled_counter == 1
        assert j.attempts_started == 2
        assert j.attempts_made == 1
    kinds = [(e.event, e.job_id) for e in qc_events(redis_url, qn)]
    assert ("stalled", job_id) in kinds


# -- BullMQ 5 leftovers -----------------------------------------------------------------------


async def bullmq5_data_read(peer: Peer, redis_url: str, r: redis.Redis) -> None:
    """A queue left by BullMQ 5 while paused: jobs in the `paused` list, the old
    `attemptsMade` field, and old marker ids (`0:<n>`) inside `wait`."""
    qn = qname(peer, "legacy5")
    k = f"bull:{qn}:"
    now = int(time.time() * 1000)
    for i in (1, 2, 3):
        r.hset(k + str(i), mapping={
            "name": "old", "data": json.dumps({"i": i}), "opts": json.dumps({"attempts": 3}),
            "timestamp": now, "delay": 0, "priority": 0, "attemptsMade": i - 1})
    r.set(k + "id", 3)
    r.rpush(k + "paused", "1", "2")  # BullMQ 5 moved wait here while paused
    r.rpush(k + "wait", "0:1700000000000", "3", "0:1")  # a marker id inside wait
    r.hset(k + "meta", mapping={"paused": 1, "opts.maxLenEvents": 10000,
                                "version": "bullmq:5.12.0"})
    with Queue(qn, connection=redis_url) as q:
        assert q.is_paused() is True
        job = q.get_job("2")
        assert job.attempts_made == 1 and job.data == {"i": 2}
        assert q.get_job_state("1") in ("waiting", "paused")
        counts = q.get_job_counts()
        assert counts.get("paused", 0) + counts["waiting"] >= 3
        peer_view = peer({"queue": qn, "actions": [
            {"op": "getJob", "id": "2"}, {"op": "isPaused"}]})["results"]
        assert peer_view[0]["attemptsMade"] == 1 and peer_view[1] is True
        q.resume()
        assert r.exists(k + "paused") == 0
        seen: list[str] = []

        async def process(j: AsyncJob) -> int:
            seen.append(j.id)
            return int(j.data["i"])

        await run_worker(redis_url, qn, process, until=count("completed", 3))
        assert sorted(seen) == ["1", "2", "3"]
        # the old field stays, and both peers read it before `atm` (so does queuecore)
        assert [q.get_job(i).attempts_made for i in "123"] == [0, 1, 2]
        assert r.hget(k + "3", "atm") == "1"
        assert q.get_job_counts("completed", "waiting", "active") == {
            "completed": 3, "waiting": 0, "active": 0}
    res = peer({"queue": qn, "actions": [{"op": "getJob", "id": i} for i in "123"]})
    assert [j["state"] for j in res["results"]] == ["completed"] * 3
    assert [j["attemptsMade"] for j in res["results"]] == [0, 1, 2]


async def peer_lists_queuecore_workers(peer: Peer, redis_url: str) -> None:
    qn = qname(peer, "qc-workers")

    async def listed() -> None:
        with Queue(qn, connection=redis_url) as q:
            await wait_for(q.get_workers, what="queuecore lists its worker")
        want = [node_worker_client_name(qn, "qc-w"), f"bull:{qn}:w:qc-w"]
        got = one(await peer.arun({"queue": qn, "actions": [{"op": "getWorkers"}]}))
        assert any(name in got for name in want), got

    await run_worker(redis_url, qn, echo, during=listed, until=lambda ev: True, name="qc-w")


async def busy_queuecore_worker_listed(peer: Peer, redis_url: str) -> None:
    """A worker whose first fetch found a job (so it never had to block yet) is listed."""
    qn = qname(peer, "busy-worker")
    release = asyncio.Event()
    with Queue(qn, connection=redis_url) as q:
        held = q.add("hold", {})

        async def process(job: AsyncJob) -> str:
            await release.wait()
            return "ok"

        async def listed() -> None:
            try:
                await wait_for(lambda: q.get_job_state(held.id) == "active", what="active")
                got = one(await peer.arun({"queue": qn, "actions": [{"op": "getWorkers"}]}))
                mine = [w["name"] for w in q.get_workers()]
            finally:
                release.set()
            assert mine == [node_worker_client_name(qn, "busy")]
            assert got == mine

        await run_worker(redis_url, qn, process, during=listed, until=count("completed", 1),
                         name="busy")
