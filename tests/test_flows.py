"""Flows on a real redis-server: parents run after their children and read their results."""

from __future__ import annotations

import asyncio

import pytest

from queuecore import (
    AsyncFlowProducer,
    AsyncJob,
    FlowProducer,
    InvalidOptionsError,
    ParentNotFoundError,
    Queue,
    Worker,
    chain,
)
from queuecore.base.clock import now_ms
from tests.worker_utils import events_of, running, wait_until


@pytest.fixture
def flows(redis_url: str):
    producer = FlowProducer(redis_url)
    yield producer
    producer.close()


def finished_order_worker(queue: str, url: str, order: list[str],
                          fail: frozenset[str] = frozenset()) -> Worker:
    async def process(job: AsyncJob) -> object:
        children = await job.get_children_values()
        order.append(job.name)
        if job.name in fail:
            raise RuntimeError(f"{job.name} broke")
        return {"name": job.name, "children": sorted(v["name"] for v in children.values())}

    return Worker(queue, process, connection=url, concurrency=4)


async def test_three_level_flow_runs_children_first_and_hands_results_up(
        flows: FlowProducer, redis_url: str, r):
    node = flows.add({
        "name": "report", "queue_name": "flow", "data": {"level": 0},
        "children": [
            {"name": "chapter-1", "queue_name": "flow", "children": [
                {"name": "page-1a", "queue_name": "flow"},
                {"name": "page-1b", "queue_name": "flow"},
            ]},
            {"name": "chapter-2", "queue_name": "flow", "children": [
                {"name": "page-2a", "queue_name": "flow"},
            ]},
        ],
    })
    root = node.job
    assert root.get_state() == "waiting-children"
    assert node.children[0].job.get_state() == "waiting-children"
    assert node.children[0].children[0].job.get_state() == "waiting"
    assert r.zcard("bull:flow:waiting-children") == 3

    order: list[str] = []
    async with running(finished_order_worker("flow", redis_url, order)):
        await wait_until(lambda: root.get_state() == "completed")
    assert order.index("report") == len(order) - 1
    for chapter, pages in (("chapter-1", ["page-1a", "page-1b"]), ("chapter-2", ["page-2a"])):
        assert all(order.index(p) < order.index(chapter) for p in pages)
    with Queue("flow", redis_url) as q:
        stored = q.get_job(root.id)
        assert stored is not None
        assert stored.return_value == {"name": "report", "children": ["chapter-1", "chapter-2"]}
        values = stored.get_children_values()
        assert set(values) == {f"bull:flow:{n.job.id}" for n in node.children}
        deps = stored.get_dependencies()
        assert deps.unprocessed == []
    child_hash = r.hgetall(f"bull:flow:{node.children[1].job.id}")
    assert child_hash["parentKey"] == f"bull:flow:{root.id}"
    names = [name for name, fields in events_of(r, "flow") if fields.get("jobId") == root.id]
    assert names[:2] == ["added", "waiting-children"]
    assert "completed" in names


async def test_children_in_other_queues(flows: FlowProducer, redis_url: str):
    node = flows.add({"name": "invoice", "queue_name": "billing", "children": [
        {"name": "pdf", "queue_name": "render", "data": {"pages": 2}},
        {"name": "mail", "queue_name": "email"},
    ]})
    order: list[str] = []
    workers = [finished_order_worker(q, redis_url, order) for q in ("billing", "render", "email")]
    async with running(workers[0]), running(workers[1]), running(workers[2]):
        await wait_until(lambda: node.job.get_state() == "completed")
    assert order[-1] == "invoice"
    assert set(node.job.get_children_values()) == {
        f"bull:render:{node.children[0].job.id}", f"bull:email:{node.children[1].job.id}"}


async def test_chain_runs_steps_in_order(flows: FlowProducer, redis_url: str):
    node = flows.add(chain([
        {"name": "fetch", "queue_name": "etl", "data": {"url": "x"}},
        {"name": "transform", "queue_name": "etl"},
        {"name": "load", "queue_name": "etl"},
    ]))
    assert node.job.name == "load"
    order: list[str] = []
    async with running(finished_order_worker("etl", redis_url, order)):
        await wait_until(lambda: node.job.get_state() == "completed")
    assert order == ["fetch", "transform", "load"]


@pytest.mark.parametrize(("policy", "parent_state", "runs_parent"), [
    ("fail_parent_on_failure", "failed", False),
    ("continue_parent_on_failure", "completed", True),
    ("ignore_dependency_on_failure", "completed", True),
    ("remove_dependency_on_failure", "completed", True),
    (None, "waiting-children", False),
])
async def test_failure_policies(flows: FlowProducer, redis_url: str, policy: str | None,
                                parent_state: str, runs_parent: bool):
    opts = {policy: True} if policy else {}
    node = flows.add({"name": "parent", "queue_name": "pol", "children": [
        {"name": "bad", "queue_name": "pol", "opts": opts},
        {"name": "good", "queue_name": "pol"},
    ]})
    order: list[str] = []
    async with running(finished_order_worker("pol", redis_url, order, frozenset({"bad"}))):
        await wait_until(lambda: {"bad", "good"} <= set(order))
        if runs_parent:
            await wait_until(lambda: node.job.get_state() == parent_state)
        else:
            await asyncio.sleep(0.3)
    assert node.job.get_state() == parent_state
    assert ("parent" in order) is runs_parent
    deps = node.job.get_dependencies()
    bad_key = f"bull:pol:{node.children[0].job.id}"
    if policy in ("continue_parent_on_failure", "ignore_dependency_on_failure"):
        assert deps.failed == {bad_key: "bad broke"}
    if policy == "fail_parent_on_failure":
        with Queue("pol", redis_url) as q:
            stored = q.get_job(node.job.id)
            assert stored is not None
            assert stored.failed_reason == f"child {bad_key} failed: bad broke"
    if policy is None:  # as Node leaves it: still a dependency, no `unsuccessful` entry
        assert deps.unprocessed == [bad_key]
        assert deps.unsuccessful == []


async def test_fail_parent_propagates_up_the_chain(flows: FlowProducer, redis_url: str):
    node = flows.add({"name": "top", "queue_name": "up", "children": [
        {"name": "middle", "queue_name": "up", "opts": {"fail_parent_on_failure": True},
         "children": [
             {"name": "leaf", "queue_name": "up", "opts": {"fail_parent_on_failure": True}},
         ]},
    ]})
    order: list[str] = []
    async with running(finished_order_worker("up", redis_url, order, frozenset({"leaf"}))):
        await wait_until(lambda: node.job.get_state() == "failed")
    assert order == ["leaf"]
    assert node.children[0].job.get_state() == "failed"


async def test_a_released_parent_keeps_its_priority(flows: FlowProducer, redis_url: str, r):
    node = flows.add({"name": "p", "queue_name": "prio", "opts": {"priority": 7},
                      "children": [{"name": "c", "queue_name": "prio"}]})

    async def process(job: AsyncJob) -> None:
        return None

    async with running(Worker("prio", process, connection=redis_url)):
        await wait_until(lambda: node.job.get_state() == "completed")
    assert int(r.hget(f"bull:prio:{node.job.id}", "priority")) == 7


def test_invalid_node_writes_nothing(flows: FlowProducer, r):
    with pytest.raises(InvalidOptionsError):
        flows.add({"name": "p", "queue_name": "atomic", "children": [
            {"name": "ok", "queue_name": "atomic"},
            {"name": "bad", "queue_name": "atomic", "opts": {"priority": -1}},
        ]})
    with pytest.raises(ValueError, match="queue name"):
        flows.add({"name": "p", "queue_name": "atomic", "children": [
            {"name": "bad", "queue_name": "no:colons"}]})
    assert r.keys("*") == []


def test_flow_is_written_in_one_transaction(flows: FlowProducer, r):
    """MULTI/EXEC: a reader never sees a parent without all its children."""
    node = flows.add({"name": "p", "queue_name": "tx", "children": [
        {"name": f"c{i}", "queue_name": "tx"} for i in range(50)]})
    assert r.llen("bull:tx:wait") == 50
    assert r.scard(f"bull:tx:{node.job.id}:dependencies") == 50


def test_child_with_a_missing_parent_is_refused(redis_url: str, r):
    with Queue("orphans", redis_url) as q, pytest.raises(ParentNotFoundError):
        q.add("c", {}, parent={"id": "nope", "queue": "orphans"})
    assert r.exists("bull:orphans:wait") == 0


def test_exclusive_policies(flows: FlowProducer):
    with pytest.raises(InvalidOptionsError, match="at most one"):
        flows.add({"name": "p", "queue_name": "x", "children": [{
            "name": "c", "queue_name": "x",
            "opts": {"fail_parent_on_failure": True, "ignore_dependency_on_failure": True}}]})


async def test_async_flow_producer(redis_url: str):
    async with AsyncFlowProducer(redis_url) as producer:
        node = await producer.add({"name": "p", "queue_name": "aflow", "children": [
            {"name": "c", "queue_name": "aflow", "data": {"n": 1}}]})
        assert await node.job.get_state() == "waiting-children"
        assert await node.children[0].job.get_state() == "waiting"


async def test_delayed_parent_waits_for_its_delay(flows: FlowProducer, redis_url: str):
    node = flows.add({"name": "p", "queue_name": "dly", "opts": {"delay": 800},
                      "children": [{"name": "c", "queue_name": "dly"}]})
    started: dict[str, int] = {}

    async def process(job: AsyncJob) -> None:
        started[job.name] = now_ms()

    async with running(Worker("dly", process, connection=redis_url)):
        await wait_until(lambda: "p" in started)
    assert started["p"] >= node.job.timestamp + 800
