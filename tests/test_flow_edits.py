"""Flow operations through the command layer on a real Redis, sync and async: dependency
counts, ignored failures, cutting a child loose, removing unprocessed children, and reading a
flow back as a tree bounded by depth and max children."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import redis

from queuecore import (
    AsyncQueue,
    FlowProducer,
    InvalidOptionsError,
    JobNotFoundError,
    ParentNotFoundError,
    Queue,
)
from queuecore.base.clock import now_ms
from queuecore.commands import flow_edits, getters, job_edits
from queuecore.commands.flow_edits import FlowNodeData, arun_plan, read_flow, run_plan
from tests.queue_helpers import events, fetch, finish

P = "bull:parents:"
C = "bull:kids:"


@pytest.fixture
def flows(redis_url: str) -> Iterator[FlowProducer]:
    with FlowProducer(redis_url) as producer:
        yield producer


@pytest.fixture
def parents(redis_url: str) -> Iterator[Queue]:
    with Queue("parents", redis_url) as queue:
        yield queue


@pytest.fixture
def kids(redis_url: str) -> Iterator[Queue]:
    with Queue("kids", redis_url) as queue:
        yield queue


def add_family(flows: FlowProducer, n: int = 3, **child_opts: Any) -> tuple[str, list[str]]:
    node = flows.add({"name": "parent", "queue_name": "parents", "children": [
        {"name": f"kid{i}", "queue_name": "kids", "opts": dict(child_opts)}  # type: ignore[typeddict-item]
        for i in range(n)]})
    return node.job.id, [c.job.id for c in node.children]


def counts(q: Queue, job_id: str, *types: str) -> dict[str, int]:
    return q.run_op(getters.dependency_counts(q.keys, job_id, types))


def test_dependency_counts_and_ignored_failures(flows: FlowProducer, parents: Queue,
                                                kids: Queue) -> None:
    parent, kid_ids = add_family(flows, 3, ignore_dependency_on_failure=True)
    assert counts(parents, parent) == {"processed": 0, "unprocessed": 3, "ignored": 0,
                                       "failed": 0}
    assert fetch(kids, "t") == kid_ids[0]
    finish(kids, kid_ids[0], value={"ok": 1}, token="t")
    assert fetch(kids, "t") == kid_ids[1]
    finish(kids, kid_ids[1], completed=False, value="broke", token="t")
    assert counts(parents, parent) == {"processed": 1, "unprocessed": 1, "ignored": 1,
                                       "failed": 0}
    assert counts(parents, parent, "ignored", "processed", "ignored") == {"ignored": 1,
                                                                          "processed": 1}
    assert parents.run_op(getters.ignored_children_failures(parents.keys, parent)) == {
        C + kid_ids[1]: "broke"}
    with pytest.raises(InvalidOptionsError):
        getters.dependency_counts(parents.keys, parent, ["pending"])


def test_failed_counts_children_that_failed_the_parent(flows: FlowProducer, parents: Queue,
                                                       kids: Queue) -> None:
    parent, kid_ids = add_family(flows, 2, fail_parent_on_failure=True)
    assert fetch(kids, "t") == kid_ids[0]
    finish(kids, kid_ids[0], completed=False, value="broke", token="t")
    assert counts(parents, parent) == {"processed": 0, "unprocessed": 1, "ignored": 0,
                                       "failed": 1}


def test_remove_child_dependency_releases_the_parent_after_the_last(
        flows: FlowProducer, parents: Queue, kids: Queue, r: redis.Redis) -> None:
    parent, kid_ids = add_family(flows, 2)
    op = flow_edits.remove_child_dependency
    assert kids.run_op(op(kids.keys, kid_ids[0], now_ms())) is True
    assert "parentKey" not in r.hgetall(C + kid_ids[0])
    assert "parent" not in r.hgetall(C + kid_ids[0])
    assert r.smembers(P + parent + ":dependencies") == {C + kid_ids[1]}
    assert r.zscore(P + "waiting-children", parent) is not None
    assert kids.run_op(op(kids.keys, kid_ids[0], now_ms())) is False  # no parent any more
    assert kids.run_op(op(kids.keys, kid_ids[1], now_ms())) is True
    assert r.zscore(P + "waiting-children", parent) is None
    assert r.lrange(P + "wait", 0, -1) == [parent]
    assert events(r, "parents")[-1] == {"event": "waiting", "jobId": parent,
                                        "prev": "waiting-children"}
    # the kids are still there, as plain jobs
    assert r.lrange(C + "wait", 0, -1) == list(reversed(kid_ids))


def test_remove_child_dependency_errors(flows: FlowProducer, parents: Queue, kids: Queue,
                                        r: redis.Redis) -> None:
    parent, kid_ids = add_family(flows, 1)
    with pytest.raises(JobNotFoundError):
        kids.run_op(flow_edits.remove_child_dependency(kids.keys, "nope", now_ms()))
    r.rename(P + parent, P + "elsewhere")
    with pytest.raises(ParentNotFoundError):
        kids.run_op(flow_edits.remove_child_dependency(kids.keys, kid_ids[0], now_ms()))
    assert r.hget(C + kid_ids[0], "parentKey") == P + parent
    lone = kids.add("lone")
    assert kids.run_op(flow_edits.remove_child_dependency(kids.keys, lone.id, now_ms())) \
        is False


def test_remove_child_dependency_of_a_finished_child_is_false(
        flows: FlowProducer, parents: Queue, kids: Queue, r: redis.Redis) -> None:
    parent, kid_ids = add_family(flows, 2)
    assert fetch(kids, "t") == kid_ids[0]
    finish(kids, kid_ids[0], value=1, token="t")
    assert kids.run_op(flow_edits.remove_child_dependency(kids.keys, kid_ids[0], now_ms())) \
        is False
    assert r.hget(C + kid_ids[0], "parentKey") == P + parent


def test_remove_unprocessed_children(flows: FlowProducer, parents: Queue, kids: Queue,
                                     r: redis.Redis) -> None:
    node = flows.add({"name": "parent", "queue_name": "parents", "children": [
        {"name": "done", "queue_name": "kids"},
        {"name": "running", "queue_name": "kids"},
        {"name": "waiting", "queue_name": "kids"},
        {"name": "delayed", "queue_name": "kids", "opts": {"delay": 60_000}},
        {"name": "sub", "queue_name": "kids", "children": [
            {"name": "grandkid", "queue_name": "kids", "opts": {"priority": 3}}]},
    ]})
    ids = {c.job.name: c.job.id for c in node.children}
    grandkid = node.children[4].children[0].job.id
    parent = node.job.id
    assert fetch(kids, "t") == ids["done"]
    finish(kids, ids["done"], value="d", token="t")
    assert fetch(kids, "t2") == ids["running"]
    removed = parents.run_op(flow_edits.remove_unprocessed_children(parents.keys, parent,
                                                                   now_ms()))
    assert removed == 4  # waiting, delayed, sub and its grandkid
    for gone in (ids["waiting"], ids["delayed"], ids["sub"], grandkid):
        assert not r.exists(C + gone)
    assert r.exists(C + ids["done"]) and r.exists(C + ids["running"])
    assert r.smembers(P + parent + ":dependencies") == {C + ids["running"]}
    assert r.zcard(C + "delayed") == 0 and r.zcard(C + "prioritized") == 0
    assert r.zcard(C + "waiting-children") == 0
    assert r.lrange(C + "wait", 0, -1) == []
    removed_events = {(e["jobId"], e["prev"]) for e in events(r, "kids")
                      if e["event"] == "removed"}
    assert removed_events == {(ids["waiting"], "wait"), (ids["delayed"], "delayed"),
                              (ids["sub"], "waiting-children"), (grandkid, "prioritized")}
    assert r.zscore(P + "waiting-children", parent) is not None  # "running" is pending
    finish(kids, ids["running"], value="r", token="t2")
    assert r.lrange(P + "wait", 0, -1) == [parent]


def test_remove_unprocessed_children_releases_a_parent_left_without_children(
        flows: FlowProducer, parents: Queue, r: redis.Redis) -> None:
    parent, _ = add_family(flows, 2)
    assert parents.run_op(flow_edits.remove_unprocessed_children(parents.keys, parent,
                                                                now_ms())) == 2
    assert r.lrange(P + "wait", 0, -1) == [parent]
    assert parents.run_op(flow_edits.remove_unprocessed_children(parents.keys, parent,
                                                                now_ms())) == 0
    with pytest.raises(JobNotFoundError):
        parents.run_op(flow_edits.remove_unprocessed_children(parents.keys, "nope", now_ms()))


def test_remove_unprocessed_children_keeps_failed_ones(flows: FlowProducer, parents: Queue,
                                                       kids: Queue, r: redis.Redis) -> None:
    parent, kid_ids = add_family(flows, 2)
    assert fetch(kids, "t") == kid_ids[0]
    finish(kids, kid_ids[0], completed=False, value="x", token="t")  # no policy: stays pending
    assert parents.run_op(flow_edits.remove_unprocessed_children(parents.keys, parent,
                                                                now_ms())) == 1
    assert r.smembers(P + parent + ":dependencies") == {C + kid_ids[0]}
    assert r.zscore(C + "failed", kid_ids[0]) is not None


# -- reading a flow back ------------------------------------------------------------------------


def shape(node: FlowNodeData | None) -> Any:
    if node is None:
        return None
    out: Any = (node.queue_name, node.hash["name"])
    if node.children:
        return (*out, [shape(c) for c in node.children])
    return out


def test_read_flow_tree_depth_and_max_children(flows: FlowProducer, parents: Queue,
                                               kids: Queue) -> None:
    node = flows.add({"name": "root", "queue_name": "parents", "children": [
        {"name": f"c{i}", "queue_name": "kids", "children": [
            {"name": f"g{i}", "queue_name": "kids"}]} for i in range(3)]})
    root = node.job.id
    full = run_plan(parents.run_op, read_flow("parents", root))
    assert full is not None and full.job_id == root and full.prefix == "bull"
    assert sorted(shape(full)[2]) == [("kids", f"c{i}", [("kids", f"g{i}")]) for i in range(3)]
    assert shape(run_plan(parents.run_op, read_flow("parents", root, depth=1))) == \
        ("parents", "root")
    two = run_plan(parents.run_op, read_flow("parents", root, depth=2))
    assert sorted(shape(two)[2]) == [("kids", f"c{i}") for i in range(3)]
    capped = run_plan(parents.run_op, read_flow("parents", root, max_children=2))
    assert capped is not None and len(capped.children) == 2
    # a child's own flow, and a missing job
    child = node.children[0].job.id
    sub = run_plan(kids.run_op, read_flow("kids", child))
    assert shape(sub) == ("kids", "c0", [("kids", "g0")])
    assert run_plan(parents.run_op, read_flow("parents", "nope")) is None
    # completed children are listed (processed first)
    first_grandkid = node.children[0].children[0].job.id
    assert fetch(kids, "t") is not None
    finish(kids, first_grandkid, value=1, token="t")
    after = run_plan(kids.run_op, read_flow("kids", child))
    assert shape(after) == ("kids", "c0", [("kids", "g0")])
    assert after is not None and after.children[0].hash.get("finishedOn")


def test_read_flow_bad_arguments() -> None:
    for kwargs in ({"depth": 0}, {"max_children": 0}, {"depth": True}):
        with pytest.raises(InvalidOptionsError):
            next(read_flow("parents", "1", **kwargs))
    with pytest.raises(ValueError, match="queue name"):
        next(read_flow("bad:name", "1"))


def test_split_job_key() -> None:
    split = flow_edits.split_job_key
    assert split("bull:q:1", "bull") == ("bull", "q", "1")
    assert split("bull:q:repeat:s:123", "bull") == ("bull", "q", "repeat:s:123")
    assert split("a:b:q:7", "a:b") == ("a:b", "q", "7")
    assert split("other:q:7", "bull") == ("other", "q", "7")
    assert split("{x}:q:7", "bull") == ("{x}", "q", "7")
    assert split("nonsense", "bull") is None


async def test_flow_ops_async(flows: FlowProducer, redis_url: str, r: redis.Redis) -> None:
    parent, kid_ids = add_family(flows, 2)
    async with AsyncQueue("parents", redis_url) as aparents, \
            AsyncQueue("kids", redis_url) as akids:
        tree = await arun_plan(aparents.run_op, read_flow("parents", parent))
        assert tree is not None and len(tree.children) == 2
        assert await aparents.run_op(getters.dependency_counts(aparents.keys, parent,
                                                               ["unprocessed"])) == \
            {"unprocessed": 2}
        assert await akids.run_op(flow_edits.remove_child_dependency(akids.keys, kid_ids[0],
                                                                     now_ms())) is True
        assert await aparents.run_op(flow_edits.remove_unprocessed_children(
            aparents.keys, parent, now_ms())) == 1
    assert r.lrange(P + "wait", 0, -1) == [parent]


def test_changed_priority_of_a_waiting_parent_is_used_on_release(
        flows: FlowProducer, parents: Queue, kids: Queue, r: redis.Redis) -> None:
    parent, kid_ids = add_family(flows, 1)
    parents.run_op(job_edits.change_priority(parents.keys, parent, 4))
    assert r.zscore(P + "waiting-children", parent) is not None
    assert r.zcard(P + "prioritized") == 0
    assert fetch(kids, "t") == kid_ids[0]
    finish(kids, kid_ids[0], value=1, token="t")
    score = r.zscore(P + "prioritized", parent)
    assert score is not None and int(score) >> 32 == 4
