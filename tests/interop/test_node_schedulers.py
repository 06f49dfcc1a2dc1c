"""Job schedulers shared with Node bullmq 6.x, beyond tests/interop/scenarios.py: Node reads
every field queuecore stores, honours its limit, and both sides upserting the same scheduler
keep one pending run."""

from __future__ import annotations

import pytest
import redis

from queuecore import Queue

from .conftest import NodePeer

pytestmark = pytest.mark.interop


def test_node_reads_a_queuecore_scheduler(node_peer: NodePeer, redis_url: str) -> None:
    with Queue("ns-read", connection=redis_url) as q:
        job = q.upsert_job_scheduler("nightly", pattern="0 30 2 * * *", tz="Europe/Berlin",
                                     limit=7, name="cleanup", data={"days": 30},
                                     opts={"attempts": 4, "remove_on_complete": 10})
        assert job is not None
    res = node_peer({"queue": "ns-read", "actions": [
        {"op": "getJobScheduler", "id": "nightly"}, {"op": "getJob", "id": job.id}]})
    sched, node_job = res["results"]
    assert sched["key"] == "nightly" and sched["name"] == "cleanup"
    assert sched["pattern"] == "0 30 2 * * *" and sched["tz"] == "Europe/Berlin"
    assert sched["limit"] == 7 and sched["iterationCount"] == 1
    assert sched["next"] == int(job.id.rsplit(":", 1)[1])
    assert sched["template"]["data"] == {"days": 30}
    assert sched["template"]["opts"]["attempts"] == 4
    assert sched["template"]["opts"]["removeOnComplete"] == 10
    assert node_job["repeatJobKey"] == "nightly" and node_job["state"] == "delayed"
    assert node_job["opts"]["repeat"]["count"] == 1


def test_node_worker_stops_at_a_queuecore_limit(node_peer: NodePeer, redis_url: str,
                                                r: redis.Redis) -> None:
    with Queue("ns-limit", connection=redis_url) as q:
        q.upsert_job_scheduler("twice", every=300, limit=2, data={"return": "ok"})
    res = node_peer({"queue": "ns-limit", "actions": [
        {"op": "work", "count": 3, "timeoutMs": 2500},
        {"op": "getJobCounts"}]})["results"]
    assert len(res[0]["completed"]) == 2 and res[0]["timedOut"] is True
    assert res[1]["delayed"] == 0 and res[1]["waiting"] == 0
    assert r.hget("bull:ns-limit:repeat:twice", "ic") == "2"


def test_both_sides_upserting_keep_one_pending_run(node_peer: NodePeer, redis_url: str,
                                                   r: redis.Redis) -> None:
    repeat = {"pattern": "0 0 * * * *", "tz": "UTC"}
    first = node_peer({"queue": "ns-both", "actions": [
        {"op": "upsertJobScheduler", "id": "hourly", "repeat": repeat,
         "template": {"name": "h", "data": {"v": 1}}}]})["results"][0]
    with Queue("ns-both", connection=redis_url) as q:
        mine = q.upsert_job_scheduler("hourly", pattern="0 0 * * * *", tz="UTC", name="h",
                                      data={"v": 2})
        assert mine is not None and mine.id == first["id"]
    again = node_peer({"queue": "ns-both", "actions": [
        {"op": "upsertJobScheduler", "id": "hourly", "repeat": repeat,
         "template": {"name": "h", "data": {"v": 3}}},
        {"op": "getJobs", "states": ["delayed", "wait"]}]})["results"]
    assert again[0]["id"] == first["id"]
    assert again[1] == [first["id"]]
    assert r.zcard("bull:ns-both:repeat") == 1
