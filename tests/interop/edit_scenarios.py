"""Interop scenarios for BullMQ's job edits (update_data, change_priority, change_delay) and
counts getters, shared by the Node (test_node_job_edits.py, test_node_flow_getters.py) and
Python bullmq (test_python_bullmq_job_edits.py) tests. Each edit is checked one direction at a
time: one side edits, the other side reads and processes.

queuecore's side goes through the ``qc_*`` helpers below, the one place that says how
queuecore performs each edit.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import redis

from queuecore import DataError, Job, JobNotInStateError, Queue
from queuecore.base.clock import now_ms
from tests.queue_helpers import fetch

from .conftest import Peer
from .scenarios import count, echo, one, peer_events, qc_events, qname, run_worker

# -- how queuecore performs each edit (its Job face) ----------------------------------------------


def _job(q: Queue, job_id: str) -> Job:
    job = q.get_job(job_id)
    assert job is not None, job_id
    return job


def qc_update_data(q: Queue, job_id: str, data: Any) -> None:
    _job(q, job_id).update_data(data)


def qc_change_priority(q: Queue, job_id: str, priority: int, lifo: bool = False) -> None:
    _job(q, job_id).change_priority(priority=priority, lifo=lifo)


def qc_change_delay(q: Queue, job_id: str, delay: int) -> None:
    _job(q, job_id).change_delay(delay)


NEW_DATA = {"a": 2, "error": {"message": "boom", "at": [1, 2]}, "text": "été ✓"}


# -- update_data ----------------------------------------------------------------------------------


async def peer_updates_data_queuecore_sees(peer: Peer, redis_url: str,
                                           r: redis.Redis) -> None:
    qn = qname(peer, "p2q-update-data")
    with Queue(qn, connection=redis_url) as q:
        job = q.add("j", {"a": 1})
        n_events = r.xlen(f"bull:{qn}:events")
        res = peer({"queue": qn, "actions": [
            {"op": "updateData", "id": job.id, "data": NEW_DATA},
            {"op": "updateData", "id": "missing", "data": {}, "catch": True},
            {"op": "getJob", "id": job.id}]})["results"]
        assert res[0] is True
        assert res[1]["thrown"]  # refused: no such job
        assert res[2]["data"] == NEW_DATA
        stored = q.get_job(job.id)
        assert stored is not None and stored.data == NEW_DATA
        assert r.xlen(f"bull:{qn}:events") == n_events  # no event, on either side
        assert not r.exists(f"bull:{qn}:missing")

        async def process(j: Any) -> Any:
            return j.data

        events = await run_worker(redis_url, qn, process, until=count("completed", 1))
        assert events == [("completed", job.id, NEW_DATA)]


async def queuecore_updates_data_peer_sees(peer: Peer, redis_url: str) -> None:
    qn = qname(peer, "q2p-update-data")
    job_id = one(peer({"queue": qn, "actions": [{"op": "add", "name": "j",
                                                 "data": {"a": 1}}]}))["id"]
    with Queue(qn, connection=redis_url, max_data_size=200) as q:
        qc_update_data(q, job_id, NEW_DATA)
        with pytest.raises(DataError):
            qc_update_data(q, job_id, {"big": "x" * 500})
        res = peer({"queue": qn, "actions": [
            {"op": "getJob", "id": job_id},
            {"op": "work", "count": 1, "timeoutMs": 8000}]})["results"]
        assert res[0]["data"] == NEW_DATA  # the refused update wrote nothing
        assert res[1]["completed"][0]["returnvalue"] == {"echo": NEW_DATA}


# -- change_priority ------------------------------------------------------------------------------

# (name, options at add); then the changes, applied in order by one side.
PRIORITY_JOBS = [("w0", {}), ("p1", {"priority": 5}), ("p2", {"priority": 5}),
                 ("p3", {"priority": 7}), ("w1", {}), ("p4", {"priority": 5}),
                 ("d", {"delay": 60_000, "priority": 9})]
PRIORITY_CHANGES = [("p3", 1, False), ("p4", 5, True), ("w0", 3, False), ("p2", 0, True),
                    ("w1", 0, False), ("d", 2, False), ("p1", 6, False)]
# what a worker with concurrency 1 takes: wait (front first), then by priority
PRIORITY_ORDER = ["p2", "w1", "p3", "w0", "p4", "p1"]


def _queue_state(r: redis.Redis, qn: str, ids: dict[str, str]) -> dict[str, Any]:
    """The queue's structures with job ids replaced by names (the twins' ids differ)."""
    names = {v: k for k, v in ids.items()}
    base = f"bull:{qn}:"
    return {
        "wait": [names[i] for i in r.lrange(base + "wait", 0, -1)],
        "prioritized": [(names[i], s) for i, s in r.zrange(base + "prioritized", 0, -1,
                                                          withscores=True)],
        "delayed": [names[i] for i in r.zrange(base + "delayed", 0, -1)],
        "pc": r.get(base + "pc"),
        "marker": r.zrange(base + "marker", 0, -1),
        "priority": {n: r.hget(base + i, "priority") for n, i in ids.items()},
        "opts": {n: json.loads(r.hget(base + i, "opts") or "{}").get("priority")
                 for n, i in ids.items()},
        "events": [e["event"] for _, e in r.xrange(base + "events")],
    }


def _add_priority_jobs(q: Queue) -> dict[str, str]:
    return {name: q.add(name, {"name": name}, **opts).id  # type: ignore[arg-type]
            for name, opts in PRIORITY_JOBS}


async def priority_changes_agree(peer: Peer, redis_url: str, r: redis.Redis) -> None:
    """The same jobs and the same changes on twin queues, one changed by the peer and one by
    queuecore, leave the same structures and scores; then each side's worker runs the queue
    the other side changed, in the same order."""
    by_peer, by_qc = qname(peer, "change-priority-a"), qname(peer, "change-priority-b")
    with Queue(by_peer, connection=redis_url) as qa, Queue(by_qc, connection=redis_url) as qb:
        ids_a, ids_b = _add_priority_jobs(qa), _add_priority_jobs(qb)
        res = peer({"queue": by_peer, "actions": [
            {"op": "changePriority", "id": ids_a[name], "priority": p, "lifo": lifo}
            for name, p, lifo in PRIORITY_CHANGES]})["results"]
        assert all(x is True for x in res)
        for name, p, lifo in PRIORITY_CHANGES:
            qc_change_priority(qb, ids_b[name], p, lifo)
        state_a, state_b = _queue_state(r, by_peer, ids_a), _queue_state(r, by_qc, ids_b)
        assert state_a == state_b
        assert state_a["priority"]["d"] == "2" and state_a["delayed"] == ["d"]
        # queuecore runs what the peer changed
        events = await run_worker(redis_url, by_peer, echo, until=count("completed", 6))
        names_a = {v: k for k, v in ids_a.items()}
        assert [names_a[e[1]] for e in events] == PRIORITY_ORDER
        # the peer runs what queuecore changed
        work = one(peer({"queue": by_qc, "actions": [{"op": "work", "count": 6,
                                                      "timeoutMs": 8000}]}))
        names_b = {v: k for k, v in ids_b.items()}
        assert [names_b[c["id"]] for c in work["completed"]] == PRIORITY_ORDER
        res = peer({"queue": by_qc, "actions": [{"op": "getJob", "id": ids_b["d"]},
                                                {"op": "changePriority", "id": "nope",
                                                 "priority": 1, "catch": True}]})["results"]
        assert res[0]["priority"] == 2
        assert res[1]["thrown"]


# -- change_delay ---------------------------------------------------------------------------------


async def peer_changes_delay_queuecore_runs(peer: Peer, redis_url: str) -> None:
    qn = qname(peer, "p2q-change-delay")
    with Queue(qn, connection=redis_url) as q:
        delayed = q.add("d", {"n": 1}, delay=60_000)
        waiting = q.add("w", {"n": 2})
        before = now_ms()
        res = peer({"queue": qn, "actions": [
            {"op": "changeDelay", "id": delayed.id, "delay": 300},
            {"op": "changeDelay", "id": waiting.id, "delay": 300, "catch": True}]})["results"]
        after = now_ms()
        assert res[0] is True
        assert res[1]["thrown"]  # not delayed: refused
        job = q.get_job(delayed.id)
        assert job is not None and job.delay == 300 and job.get_state() == "delayed"
        ev = [e for e in qc_events(redis_url, qn) if e.event == "delayed"][-1]
        due = int(ev["delay"])
        assert before + 300 <= due <= after + 300
        score = q.client.zscore(q.keys.delayed, delayed.id)
        assert int(score) // 4096 == due
        assert q.get_job(waiting.id).get_state() == "waiting"  # type: ignore[union-attr]
        events = await run_worker(redis_url, qn, echo, until=count("completed", 2))
        assert [e[1] for e in events] == [waiting.id, delayed.id]
        done = q.get_job(delayed.id)
        assert done is not None and done.processed_on is not None
        assert done.processed_on >= due


async def queuecore_changes_delay_peer_runs(peer: Peer, redis_url: str) -> None:
    qn = qname(peer, "q2p-change-delay")
    res = peer({"queue": qn, "actions": [
        {"op": "add", "name": "d", "data": {"n": 1}, "opts": {"delay": 60_000}},
        {"op": "add", "name": "w", "data": {"n": 2}}]})["results"]
    delayed, waiting = res[0]["id"], res[1]["id"]
    with Queue(qn, connection=redis_url) as q:
        before = now_ms()
        qc_change_delay(q, delayed, 300)
        with pytest.raises(JobNotInStateError):
            qc_change_delay(q, waiting, 300)
        started = time.monotonic()
        got = peer({"queue": qn, "actions": [
            {"op": "getJob", "id": delayed},
            {"op": "work", "count": 2, "timeoutMs": 8000}]})["results"]
        assert got[0]["delay"] == 300 and got[0]["state"] == "delayed"
        work = got[1]
        assert [c["id"] for c in work["completed"]] == [waiting, delayed]
        assert time.monotonic() - started < 30  # not the original minute
        evs = [e for e in peer_events(peer, qn) if e["event"] == "delayed"]
        due = int(evs[-1]["delay"])
        assert due >= before + 300
        assert work["completed"][1]["processedOn"] >= due


# -- getters --------------------------------------------------------------------------------------


def counts_agree(peer: Peer, redis_url: str) -> None:
    """Counts per priority and by types read the same on both sides."""
    qn = qname(peer, "counts-priority")
    with Queue(qn, connection=redis_url) as q:
        for p in (0, 0, 1, 3, 3, 5, 2**21 - 1):
            q.add("j", **({"priority": p} if p else {}))
        q.add("d", delay=60_000, priority=3)
        fetch(q, "t")
        priorities = [0, 1, 3, 5, 7, 3, 2**21 - 1]
        type_sets = [["waiting"], ["prioritized", "delayed"], ["active", "waiting", "active"],
                     []]
        res = peer({"queue": qn, "actions": [
            {"op": "getCountsPerPriority", "priorities": priorities},
            *({"op": "getJobCountByTypes", "types": t} for t in type_sets)]})["results"]
        assert res[0] == q.get_counts_per_priority(priorities)
        assert res[0] == {"0": 1, "1": 1, "3": 2, "5": 1, "7": 0, str(2**21 - 1): 1}
        assert res[1:] == [q.get_job_count_by_types(*t) for t in type_sets]
