"""Metrics keys against Node bullmq 6.7.0: per-minute completed/failed counts written by a Node
worker (``metrics: {maxDataPoints}``) are read right by queuecore's ``get_metrics``, those
written by a queuecore worker (``metrics={"max_data_points": N}``) by Node's
``queue.getMetrics``, and the same traffic leaves the same keys, types, fields and lists.

A fresh metrics hash only records its first timestamp; data points appear when a later job
finishes in a later minute. So that a test of a few seconds crosses minutes, each queue's
metrics start from a state written here, as if earlier traffic had closed its minutes 10
(completed) and 2 (failed) minutes ago.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from typing import Any

import pytest
import redis

from queuecore import AsyncJob, Queue, Worker
from tests.waiting import wait_until

from .conftest import PEERS_DIR, NodePeer, Peer

pytestmark = pytest.mark.interop

MAX_POINTS = 4
# (name, data, attempts): 3 jobs complete, 1 fails for good, 1 fails once and then completes.
TRAFFIC: list[tuple[str, dict[str, Any], int]] = [
    ("ok-1", {"return": {"n": 1}}, 1),
    ("ok-2", {"return": {"n": 2}}, 1),
    ("broken", {"fail": "boom"}, 1),
    ("flaky", {"fail": "flaky", "failAttempts": 1, "return": {"n": 4}}, 2),
    ("ok-3", {"return": {"n": 3}}, 1),
]
COMPLETED, FAILED = 4, 1


def minute_start(now_ms: int) -> int:
    return now_ms // 60_000 * 60_000


def wait_for_a_young_minute(budget_s: float = 10.0) -> int:
    """Sleep into the next minute unless this one has ``budget_s`` left; the test's finishes
    then all fall in one minute. Returns that minute's start (ms)."""
    now = int(time.time() * 1000)
    if now - minute_start(now) > 60_000 - budget_s * 1000:
        time.sleep((minute_start(now) + 60_000 - now) / 1000 + 0.05)
        now = int(time.time() * 1000)
    return minute_start(now)


def seed(r: redis.Redis, queue: str, minute: int) -> None:
    """Earlier traffic: 10 completed, the last minute closed 10 minutes ago at count 4, with 3
    old data points; 2 failed, closed 2 minutes ago at count 1, one old point."""
    base = f"bull:{queue}:metrics:"
    r.hset(base + "completed", mapping={"count": 10, "prevTS": minute - 10 * 60_000 + 1234,
                                        "prevCount": 4})
    r.rpush(base + "completed:data", 7, 8, 9)
    r.hset(base + "failed", mapping={"count": 2, "prevTS": minute - 2 * 60_000 + 5678,
                                     "prevCount": 1})
    r.rpush(base + "failed:data", 5)


# What the traffic must leave: each kind's first finish closes the minutes since prevTS
# (capped at MAX_POINTS): the count of the closed minute, then a 0 per empty minute on top.
EXPECTED = {
    "completed": {"count": 10 + COMPLETED, "prevCount": 10, "data": [0, 0, 0, 10 - 4]},
    "failed": {"count": 2 + FAILED, "prevCount": 2, "data": [0, 2 - 1, 5]},
}


def metrics_keys(r: redis.Redis, queue: str) -> dict[str, tuple[str, Any]]:
    """Every metrics key of ``queue`` (suffix after the queue) -> (TYPE, content)."""
    out: dict[str, tuple[str, Any]] = {}
    prefix = f"bull:{queue}:"
    for key in sorted(r.scan_iter(match=prefix + "metrics*")):
        kind = r.type(key)
        content: Any = r.hgetall(key) if kind == "hash" else r.lrange(key, 0, -1)
        out[key[len(prefix):]] = (kind, content)
    return out


@pytest.fixture
def metrics_peer(node_peer: NodePeer) -> Peer:
    node = shutil.which("node")
    assert node is not None
    return Peer([node, str(PEERS_DIR / "metrics_peer.mjs")], PEERS_DIR, node_peer.redis_url)


@pytest.fixture
def rd(redis_url: str) -> Any:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    yield client
    client.close()


def run_node_traffic(node_peer: NodePeer, queue: str) -> None:
    adds = [{"op": "add", "name": name, "data": data, "opts": {"attempts": attempts}}
            for name, data, attempts in TRAFFIC]
    result = node_peer({"queue": queue, "actions": [
        *adds,
        {"op": "work", "count": COMPLETED + FAILED + 1, "timeoutMs": 10_000,
         "workerOpts": {"metrics": {"maxDataPoints": MAX_POINTS}}},
    ]})
    work = result["results"][-1]
    assert not work["timedOut"], work
    assert len(work["completed"]) == COMPLETED


async def process(job: AsyncJob) -> Any:
    """The Node peer's processor, for the same traffic."""
    data = job.data
    if "fail" in data and job.attempts_made < data.get("failAttempts", 1 << 30):
        raise RuntimeError(data["fail"])
    return data.get("return")


async def run_queuecore_traffic(redis_url: str, queue: str) -> None:
    with Queue(queue, redis_url) as q:
        for name, data, attempts in TRAFFIC:
            q.add(name, data, attempts=attempts)
        worker = Worker(queue, process, connection=redis_url,
                        metrics={"max_data_points": MAX_POINTS})
        task = asyncio.ensure_future(worker.run())
        try:
            await wait_until(lambda: q.get_job_counts("completed", "failed") == {
                "completed": COMPLETED, "failed": FAILED}, what="the traffic processed")
        finally:
            await worker.close()
            await task


def check_hash(r: redis.Redis, queue: str, kind: str, started: int, ended: int) -> None:
    h = r.hgetall(f"bull:{queue}:metrics:{kind}")
    assert set(h) == {"count", "prevTS", "prevCount"}
    assert int(h["count"]) == EXPECTED[kind]["count"]
    assert int(h["prevCount"]) == EXPECTED[kind]["prevCount"]
    assert started <= int(h["prevTS"]) <= ended


async def test_node_worker_metrics_read_by_queuecore(node_peer: NodePeer, rd: redis.Redis,
                                                     redis_url: str) -> None:
    minute = wait_for_a_young_minute()
    seed(rd, "nm", minute)
    started = int(time.time() * 1000)
    run_node_traffic(node_peer, "nm")
    ended = int(time.time() * 1000)
    assert minute_start(ended) == minute
    with Queue("nm", redis_url) as q:
        for kind in ("completed", "failed"):
            m = q.get_metrics(kind)
            assert (m.count, m.prev_count, m.data, m.total_points) == (
                EXPECTED[kind]["count"], EXPECTED[kind]["prevCount"], EXPECTED[kind]["data"],
                len(EXPECTED[kind]["data"]))
            assert started <= m.prev_ts <= ended
            assert q.get_metrics(kind, 1, 2).data == EXPECTED[kind]["data"][1:3]
            check_hash(rd, "nm", kind, started, ended)


async def test_queuecore_worker_metrics_read_by_node(metrics_peer: Peer, rd: redis.Redis,
                                                    redis_url: str) -> None:
    minute = wait_for_a_young_minute()
    seed(rd, "qm", minute)
    started = int(time.time() * 1000)
    await run_queuecore_traffic(redis_url, "qm")
    ended = int(time.time() * 1000)
    assert minute_start(ended) == minute
    seen = metrics_peer({"queue": "qm"})
    for kind in ("completed", "failed"):
        got = seen[kind]
        assert got["meta"]["count"] == EXPECTED[kind]["count"]
        assert got["meta"]["prevCount"] == EXPECTED[kind]["prevCount"]
        assert started <= got["meta"]["prevTS"] <= ended
        assert got["data"] == EXPECTED[kind]["data"]
        assert got["count"] == len(EXPECTED[kind]["data"])
        check_hash(rd, "qm", kind, started, ended)
    ranged = metrics_peer({"queue": "qm", "start": 1, "end": 2})
    assert ranged["completed"]["data"] == EXPECTED["completed"]["data"][1:3]


@pytest.mark.parametrize("seeded", [True, False], ids=["after-earlier-minutes", "fresh"])
async def test_same_traffic_same_keys(node_peer: NodePeer, rd: redis.Redis, redis_url: str,
                                      seeded: bool) -> None:
    minute = wait_for_a_young_minute()
    for queue in ("nm", "qm") if seeded else ():
        seed(rd, queue, minute)
    run_node_traffic(node_peer, "nm")
    await run_queuecore_traffic(redis_url, "qm")
    assert minute_start(int(time.time() * 1000)) == minute
    node_side, our_side = metrics_keys(rd, "nm"), metrics_keys(rd, "qm")
    # queuecore's one addition: its wait/processing samples for percentiles (Node ignores
    # them; see docs/dev/bullmq-observed.md).
    extra = {k: v for k, v in our_side.items() if k.endswith(":timings")}
    assert set(extra) == {"metrics:completed:timings", "metrics:failed:timings"}
    assert all(kind == "list" for kind, _ in extra.values())
    assert len(extra["metrics:completed:timings"][1]) == COMPLETED
    ours = {k: v for k, v in our_side.items() if k not in extra}
    if seeded:
        assert set(ours) == set(node_side) == {"metrics:completed", "metrics:completed:data",
                                               "metrics:failed", "metrics:failed:data"}
    else:  # a first minute only records where it started: no data points yet
        assert set(ours) == set(node_side) == {"metrics:completed", "metrics:failed"}
        assert node_side["metrics:completed"][1]["count"] == str(COMPLETED)
        assert node_side["metrics:completed"][1]["prevCount"] == "0"
    for key, (kind, content) in node_side.items():
        assert ours[key][0] == kind, key
        if kind == "hash":  # same fields and values; prevTS is each side's own clock
            assert set(ours[key][1]) == set(content), key
            assert {f: v for f, v in ours[key][1].items() if f != "prevTS"} == \
                {f: v for f, v in content.items() if f != "prevTS"}, key
        else:
            assert ours[key][1] == content, key


async def test_obliterate_removes_every_metrics_key(rd: redis.Redis, redis_url: str) -> None:
    """queuecore's obliterate also removes its own `:timings` lists (Node's leaves them)."""
    await run_queuecore_traffic(redis_url, "qm")
    assert len(metrics_keys(rd, "qm")) == 4
    with Queue("qm", redis_url) as q:
        q.obliterate()
    assert rd.keys("bull:qm:*") == []
