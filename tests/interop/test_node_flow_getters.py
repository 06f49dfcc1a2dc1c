"""queuecore <-> Node bullmq 6.7.0: the getters and flow operations agree. Counts per priority
and by types, a flow read back (getFlow) and its dependency counts read the same on both
sides; removeChildDependency and removeUnprocessedChildren done by Node on one flow and by
queuecore on its twin leave the same jobs, structures and events."""

from __future__ import annotations

from typing import Any

import pytest
import redis

from queuecore import FlowProducer, Job, JobNode, Queue
from tests.queue_helpers import fetch, finish

from .conftest import NodePeer
from .edit_scenarios import counts_agree

pytestmark = pytest.mark.interop


def test_counts_agree_with_node(node_peer: NodePeer, redis_url: str) -> None:
    counts_agree(node_peer, redis_url)


def _ids(node: JobNode | None) -> Any:
    if node is None:
        return None
    job = node.job
    return {"id": job.id, "name": job.name, "queueName": job.queue.name,
            "children": sorted((_ids(c) for c in node.children), key=lambda n: n["id"])}


def _node_ids(tree: Any) -> Any:
    if tree is None:
        return None
    return {**tree, "children": sorted((_node_ids(c) for c in tree["children"]),
                                       key=lambda n: n["id"])}


def _add_flow(flows: FlowProducer, parents: str, kids: str) -> Any:
    return flows.add({"name": "root", "queue_name": parents, "children": [
        {"name": "done", "queue_name": kids},
        {"name": "running", "queue_name": kids},
        {"name": "waiting", "queue_name": kids},
        {"name": "ignored", "queue_name": kids, "opts": {"ignore_dependency_on_failure": True}},
        {"name": "delayed", "queue_name": kids, "opts": {"delay": 60_000}},
        {"name": "sub", "queue_name": kids, "children": [
            {"name": "grandkid", "queue_name": kids, "opts": {"priority": 3}},
            {"name": "grandkid2", "queue_name": parents}]},
    ]})


def _run_some(kids: Queue) -> None:
    """done completes, running stays active (locked), ignored fails (recorded)."""
    for name, how in (("done", "completed"), ("running", None), ("waiting", "skip"),
                      ("ignored", "failed")):
        job_id = fetch(kids, f"t-{name}")
        assert job_id is not None
        if how == "completed":
            finish(kids, job_id, value={"by": name}, token=f"t-{name}")
        elif how == "failed":
            finish(kids, job_id, completed=False, value="broke", token=f"t-{name}")
        elif how == "skip":
            # back to the end of wait, unlocked: a child still waiting
            kids.client.delete(kids.keys.lock(job_id))
            kids.client.lrem(kids.keys.active, 0, job_id)
            kids.client.lpush(kids.keys.wait, job_id)


def test_flow_reads_agree_with_node(node_peer: NodePeer, redis_url: str) -> None:
    with FlowProducer(redis_url) as flows, Queue("node-fr-kids", redis_url) as kids, \
            Queue("node-fr-parents", redis_url) as parents:
        node = _add_flow(flows, "node-fr-parents", "node-fr-kids")
        _run_some(kids)
        root = node.job.id
        sub = node.children[5].job.id
        cases = [{}, {"depth": 1}, {"depth": 2}, {"maxChildren": 1}]
        res = node_peer({"queue": "node-fr-parents", "actions": [
            *({"op": "getFlow", "id": root, **c} for c in cases),
            {"op": "getDependenciesCount", "id": root},
            {"op": "getDependenciesCount", "id": root, "types": {"ignored": True,
                                                                 "processed": True}}]})
        flows_seen = res["results"][:4]
        for case, seen in zip(cases, flows_seen, strict=True):
            ours = flows.get_flow(job_id=root, queue_name="node-fr-parents",
                                  depth=case.get("depth", 10),
                                  max_children=case.get("maxChildren", 20))
            if case.get("maxChildren") == 1:
                # Node's cursor-0 scans return whole small sets: its bound is a hint, ours a
                # cap. Each of ours is one of Node's.
                assert ours is not None
                assert {c.job.id for c in ours.children} <= {
                    c["id"] for c in seen["children"]}
                continue
            assert _ids(ours) == _node_ids(seen), case
        counts = res["results"][4]
        assert counts == {"processed": 1, "unprocessed": 4, "ignored": 1, "failed": 0}
        root_job = parents.get_job(root)
        assert isinstance(root_job, Job)
        assert root_job.get_dependencies_count() == counts
        assert res["results"][5] == root_job.get_dependencies_count(ignored=True,
                                                                    processed=True)
        assert res["results"][5] == {"ignored": 1, "processed": 1}
        sub_job = kids.get_job(sub)
        assert isinstance(sub_job, Job)
        assert node_peer({"queue": "node-fr-kids", "actions": [
            {"op": "getDependenciesCount", "id": sub}]})["results"][0] == \
            sub_job.get_dependencies_count()


def _snapshot(r: redis.Redis, queues: list[str], names: dict[str, str]) -> dict[str, Any]:
    """Every key of the queues, queue key prefixes and job ids replaced by stable names;
    events reduced to removed/waiting; job hashes to their flow and queueing fields."""

    def n(text: str) -> str:
        for i, qn in enumerate(queues):
            text = text.replace(f"bull:{qn}:", f"Q{i}:")
        for job_id, name in names.items():
            text = text.replace(f":{job_id}", f":<{name}>")
            if text == job_id:
                return f"<{name}>"
        return text

    out: dict[str, Any] = {}
    for qn in queues:
        for key in r.keys(f"bull:{qn}:*"):
            kind = r.type(key)
            if kind == "list":
                value: Any = [n(v) for v in r.lrange(key, 0, -1)]
            elif kind == "set":
                value = sorted(n(v) for v in r.smembers(key))
            elif kind == "zset":
                value = sorted(n(v) for v in r.zrange(key, 0, -1))
            elif kind == "stream":
                value = [{k: n(v) for k, v in e.items()} for _, e in r.xrange(key)
                         if e.get("event") in ("removed", "waiting")]
            elif kind == "hash" and n(key).count(":") == 1 and n(key).endswith(">"):
                h = r.hgetall(key)
                value = {k: n(h[k]) for k in ("parentKey", "priority", "delay") if k in h}
            elif kind == "hash":
                value = sorted(n(k) for k in r.hkeys(key))
            else:
                value = kind
            out[n(key)] = value
    return out


def _twin(flows: FlowProducer, redis_url: str, tag: str) -> tuple[list[str], dict[str, str],
                                                                   Any]:
    queues = [f"node-{tag}-parents", f"node-{tag}-kids"]
    node = _add_flow(flows, *queues)
    with Queue(queues[1], redis_url) as kids:
        _run_some(kids)
    names: dict[str, str] = {}

    def walk(n: Any) -> None:
        names[n.job.id] = n.job.name
        for c in n.children:
            walk(c)

    walk(node)
    return queues, names, node


def test_remove_unprocessed_children_twins(node_peer: NodePeer, redis_url: str,
                                           r: redis.Redis) -> None:
    with FlowProducer(redis_url) as flows:
        qa, names_a, node_a = _twin(flows, redis_url, "ruc-a")
        qb, names_b, node_b = _twin(flows, redis_url, "ruc-b")
    node_peer({"queue": qa[0], "actions": [{"op": "removeUnprocessedChildren",
                                            "id": node_a.job.id}]})
    with Queue(qb[0], redis_url) as parents:
        root_b = parents.get_job(node_b.job.id)
        assert root_b is not None
        removed = root_b.remove_unprocessed_children()
    assert removed == 5  # waiting, delayed, sub, grandkid, grandkid2
    sa, sb = _snapshot(r, qa, names_a), _snapshot(r, qb, names_b)
    events_a, events_b = sa.pop("Q1:events"), sb.pop("Q1:events")
    assert sa == sb  # the same jobs, keys and structures are left
    # The same removals (in set order, which differs between the twins). One known
    # difference: Node first releases a removed child that is itself a parent (`sub`, once
    # its own children are gone) to wait, then removes it from there; queuecore removes it
    # from waiting-children directly, with no `waiting` event.
    removed_a = {e["jobId"]: e["prev"] for e in events_a if e["event"] == "removed"}
    removed_b = {e["jobId"]: e["prev"] for e in events_b if e["event"] == "removed"}
    assert removed_a == {**removed_b, "<sub>": "wait"}
    assert removed_b["<sub>"] == "waiting-children"
    assert {"event": "waiting", "jobId": "<sub>", "prev": "waiting-children"} in events_a
    assert [e for e in events_a if e["event"] == "waiting" and e["jobId"] != "<sub>"] == \
        [e for e in events_b if e["event"] == "waiting"]


def test_remove_child_dependency_twins(node_peer: NodePeer, redis_url: str,
                                       r: redis.Redis) -> None:
    with FlowProducer(redis_url) as flows:
        qa, names_a, node_a = _twin(flows, redis_url, "rcd-a")
        qb, names_b, node_b = _twin(flows, redis_url, "rcd-b")
    # every child of the root, the finished ones included (a no-op for them)
    order = [c.job.name for c in node_a.children]
    ids_a = {c.job.name: c.job.id for c in node_a.children}
    ids_b = {c.job.name: c.job.id for c in node_b.children}
    res = node_peer({"queue": qa[1], "actions": [
        {"op": "removeChildDependency", "id": ids_a[name]} for name in order]})["results"]
    with Queue(qb[1], redis_url) as kids:
        ours = [kids.get_job(ids_b[name]).remove_child_dependency()  # type: ignore[union-attr]
                for name in order]
    assert ours == res
    assert res == [False, True, True, False, True, True]
    assert _snapshot(r, qa, names_a) == _snapshot(r, qb, names_b)
    # released to the front of its queue's wait (grandkid2 waits there too)
    assert r.lrange(f"bull:{qa[0]}:wait", -1, -1) == [node_a.job.id]
