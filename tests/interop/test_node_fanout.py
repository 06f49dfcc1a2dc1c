"""queuecore's fan-out (``fan_out`` / ``release_fan_out``, docs/features.md "fan-out") run by
Node bullmq 6.7.0 workers: queuecore writes the fan-out and runs only the gate worker; Node
runs ``first``, the "then" jobs and ``join``, and reads them with its own getters
(getState, getDependencies, getDependenciesCount, getChildrenValues; tests/peers/
flow_inspect.mjs).
"""

from __future__ import annotations

import shutil
from typing import Any

import pytest

from queuecore import FlowProducer, Queue, fan_out, release_fan_out

from . import scenarios as sc
from .conftest import PEERS_DIR, NodePeer, Peer

pytestmark = pytest.mark.interop

NO_DEPENDENCIES = {"processed": {}, "unprocessed": [], "failed": [], "ignored": {}}


@pytest.fixture
def node_inspect(node_peer: NodePeer) -> Peer:
    """tests/peers/flow_inspect.mjs: Node's view of jobs of any queues."""
    node = shutil.which("node")
    assert node is not None
    peer = Peer([node, str(PEERS_DIR / "flow_inspect.mjs")], PEERS_DIR, node_peer.redis_url)
    peer.label = "node flow_inspect"
    return peer


async def inspect(peer: Peer, *jobs: tuple[str, str]) -> list[dict[str, Any] | None]:
    return (await peer.arun({"actions": [{"op": "inspect", "queue": q, "id": i}
                                         for q, i in jobs]}))["results"]


async def test_fan_out_run_by_node_workers(node_peer: NodePeer, node_inspect: Peer,
                                           redis_url: str) -> None:
    seen: dict[str, Any] = {}

    async def while_held(jobs: dict[str, Any]) -> None:
        first_key = sc.job_key(*jobs["first"])
        then_keys = sorted(sc.job_key(*t) for t in jobs["then"])
        first, *then, join, gate = await inspect(
            node_inspect, jobs["first"], *jobs["then"], jobs["join"], jobs["gate"])
        seen.update(first=first, then=then, join=join, gate=gate)
        assert first is not None and first["state"] == "completed"
        assert first["returnvalue"] == jobs["result"]
        assert first["parentKey"] == sc.job_key(*jobs["gate"])
        for job in then:
            assert job is not None
            # first completed, the gate has not run: Node sees each "then" job still
            # waiting for first, with nothing handed over yet
            assert job["state"] == "waiting-children", job
            assert job["isWaitingChildren"] is True
            assert job["dependencies"] == {**NO_DEPENDENCIES, "unprocessed": [first_key]}
            assert job["counts"] == {"processed": 0, "unprocessed": 1, "ignored": 0,
                                     "failed": 0}
            assert job["childrenValues"] == {}
            assert job["parentKey"] == sc.job_key(*jobs["join"])
            assert job["processedOn"] is None
        assert join is not None and join["state"] == "waiting-children"
        assert sorted(join["dependencies"]["unprocessed"]) == then_keys
        assert join["dependencies"]["processed"] == {}
        # Node's own completion of first moved the gate on and handed it first's result
        assert gate is not None and gate["state"] == "waiting"
        assert gate["dependencies"] == {**NO_DEPENDENCIES,
                                        "processed": {first_key: jobs["result"]}}

    jobs = await sc.queuecore_fan_out_run_by_peer(node_peer, redis_url, while_held)
    assert seen, "while_held did not run"

    first_key = sc.job_key(*jobs["first"])
    *then, join, gate = await inspect(node_inspect, *jobs["then"], jobs["join"], jobs["gate"])
    for job in then:
        assert job is not None and job["state"] == "completed"
        assert job["dependencies"] == {**NO_DEPENDENCIES,
                                       "processed": {first_key: jobs["result"]}}
        assert job["counts"] == {"processed": 1, "unprocessed": 0, "ignored": 0, "failed": 0}
        assert job["childrenValues"] == {first_key: jobs["result"]}
    assert join is not None and join["state"] == "completed"
    assert join["childrenValues"] == {sc.job_key(*t): {first_key: jobs["result"]}
                                      for t in jobs["then"]}
    assert join["dependencies"]["unprocessed"] == []
    assert gate is None  # removed on completion


@pytest.mark.parametrize("retried_by", ["queuecore", "node"])
async def test_first_failing_on_node_holds_the_fan_out_until_retried(
        node_peer: NodePeer, node_inspect: Peer, redis_url: str, retried_by: str) -> None:
    qa, qb, gate_q = "nfo-fail-a", "nfo-fail-b", "nfo-fail-gate"
    with FlowProducer(redis_url) as flows:
        fanned = flows.add(fan_out(
            {"name": "ingest", "queue_name": qa,
             "data": {"fail": "no input yet", "failAttempts": 1, "return": {"n": 7}}},
            then=[{"name": "index", "queue_name": qb, "data": {"returnChildren": True}},
                  {"name": "notify", "queue_name": qb, "data": {"returnChildren": True}}],
            gate_queue=gate_q))
    first = (qa, fanned.first.job.id)
    then = [(qb, n.job.id) for n in fanned.then]
    gate = (gate_q, fanned.gate.job.id)
    first_key = sc.job_key(*first)

    # Before anything ran, Node sees the whole shape.
    got = await inspect(node_inspect, first, *then, gate)
    assert got[0] is not None and got[0]["state"] == "waiting"
    assert got[0]["parentKey"] == sc.job_key(*gate)
    for job in got[1:]:
        assert job is not None and job["state"] == "waiting-children"
        assert job["dependencies"] == {**NO_DEPENDENCIES, "unprocessed": [first_key]}
    assert got[1]["parentKey"] is None  # no join: the "then" jobs have no parent

    # Node's worker fails first for good: nothing after it moves.
    work = sc.one(await node_peer.arun({"queue": qa, "actions": [
        {"op": "work", "count": 1, "timeoutMs": 5000}]}))
    assert [f["id"] for f in work["failed"]] == [fanned.first.job.id]
    got = await inspect(node_inspect, first, *then, gate)
    assert got[0] is not None and got[0]["state"] == "failed"
    for job in got[1:3]:
        assert job is not None and job["state"] == "waiting-children"
        assert job["dependencies"]["unprocessed"] == [first_key]
    assert got[3] is not None and got[3]["state"] == "waiting-children"
    # The gate still waits for first, which stays a pending dependency.
    deps = got[3]["dependencies"]
    assert deps["unprocessed"] == [first_key] and deps["failed"] == []
    assert deps["processed"] == {}

    # Retried (the cause is gone: failAttempts 1), first runs again on Node and the gate
    # releases the "then" jobs.
    if retried_by == "queuecore":
        with Queue(qa, connection=redis_url) as q:
            q.get_job(first[1]).retry()
    else:
        assert sc.one(await node_peer.arun({"queue": qa, "actions": [
            {"op": "retry", "id": first[1]}]})) is True
    work = sc.one(await node_peer.arun({"queue": qa, "actions": [
        {"op": "work", "count": 1, "timeoutMs": 5000}]}))
    assert [c["returnvalue"] for c in work["completed"]] == [{"n": 7}]
    got = await inspect(node_inspect, gate)
    assert got[0] is not None and got[0]["state"] == "waiting", got
    events = await sc.run_worker(redis_url, gate_q, release_fan_out,
                                 until=sc.count("completed", 1))
    assert events == [("completed", gate[1], {"released": 2})]
    work = sc.one(await node_peer.arun({"queue": qb, "actions": [
        {"op": "work", "count": 2, "timeoutMs": 5000}]}))
    assert not work["timedOut"] and work["failed"] == []
    assert [c["returnvalue"] for c in work["completed"]] == [{first_key: {"n": 7}}] * 2


async def test_node_failed_first_stays_unprocessed_on_the_gate(
        node_peer: NodePeer, redis_url: str) -> None:
    with FlowProducer(redis_url) as flows:
        fanned = flows.add(fan_out(
            {"name": "ingest", "queue_name": "nfo-unsucc-a", "data": {"fail": "no input"}},
            then=[{"name": "index", "queue_name": "nfo-unsucc-b"}],
            gate_queue="nfo-unsucc-gate"))
    work = sc.one(await node_peer.arun({"queue": "nfo-unsucc-a", "actions": [
        {"op": "work", "count": 1, "timeoutMs": 5000}]}))
    assert [f["id"] for f in work["failed"]] == [fanned.first.job.id]
    first_key = sc.job_key("nfo-unsucc-a", fanned.first.job.id)
    with Queue("nfo-unsucc-gate", connection=redis_url) as q:
        deps = q.get_job(fanned.gate.job.id).get_dependencies()
    # Node 6.7 writes no :unsuccessful entry for a child without a failure policy, and
    # neither does queuecore: the gate lists first as still pending (docs/features.md).
    assert deps.unprocessed == [first_key]
    assert deps.unsuccessful == []


async def test_child_failed_by_queuecore_then_retried_lets_node_finish_the_parent(
        node_peer: NodePeer, redis_url: str) -> None:
    """A child without a failure policy fails for good on a queuecore worker, is retried and
    completes; the parent then runs and completes on a Node worker (Node refuses to finish a
    parent that still has `:unsuccessful` children, so queuecore must write none here)."""
    broken = [True]

    async def child(job: Any) -> str:
        if broken[0]:
            raise RuntimeError("not yet")
        return "made"

    with FlowProducer(redis_url) as flows:
        node = flows.add({"name": "parent", "queue_name": "xfail-par", "children": [
            {"name": "child", "queue_name": "xfail-ch", "data": {}}]})
    child_job = node.children[0].job
    events = await sc.run_worker(redis_url, "xfail-ch", child, until=sc.count("failed", 1))
    assert [e[0] for e in events] == ["failed"]
    assert node.job.get_state() == "waiting-children"
    broken[0] = False
    child_job.retry()
    events = await sc.run_worker(redis_url, "xfail-ch", child, until=sc.count("completed", 1))
    assert events[-1][0] == "completed"
    work = sc.one(await node_peer.arun({"queue": "xfail-par", "actions": [
        {"op": "work", "count": 1, "timeoutMs": 5000}]}))
    assert work["failed"] == [] and [c["id"] for c in work["completed"]] == [node.job.id]
    assert node.job.get_state() == "completed"
