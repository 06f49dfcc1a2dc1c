"""Fan-out flows on a real redis-server: ``first`` runs, then every ``then`` job at once, then
the optional ``join``; a failed ``first`` holds everything after it until it is retried."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from queuecore import (
    AsyncFlowProducer,
    AsyncJob,
    AsyncQueue,
    FlowProducer,
    InvalidOptionsError,
    Queue,
    UnrecoverableError,
    Worker,
    chain,
    fan_out,
    release_fan_out,
)
from tests.worker_utils import running, wait_until


@pytest.fixture
def flows(redis_url: str):
    producer = FlowProducer(redis_url)
    yield producer
    producer.close()


def recording_worker(queue: str, url: str, order: list[str],
                     broken: set[str] | None = None) -> Worker:
    async def process(job: AsyncJob) -> Any:
        order.append(job.name)
        if broken is not None and job.name in broken:
            raise RuntimeError(f"{job.name} broke")
        inputs = await job.get_children_values()
        return {"by": job.name, "inputs": sorted(inputs.values(), key=str)}

    return Worker(queue, process, connection=url, concurrency=4, drain_delay=1)


def gate_worker(url: str, queue: str = "fan-out") -> Worker:
    return Worker(queue, release_fan_out, connection=url, drain_delay=1)


def stored(url: str, queue: str, job_id: str) -> Any:
    with Queue(queue, url) as q:
        job = q.get_job(job_id)
        assert job is not None, f"{queue}:{job_id} is gone"
        return job


async def test_then_jobs_run_after_first_in_other_queues_and_join_reads_them(
        flows: FlowProducer, redis_url: str, r) -> None:
    node = flows.add(fan_out(
        {"name": "ingest", "queue_name": "fo-a", "data": {"file": "x.csv"}},
        then=[{"name": "index", "queue_name": "fo-b"},
              {"name": "thumbnail", "queue_name": "fo-c", "opts": {"priority": 3}},
              {"name": "notify", "queue_name": "fo-b"}],
        join={"name": "report", "queue_name": "fo-a"},
    ))
    first, then, join = node.first.job, [n.job for n in node.then], node.join
    assert join is not None
    assert first.get_state() == "waiting"
    assert [j.get_state() for j in then] == ["waiting-children"] * 3
    assert join.job.get_state() == "waiting-children"
    assert node.gate.job.get_state() == "waiting-children"
    first_key = f"bull:fo-a:{first.id}"
    assert r.hget(first_key, "parentKey") == f"bull:fan-out:{node.gate.job.id}"
    for job, queue in zip(then, ("fo-b", "fo-c", "fo-b"), strict=True):
        assert r.smembers(f"bull:{queue}:{job.id}:dependencies") == {first_key}
        assert r.hget(f"bull:{queue}:{job.id}", "parentKey") == f"bull:fo-a:{join.job.id}"
    assert len(r.smembers(f"bull:fo-a:{join.job.id}:dependencies")) == 3

    order: list[str] = []
    workers = [recording_worker(q, redis_url, order) for q in ("fo-a", "fo-b", "fo-c")]
    async with running(workers[0]), running(workers[1]), running(workers[2]):
        # Without the gate worker nothing after `first` runs, even once `first` completed.
        await wait_until(lambda: first.get_state() == "completed")
        await asyncio.sleep(0.3)
        assert order == ["ingest"]
        assert [j.get_state() for j in then] == ["waiting-children"] * 3
        async with running(gate_worker(redis_url)):
            await wait_until(lambda: join.job.get_state() == "completed")

    assert order[0] == "ingest" and order[-1] == "report"
    assert sorted(order[1:4]) == ["index", "notify", "thumbnail"]
    done_first = stored(redis_url, "fo-a", first.id)
    assert done_first.return_value == {"by": "ingest", "inputs": []}
    for job, queue in zip(then, ("fo-b", "fo-c", "fo-b"), strict=True):
        done = stored(redis_url, queue, job.id)
        assert done.processed_on >= done_first.finished_on
        assert done.get_children_values() == {first_key: done_first.return_value}
        assert done.return_value["inputs"] == [done_first.return_value]
    report = stored(redis_url, "fo-a", join.job.id)
    assert set(report.get_children_values()) == {
        f"bull:{q}:{j.id}" for j, q in zip(then, ("fo-b", "fo-c", "fo-b"), strict=True)}
    assert sorted(v["by"] for v in report.return_value["inputs"]) == [
        "index", "notify", "thumbnail"]
    assert r.exists(f"bull:fan-out:{node.gate.job.id}") == 0  # the gate removes itself


async def test_async_producer_without_join_and_a_chain_as_first(redis_url: str) -> None:
    async with AsyncFlowProducer(redis_url) as flows:
        node = await flows.add(fan_out(
            chain([{"name": "download", "queue_name": "fo-a"},
                   {"name": "unpack", "queue_name": "fo-a"}]),
            then=[{"name": "scan", "queue_name": "fo-b"},
                  {"name": "later", "queue_name": "fo-b", "opts": {"delay": 300}}],
            gate_queue="fo-gate",
        ))
        assert node.join is None
        assert node.first.job.name == "unpack"
        assert node.first.children[0].job.name == "download"
        assert await node.then[0].job.get_state() == "waiting-children"
        order: list[str] = []
        async with running(recording_worker("fo-a", redis_url, order)), \
                running(recording_worker("fo-b", redis_url, order)), \
                running(gate_worker(redis_url, "fo-gate")):
            await wait_until(lambda: all_completed(node.then))
    assert order[:2] == ["download", "unpack"]
    assert sorted(order[2:]) == ["later", "scan"]
    async with AsyncQueue("fo-b", redis_url) as queue:
        later = await queue.get_job(node.then[1].job.id)
        unpack_key = f"bull:fo-a:{node.first.job.id}"
        assert later is not None and later.processed_on is not None
        assert later.processed_on >= later.timestamp + 300  # its delay still holds
        assert list(await later.get_children_values()) == [unpack_key]


async def all_completed(nodes: list[Any]) -> bool:
    return all([await n.job.get_state() == "completed" for n in nodes])


async def test_a_failed_first_holds_everything_until_it_is_retried(
        flows: FlowProducer, redis_url: str) -> None:
    node = flows.add(fan_out(
        {"name": "ingest", "queue_name": "fo-a", "opts": {"attempts": 2}},
        then=[{"name": "index", "queue_name": "fo-b"}, {"name": "notify", "queue_name": "fo-c"}],
        join={"name": "report", "queue_name": "fo-a"},
    ))
    first_key = f"bull:fo-a:{node.first.job.id}"
    order: list[str] = []
    broken = {"ingest"}
    workers = [recording_worker(q, redis_url, order, broken) for q in ("fo-a", "fo-b", "fo-c")]
    async with running(workers[0]), running(workers[1]), running(workers[2]), \
            running(gate_worker(redis_url)):
        await wait_until(lambda: node.first.job.get_state() == "failed")
        await asyncio.sleep(0.3)
        assert order == ["ingest", "ingest"]  # both attempts, nothing else
        assert [n.job.get_state() for n in node.then] == ["waiting-children"] * 2
        assert node.join is not None and node.join.job.get_state() == "waiting-children"
        gate = node.gate.job
        assert gate.get_state() == "waiting-children"
        assert gate.get_dependencies().unprocessed == [first_key]
        assert gate.get_dependencies().unsuccessful == []
        assert node.then[0].job.get_dependencies().unprocessed == [first_key]

        broken.clear()  # the cause is fixed: retrying `first` resumes the fan-out
        node.first.job.retry()
        await wait_until(lambda: node.join.job.get_state() == "completed")
    assert order[:3] == ["ingest"] * 3 and order[-1] == "report"
    assert sorted(order[3:5]) == ["index", "notify"]


async def test_release_is_idempotent_and_refused_before_first_completed(
        flows: FlowProducer, redis_url: str, r) -> None:
    node = flows.add(fan_out({"name": "a", "queue_name": "fo-a"},
                             then=[{"name": "b", "queue_name": "fo-b"}]))
    async with AsyncQueue("fan-out", redis_url) as gates:
        gate = await gates.get_job(node.gate.job.id)
        assert gate is not None
        with pytest.raises(UnrecoverableError, match="has not completed"):
            await release_fan_out(gate)
        assert node.then[0].job.get_state() == "waiting-children"

        async with running(recording_worker("fo-a", redis_url, [])):
            await wait_until(lambda: node.gate.job.get_state() == "waiting")
        assert await release_fan_out(gate) == {"released": 1}
        assert node.then[0].job.get_state() == "waiting"
        assert await release_fan_out(gate) == {"released": 0}  # a retried gate: no-op
    assert r.lrange("bull:fo-b:wait", 0, -1) == [node.then[0].job.id]


def test_a_then_job_whose_id_exists_is_left_alone(flows: FlowProducer, redis_url: str,
                                                  r) -> None:
    with Queue("fo-b", redis_url) as q:
        q.add("old", {"v": 1}, job_id="report-7")
    flows.add(fan_out({"name": "a", "queue_name": "fo-a"},
                      then=[{"name": "b", "queue_name": "fo-b", "opts": {"job_id": "report-7"}}]))
    assert r.hget("bull:fo-b:report-7", "name") == "old"
    assert r.exists("bull:fo-b:report-7:dependencies") == 0
    assert r.lrange("bull:fo-b:wait", 0, -1) == ["report-7"]


A = {"name": "a", "queue_name": "fo-a"}
B = {"name": "b", "queue_name": "fo-b"}


@pytest.mark.parametrize(("args", "kwargs", "message"), [
    ((A, []), {}, "at least one job"),
    ((A, B), {}, "must be a list"),
    ((A, "b"), {}, "must be a list"),
    (({"name": "a"}, [B]), {}, "needs a name and a queue_name"),
    (("a", [B]), {}, "must be a flow node"),
    ((A, [{"queue_name": "fo-b"}]), {}, "needs a name and a queue_name"),
    ((A, [{**B, "children": [A]}]), {}, "cannot have children"),
    ((A, [B]), {"join": {**A, "children": [B]}}, "cannot have children"),
    (({**A, "opts": {"fail_parent_on_failure": True}}, [B]), {}, "cannot have"),
    (({**A, "opts": {"parent": {"id": "x", "queue": "q"}}}, [B]), {}, "cannot have"),
    ((A, [{**B, "opts": {"fail_parent_on_failure": True}}]), {}, "need a join"),
    ((A, [{**B, "queue_name": "fan-out"}]), {}, "gate queue"),
    ((A, [B]), {"gate_queue": ""}, "queue name"),
])
def test_bad_input_is_refused_before_anything_is_written(args: tuple, kwargs: dict,
                                                        message: str) -> None:
    with pytest.raises(InvalidOptionsError, match=message):
        fan_out(*args, **kwargs)


def test_bad_options_are_refused_with_nothing_written(flows: FlowProducer, r) -> None:
    spec = fan_out(A, then=[B, {"name": "c", "queue_name": "fo-c", "opts": {"priority": -1}}])
    with pytest.raises(InvalidOptionsError):
        flows.add(spec)
    assert r.keys("*") == []
