"""The BullMQ methods on the faces (Queue/Job/FlowProducer and their async twins): each one
reaches Redis, returns what docs/api.md says and keeps the job object in step. What the
scripts write is covered in test_job_edits.py, test_getters.py and test_flow_edits.py."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
import redis

from queuecore import (
    AsyncFlowProducer,
    AsyncJob,
    AsyncQueue,
    DataError,
    FlowProducer,
    InvalidOptionsError,
    Job,
    JobNotFoundError,
    JobNotInStateError,
    Queue,
)
from tests.queue_helpers import fetch, finish, run_to

K = "bull:q:"


@pytest.fixture
def q(redis_url: str) -> Iterator[Queue]:
    with Queue("q", redis_url, max_data_size=100) as queue:
        yield queue


@pytest.fixture
async def aq(redis_url: str) -> AsyncIterator[AsyncQueue]:
    async with AsyncQueue("q", redis_url, max_data_size=100) as queue:
        yield queue


def test_job_edits_sync(q: Queue, r: redis.Redis) -> None:
    job = q.add("j", {"a": 1})
    job.update_data({"a": 2})
    assert job.data == {"a": 2}
    assert q.get_job(job.id).data == {"a": 2}  # type: ignore[union-attr]
    with pytest.raises(DataError):
        job.update_data("x" * 200)
    assert job.data == {"a": 2}
    job.change_priority(priority=3)
    assert job.priority == 3
    assert r.zscore(K + "prioritized", job.id) is not None
    job.change_priority(lifo=True)
    assert job.priority == 0 and r.lrange(K + "wait", 0, -1) == [job.id]
    with pytest.raises(InvalidOptionsError):
        job.change_priority(priority=-1)
    with pytest.raises(JobNotInStateError):
        job.change_delay(1000)
    delayed = q.add("d", delay=60_000)
    delayed.change_delay(1000)
    assert delayed.delay == 1000
    assert q.get_job(delayed.id).delay == 1000  # type: ignore[union-attr]
    assert job.log("a") == 1 and job.log("b") == 2
    job.clear_logs(keep_logs=1)
    assert q.get_job_logs(job.id) == (["b"], 1)
    job.clear_logs()
    assert q.get_job_logs(job.id) == ([], 0)


async def test_job_edits_async(aq: AsyncQueue, r: redis.Redis) -> None:
    job = await aq.add("j", {"a": 1})
    assert isinstance(job, AsyncJob)
    await job.update_data([1])
    assert job.data == [1] and (await aq.get_job(job.id)).data == [1]  # type: ignore[union-attr]
    await job.change_priority(priority=2, lifo=True)
    assert job.priority == 2 and r.zscore(K + "prioritized", job.id) == 2 * 2**32
    with pytest.raises(JobNotInStateError):
        await job.change_delay(5)
    delayed = await aq.add("d", delay=60_000)
    await delayed.change_delay(0)
    assert delayed.delay == 0
    await job.log("x")
    await job.clear_logs()
    assert await aq.get_job_logs(job.id) == ([], 0)


def test_state_checks_sync(q: Queue) -> None:
    done = q.get_job(run_to(q, "completed"))
    failed = q.get_job(run_to(q, "failed"))
    assert done is not None and failed is not None
    active = q.add("a")
    assert fetch(q) == active.id
    waiting = q.add("w")
    delayed = q.add("d", delay=60_000)
    checks = [(done, "completed"), (failed, "failed"), (active, "active"),
              (waiting, "waiting"), (delayed, "delayed")]
    for job, state in checks:
        got = {"completed": job.is_completed(), "failed": job.is_failed(),
               "active": job.is_active(), "waiting": job.is_waiting(),
               "delayed": job.is_delayed(), "waiting-children": job.is_waiting_children()}
        assert got == {s: s == state for s in got}, job.id


async def test_state_checks_async(aq: AsyncQueue) -> None:
    job = await aq.add("w")
    assert await job.is_waiting() and not await job.is_active()
    assert not await job.is_completed() and not await job.is_failed()
    assert not await job.is_delayed() and not await job.is_waiting_children()


def test_queue_getters_sync(q: Queue, r: redis.Redis) -> None:
    c1 = run_to(q, "completed", now=1_000)  # while wait is empty
    c2 = run_to(q, "completed", now=2_000)
    f1 = run_to(q, "failed")
    first = q.add("w1")
    second = q.add("w2")
    p5 = q.add("p", priority=5)
    p1 = q.add("p", priority=1)
    d_late = q.add("d", delay=90_000)
    d_soon = q.add("d", delay=30_000)
    assert [j.id for j in q.get_waiting()] == [first.id, second.id]
    assert [j.id for j in q.get_waiting(0, 0)] == [first.id]
    assert [j.id for j in q.get_prioritized()] == [p1.id, p5.id]
    assert [j.id for j in q.get_delayed()] == [d_soon.id, d_late.id]
    assert fetch(q) == first.id
    assert [j.id for j in q.get_active()] == [first.id]
    assert q.get_waiting_children() == []
    assert [j.id for j in q.get_completed()] == [c2, c1]
    assert [j.id for j in q.get_failed()] == [f1]
    assert all(isinstance(j, Job) for j in q.get_completed())
    assert q.get_counts_per_priority([1, 5, 0]) == {"1": 1, "5": 1, "0": 1}
    assert q.get_job_count_by_types("completed", "failed") == 3
    assert q.get_job_count_by_types() == sum(q.get_job_counts().values())
    assert q.add_job_log(second.id, "one") == 1
    assert q.add_job_log(second.id, "two", keep_logs=1) == 1
    assert q.get_job_logs(second.id) == (["two"], 1)
    with pytest.raises(JobNotFoundError):
        q.add_job_log("nope", "x")
    with pytest.raises(DataError):
        q.add_job_log(second.id, "x" * 200)
    dedup = q.add("j", deduplication={"id": "k"})
    assert q.get_deduplication_job_id("k") == dedup.id
    assert q.remove_deduplication_key("k") is True
    assert q.get_deduplication_job_id("k") is None
    assert q.remove_deduplication_key("k") is False


async def test_queue_getters_async(aq: AsyncQueue) -> None:
    job = await aq.add("w")
    await aq.add("p", priority=2)
    assert [j.id for j in await aq.get_waiting()] == [job.id]
    assert all(isinstance(j, AsyncJob) for j in await aq.get_prioritized())
    assert await aq.get_active() == [] and await aq.get_delayed() == []
    assert await aq.get_completed() == [] and await aq.get_failed() == []
    assert await aq.get_waiting_children() == []
    assert await aq.get_counts_per_priority([2]) == {"2": 1}
    assert await aq.get_job_count_by_types("waiting", "prioritized") == 2
    assert await aq.add_job_log(job.id, "l") == 1
    dedup = await aq.add("j", deduplication={"id": "k"})
    assert await aq.get_deduplication_job_id("k") == dedup.id
    assert await aq.remove_deduplication_key("k") is True


FLOW = {"name": "root", "queue_name": "parents", "children": [
    {"name": "a", "queue_name": "kids"},
    {"name": "b", "queue_name": "kids", "opts": {"ignore_dependency_on_failure": True}},
    {"name": "c", "queue_name": "kids", "children": [{"name": "g", "queue_name": "kids"}]}]}


def test_flow_methods_sync(redis_url: str, r: redis.Redis) -> None:
    with FlowProducer(redis_url) as flows, Queue("kids", redis_url) as kids:
        node = flows.add(FLOW)  # type: ignore[arg-type]
        root = node.job
        assert isinstance(root, Job) and root.is_waiting_children()
        tree = flows.get_flow(job_id=root.id, queue_name="parents")
        assert tree is not None and isinstance(tree.job, Job)
        assert tree.job.id == root.id and tree.job.name == "root"
        assert sorted(c.job.name for c in tree.children) == ["a", "b", "c"]
        c = next(n for n in tree.children if n.job.name == "c")
        assert [g.job.name for g in c.children] == ["g"]
        assert c.job.queue.name == "kids"
        assert flows.get_flow(job_id=root.id, queue_name="parents", depth=1).children == []  # type: ignore[union-attr]
        assert flows.get_flow(job_id="nope", queue_name="parents") is None
        assert root.get_dependencies_count() == {"processed": 0, "unprocessed": 3,
                                                 "ignored": 0, "failed": 0}
        assert root.get_dependencies_count(unprocessed=True) == {"unprocessed": 3}
        b = next(n.job for n in node.children if n.job.name == "b")
        assert fetch(kids, "t") is not None  # a
        assert fetch(kids, "t2") == b.id
        finish(kids, b.id, completed=False, value="broke", token="t2")
        assert root.get_ignored_children_failures() == {f"bull:kids:{b.id}": "broke"}
        a = next(n.job for n in node.children if n.job.name == "a")
        assert a.remove_child_dependency() is True
        assert a.parent is None and a.parent_key is None
        assert a.remove_child_dependency() is False
        assert root.remove_unprocessed_children() == 2  # c and g
        assert root.get_dependencies_count() == {"processed": 0, "unprocessed": 0,
                                                 "ignored": 1, "failed": 0}
        assert root.is_waiting()  # released


async def test_flow_methods_async(redis_url: str) -> None:
    async with AsyncFlowProducer(redis_url) as flows:
        node = await flows.add(FLOW)  # type: ignore[arg-type]
        root = node.job
        assert isinstance(root, AsyncJob)
        tree = await flows.get_flow(job_id=root.id, queue_name="parents", max_children=1)
        assert tree is not None and isinstance(tree.job, AsyncJob)
        assert len(tree.children) == 1
        assert await root.get_dependencies_count(processed=True) == {"processed": 0}
        assert await root.get_ignored_children_failures() == {}
        child = node.children[0].job
        assert await child.remove_child_dependency() is True  # type: ignore[misc]
        assert await root.remove_unprocessed_children() == 3  # type: ignore[misc]
        assert await root.is_waiting()  # type: ignore[misc]
