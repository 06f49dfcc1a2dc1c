"""BullMQ's read helpers through the command layer (counts per priority and by types, state
checks, deduplication keys), sync and async, on a real Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
import redis

from queuecore import AsyncQueue, InvalidOptionsError, Queue
from queuecore.commands import getters
from tests.queue_helpers import fetch, run_to

K = "bull:q:"


@pytest.fixture
def q(redis_url: str) -> Iterator[Queue]:
    with Queue("q", redis_url) as queue:
        yield queue


@pytest.fixture
async def aq(redis_url: str) -> AsyncIterator[AsyncQueue]:
    async with AsyncQueue("q", redis_url) as queue:
        yield queue


def test_counts_per_priority(q: Queue) -> None:
    for p in (0, 0, 1, 3, 3, 3, 2**21 - 1):
        q.add("j", priority=p)
    q.add("later", priority=3, delay=60_000)  # delayed: not counted
    counts = q.run_op(getters.counts_per_priority(q.keys, [3, 0, 1, 2, 3, 2**21 - 1]))
    assert counts == {"3": 3, "0": 2, "1": 1, "2": 0, str(2**21 - 1): 1}
    assert list(counts) == ["3", "0", "1", "2", str(2**21 - 1)]  # order given, repeats once
    assert q.run_op(getters.counts_per_priority(q.keys, [])) == {}
    for bad in (-1, 2**21, 1.0, "1", True):
        with pytest.raises(InvalidOptionsError):
            getters.counts_per_priority(q.keys, [bad])  # type: ignore[list-item]


def test_job_count_by_types(q: Queue) -> None:
    run_to(q, "completed")
    run_to(q, "failed")
    q.add("w")
    q.add("p", priority=2)
    q.add("d", delay=60_000)
    assert q.run_op(getters.job_count_by_types(q.keys, ["completed"])) == 1
    assert q.run_op(getters.job_count_by_types(q.keys, ["completed", "failed",
                                                        "completed"])) == 2
    assert q.run_op(getters.job_count_by_types(q.keys, ["waiting", "prioritized",
                                                        "delayed"])) == 3
    assert q.run_op(getters.job_count_by_types(q.keys, [])) == 5
    with pytest.raises(InvalidOptionsError):
        getters.job_count_by_types(q.keys, ["nope"])


def test_is_in_state(q: Queue) -> None:
    done = run_to(q, "completed")
    failed = run_to(q, "failed")
    delayed = q.add("d", delay=60_000).id
    prioritized = q.add("p", priority=1).id
    active = q.add("a").id
    assert fetch(q) == active
    waiting = q.add("w").id
    wanted = {done: "completed", failed: "failed", delayed: "delayed",
              prioritized: "prioritized", waiting: "waiting", active: "active"}
    for job_id, state in wanted.items():
        for other in getters.CHECKABLE_STATES:
            assert q.run_op(getters.is_in_state(q.keys, job_id, other)) is (other == state), \
                (job_id, other)
    assert q.run_op(getters.is_in_state(q.keys, "nope", "waiting")) is False
    with pytest.raises(InvalidOptionsError):
        getters.is_in_state(q.keys, done, "done")


def test_deduplication_helpers(q: Queue, r: redis.Redis) -> None:
    first = q.add("j", deduplication={"id": "dd"})
    assert q.run_op(getters.deduplication_job_id(q.keys, "dd")) == first.id
    assert q.run_op(getters.deduplication_job_id(q.keys, "other")) is None
    assert q.add("j", deduplication={"id": "dd"}).id == first.id  # deduplicated
    assert q.run_op(getters.remove_deduplication_key(q.keys, "dd")) is True
    assert not r.exists(K + "de:dd")
    assert q.run_op(getters.remove_deduplication_key(q.keys, "dd")) is False
    second = q.add("j", deduplication={"id": "dd"})
    assert second.id != first.id
    assert q.run_op(getters.deduplication_job_id(q.keys, "dd")) == second.id
    with pytest.raises(InvalidOptionsError):
        getters.remove_deduplication_key(q.keys, "")


async def test_getters_async(aq: AsyncQueue) -> None:
    await aq.add("j", priority=4)
    job = await aq.add("k", deduplication={"id": "x"})
    assert await aq.run_op(getters.counts_per_priority(aq.keys, [4, 0])) == {"4": 1, "0": 1}
    assert await aq.run_op(getters.job_count_by_types(aq.keys, ["waiting",
                                                                "prioritized"])) == 2
    assert await aq.run_op(getters.is_in_state(aq.keys, job.id, "waiting")) is True
    assert await aq.run_op(getters.deduplication_job_id(aq.keys, "x")) == job.id
    assert await aq.run_op(getters.remove_deduplication_key(aq.keys, "x")) is True
