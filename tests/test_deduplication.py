"""Deduplication (BullMQ's `de` option): id, ttl, extend, replace, and its events."""

from __future__ import annotations

import pytest

from queuecore import AsyncJob, InvalidOptionsError, Queue, Worker
from tests.waiting import wait_for
from tests.worker_utils import events_of, running, wait_until


@pytest.fixture
def q(redis_url: str):
    queue = Queue("dedup", redis_url)
    yield queue
    queue.close()


def test_duplicate_returns_the_owner_and_emits_deduplicated(q: Queue, r):
    first = q.add("a", {"n": 1}, deduplication={"id": "user-7"})
    second = q.add("a", {"n": 2}, deduplication={"id": "user-7"})
    assert second.id == first.id
    assert second.data == {"n": 1}
    assert q.get_job_counts("waiting")["waiting"] == 1
    assert r.get("bull:dedup:de:user-7") == first.id
    assert r.pttl("bull:dedup:de:user-7") == -1
    assert r.hget(f"bull:dedup:{first.id}", "deid") == "user-7"
    dedup = [f for name, f in events_of(r, "dedup") if name == "deduplicated"]
    assert dedup == [{"jobId": first.id, "deduplicationId": "user-7", "deduplicatedJobId": "2"}]


def test_ttl_expires_the_id(q: Queue, r):
    first = q.add("a", {}, deduplication={"id": "t", "ttl": 150})
    assert q.add("a", {}, deduplication={"id": "t", "ttl": 150}).id == first.id
    wait_for(lambda: not r.exists("bull:dedup:de:t"), what="the id expired")
    third = q.add("a", {}, deduplication={"id": "t", "ttl": 150})
    assert third.id != first.id


def test_extend_renews_the_ttl(q: Queue, r):
    q.add("a", {}, deduplication={"id": "e", "ttl": 10_000, "extend": True})
    r.pexpire("bull:dedup:de:e", 50)
    q.add("a", {}, deduplication={"id": "e", "ttl": 10_000, "extend": True})
    assert r.pttl("bull:dedup:de:e") > 5_000


def test_replace_swaps_a_delayed_owner(q: Queue, r):
    first = q.add("a", {"v": 1}, delay=60_000,
                  deduplication={"id": "r", "replace": True})
    second = q.add("a", {"v": 2}, delay=60_000,
                   deduplication={"id": "r", "replace": True})
    assert second.id != first.id
    assert r.exists(f"bull:dedup:{first.id}") == 0
    assert r.zrange("bull:dedup:delayed", 0, -1) == [second.id]
    assert r.get("bull:dedup:de:r") == second.id


def test_replace_keeps_an_owner_that_is_not_delayed(q: Queue):
    first = q.add("a", {"v": 1}, deduplication={"id": "r2", "replace": True})
    second = q.add("a", {"v": 2}, deduplication={"id": "r2", "replace": True})
    assert second.id == first.id


async def test_the_id_is_freed_when_the_owner_finishes(q: Queue, redis_url: str, r):
    first = q.add("a", {}, deduplication={"id": "f"})

    async def process(job: AsyncJob) -> None:
        return None

    async with running(Worker("dedup", process, connection=redis_url)):
        await wait_until(lambda: q.get_job_counts("completed")["completed"] == 1)
    assert r.exists("bull:dedup:de:f") == 0
    assert q.add("a", {}, deduplication={"id": "f"}).id != first.id


def test_removing_the_owner_frees_the_id(q: Queue, r):
    first = q.add("a", {}, deduplication={"id": "rm"})
    first.remove()
    assert r.exists("bull:dedup:de:rm") == 0


@pytest.mark.parametrize("bad", [
    {"ttl": 5}, {"id": ""}, {"id": "x", "ttl": 0}, {"id": "x", "extend": "yes"},
    {"id": "x", "extend": True, "replace": True}, {"id": "x", "other": 1}, "x",
])
def test_bad_deduplication_options(q: Queue, r, bad: object):
    with pytest.raises(InvalidOptionsError):
        q.add("a", {}, deduplication=bad)  # type: ignore[arg-type]
    assert r.keys("*") == []
