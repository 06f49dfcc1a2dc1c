"""Case 19: Redis Cluster. A local three-master cluster on loopback runs a subset of the
engine with a hash-tagged prefix ("{bull}": every key of every queue in one slot).

queuecore runs against the master that owns the "{bull}" slot, reached directly, through any
node in cluster mode (?cluster=true), or through a RedisCluster client; it follows MOVED."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator

import pytest
import redis
from redis.cluster import ClusterNode
from redis.cluster import RedisCluster as ClusterClient

from queuecore import AsyncJob, FlowProducer, InvalidOptionsError, Queue, QueueEvents, Worker
from queuecore.observe.discovery import list_queues
from tests.reliability.servers import RedisCluster
from tests.worker_utils import running, wait_until

PREFIX = "{bull}"


@pytest.fixture(scope="module")
def cluster() -> Iterator[RedisCluster]:
    nodes = RedisCluster()
    try:
        yield nodes.start()
    finally:
        nodes.close()  # also when the cluster failed to come up


@pytest.fixture
def owner_url(cluster: RedisCluster) -> str:
    """URL of the master serving the {bull} slot; the cluster is emptied first."""
    for node in cluster.nodes:
        client = redis.Redis(port=node.port)
        client.flushall()
        client.close()
    return cluster.node_for(PREFIX + ":x").url


def other_url(cluster: RedisCluster) -> str:
    owner = cluster.node_for(PREFIX + ":x")
    return next(node.url for node in cluster.nodes if node is not owner)


async def run_engine_subset(connection: object, queue_name: str) -> None:
    """add (plain, delayed, prioritized, bulk), a worker, retries, reads, pause/resume,
    remove, events and a flow across two queues, all with the {bull} prefix."""
    with contextlib.ExitStack() as stack:
        queue = Queue(queue_name, connection, prefix=PREFIX)  # type: ignore[arg-type]
        stack.callback(queue.close)
        await _engine_subset(queue, connection, queue_name, stack)


async def _engine_subset(queue: Queue, connection: object, queue_name: str,
                         stack: contextlib.ExitStack) -> None:
    plain = queue.add("plain", {"n": 1})
    delayed = queue.add("delayed", {"n": 2}, delay=300)
    urgent = queue.add("urgent", {"n": 3}, priority=1)
    flaky = queue.add("flaky", {"n": 4}, attempts=2)
    queue.add_bulk([{"name": "bulk", "data": {"n": 10 + i}} for i in range(5)])
    flows = FlowProducer(connection, prefix=PREFIX)  # type: ignore[arg-type]
    stack.callback(flows.close)
    node = flows.add({"name": "parent", "queue_name": queue_name, "data": {"n": 0},
                      "children": [{"name": "child", "queue_name": f"{queue_name}-children",
                                    "data": {"n": 5}}]})
    seen: list[str] = []

    async def process(job: AsyncJob) -> object:
        seen.append(job.name)
        if job.name == "flaky" and job.attempts_made == 0:
            raise ValueError("first attempt fails")
        if job.name == "parent":
            return sorted((await job.get_children_values()).values())
        return job.data["n"]

    workers = [Worker(name, process, connection=connection, prefix=PREFIX,  # type: ignore
                      concurrency=4) for name in (queue_name, f"{queue_name}-children")]
    async with running(workers[0]), running(workers[1]):
        await wait_until(lambda: queue.get_job_counts("completed")["completed"] == 10)
        queue.pause()
        paused = queue.add("while-paused", {"n": 6})
        await asyncio.sleep(0.3)
        assert queue.get_job_state(paused.id) == "waiting"
        queue.resume()
        await wait_until(lambda: queue.get_job_state(paused.id) == "completed")
    assert queue.get_job(node.job.id).return_value == [5]  # type: ignore[union-attr]
    assert queue.get_job(flaky.id).attempts_made == 2  # type: ignore[union-attr]
    assert queue.get_job(delayed.id).processed_on - delayed.timestamp >= 300  # type: ignore
    assert {j.id for j in queue.get_jobs("completed")} >= {plain.id, urgent.id, delayed.id}
    queue.remove(plain.id)
    assert queue.get_job(plain.id) is None
    events = QueueEvents(queue_name, connection, prefix=PREFIX,  # type: ignore[arg-type]
                         last_event_id="0")
    assert "completed" in {e.event for e in events.read(block_ms=50)}
    events.close()


async def test_engine_runs_on_the_master_of_the_hash_tag_slot(owner_url: str,
                                                              cluster: RedisCluster):
    await run_engine_subset(owner_url, "emails")
    owner = redis.Redis.from_url(owner_url, decode_responses=True)
    keys = owner.keys("*")
    assert keys and all(key.startswith(PREFIX + ":") for key in keys)
    assert {owner.cluster("keyslot", key) for key in keys} == {owner.cluster("keyslot",
                                                                             PREFIX)}
    owner.close()


async def test_engine_runs_through_any_node_of_the_cluster(owner_url: str,
                                                           cluster: RedisCluster):
    """Cluster mode from the URL of a node that does not serve the slot."""
    await run_engine_subset(other_url(cluster) + "?cluster=true", "emails")
    assert list_queues(other_url(cluster) + "?cluster=true", prefix=PREFIX) == [
        "emails", "emails-children"]


def test_cluster_needs_a_hash_tag(owner_url: str, cluster: RedisCluster):
    with pytest.raises(InvalidOptionsError, match="hash tag"):
        Queue("emails", {"url": other_url(cluster), "cluster": True})


async def test_a_moved_slot_is_followed(owner_url: str, cluster: RedisCluster):
    """A queue built while the slot lived elsewhere follows the MOVED answer."""
    queue = Queue("moved", other_url(cluster) + "?cluster=true", prefix=PREFIX)
    other = int(other_url(cluster).split(":")[2].split("/")[0])
    assert queue.route is not None
    queue.route.owner = ("127.0.0.1", other)  # as if the slot had lived there
    job = queue.add("x", {})  # first sent to the wrong node: MOVED, then the owner
    assert queue.get_job(job.id) is not None
    queue.close()


async def test_engine_runs_on_a_cluster_client(owner_url: str, cluster: RedisCluster):
    client = ClusterClient(startup_nodes=[ClusterNode("127.0.0.1", n.port)
                                          for n in cluster.nodes], decode_responses=True)
    try:
        await run_engine_subset(client, "emails")
    finally:
        client.close()


def test_owner_of_the_slot_is_stable_while_the_test_runs(cluster: RedisCluster):
    """The first test relies on it: no resharding happens behind the engine's back."""
    owner = cluster.node_for(PREFIX)
    time.sleep(0.1)
    assert cluster.node_for(PREFIX + ":emails:wait") is owner
