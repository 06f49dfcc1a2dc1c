"""AsyncQueue / AsyncJob mirror the sync ones: a representative subset, on a real Redis."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
import redis
import redis.asyncio as aioredis

from queuecore import (
    AsyncJob,
    AsyncQueue,
    DataError,
    InvalidOptionsError,
    JobLockedError,
    JobNotFoundError,
    JobNotInStateError,
)
from queuecore.base.clock import now_ms
from queuecore.commands import worker_ops
from tests.queue_helpers import event_names, events, queue_keys

K = "bull:q:"


@pytest.fixture
async def aq(redis_url: str) -> AsyncIterator[AsyncQueue]:
    async with AsyncQueue("q", redis_url) as queue:
        yield queue


async def afetch(q: AsyncQueue, token: str = "tok") -> str | None:
    reply = await q.run_op(worker_ops.move_to_active(q.keys, now_ms(), token, 30_000, 0, 0, ""))
    return None if reply[0] == 0 else str(reply[1])


async def afinish(q: AsyncQueue, job_id: str, *, completed: bool, value: str,
                  token: str = "tok", now: int | None = None) -> None:
    await q.run_op(worker_ops.move_to_finished(
        q.keys, job_id, token, now if now is not None else now_ms(), completed=completed,
        value=value, stacktrace="", keep=(-1, 0, 0), max_attempts=1, metrics_points=0,
        fetch_next=False, next_token="", lock_ms=30_000, limiter_max=0, limiter_ms=0,
        worker_name=""))


async def arun_to(q: AsyncQueue, state: str, now: int | None = None) -> str:
    job = await q.add("j", {})
    assert await afetch(q) == job.id
    await afinish(q, job.id, completed=state == "completed",
                  value='"ok"' if state == "completed" else "boom", now=now)
    return job.id


async def test_add_kinds(aq: AsyncQueue, r: redis.Redis) -> None:
    a = await aq.add("a", {"x": 1})
    assert isinstance(a, AsyncJob)
    assert a.id == "1"
    await aq.add("p", priority=3)
    await aq.add("d", delay=timedelta(seconds=5))
    await aq.add("l", lifo=True)
    assert r.lrange(K + "wait", 0, -1) == ["1", "4"]
    assert r.zscore(K + "prioritized", "2") == 3 * 2**32 + 1
    h = r.hgetall(K + "3")
    assert r.zscore(K + "delayed", "3") == (int(h["timestamp"]) + 5000) * 4096
    assert event_names(r) == ["added", "waiting", "added", "waiting", "added", "delayed",
                              "added", "waiting"]


async def test_duplicate_id_returns_existing(aq: AsyncQueue, r: redis.Redis) -> None:
    await aq.add("orig", {"v": 1}, job_id="dup")
    again = await aq.add("new", {"v": 2}, job_id="dup")
    assert (again.id, again.name, again.data) == ("dup", "orig", {"v": 1})
    assert event_names(r)[-1] == "duplicated"
    assert r.llen(K + "wait") == 1


async def test_refusals_write_nothing(aq: AsyncQueue, r: redis.Redis) -> None:
    with pytest.raises(DataError):
        await aq.add("a", {1, 2})
    with pytest.raises(InvalidOptionsError):
        await aq.add("a", job_id="12")
    with pytest.raises(InvalidOptionsError):
        await aq.add_bulk([{"name": "ok", "data": 1}, {"name": "bad", "data": 1,
                                                       "opts": {"attempts": -1}}])
    assert r.keys("*") == []


async def test_add_bulk_one_round_trip(aq: AsyncQueue, r: redis.Redis,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[list[str]] = []
    real = aq._runner.run

    async def counting(op: Any) -> Any:
        calls.append([c.script.name for c in op.calls])
        return await real(op)

    monkeypatch.setattr(aq._runner, "run", counting)
    jobs = await aq.add_bulk([{"name": f"n{i}", "data": i} for i in range(5)])
    assert calls == [["add_jobs"]]  # one script call for the whole batch
    assert [j.id for j in jobs] == ["1", "2", "3", "4", "5"]
    assert r.llen(K + "wait") == 5


async def test_reading(aq: AsyncQueue, r: redis.Redis) -> None:
    assert await aq.get_job("1") is None
    for i in range(4):
        await aq.add(f"j{i}")
    r.lpush(K + "wait", "0:99")
    assert [j.id for j in await aq.get_jobs("waiting")] == ["4", "3", "2", "1"]
    assert [j.id for j in await aq.get_jobs("waiting", 1, 2, asc=True)] == ["2", "3"]
    assert (await aq.get_job_counts("waiting", "delayed")) == {"waiting": 5, "delayed": 0}
    assert await aq.count() == 5
    assert await aq.get_job_state("1") == "waiting"
    assert await aq.get_job_state("nope") == "unknown"
    assert await afetch(aq) == "1"
    assert await aq.get_job_state("1") == "active"
    with pytest.raises(InvalidOptionsError):
        await aq.get_jobs("waiting", 3, 1)


async def test_counts_in_one_round_trip(aq: AsyncQueue, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    real = aq._runner.run

    async def counting(op: Any) -> Any:
        calls.append(len(op.calls))
        return await real(op)

    monkeypatch.setattr(aq._runner, "run", counting)
    counts = await aq.get_job_counts()
    assert calls == [8]
    assert set(counts) == {"waiting", "paused", "active", "prioritized", "delayed",
                           "completed", "failed", "waiting-children"}


async def test_pause_resume_drain(aq: AsyncQueue, r: redis.Redis) -> None:
    await aq.add("a")
    await aq.add("d", delay=60_000)
    await aq.pause()
    assert await aq.is_paused()
    assert not r.exists(K + "marker")
    r.lpush(K + "paused", "legacy")
    await aq.resume()
    assert not await aq.is_paused()
    assert r.lrange(K + "wait", 0, -1) == ["1", "legacy"]
    assert r.zscore(K + "marker", "0") == 0
    await aq.drain()
    assert not r.exists(K + "wait", K + "1")
    assert r.zcard(K + "delayed") == 1
    await aq.drain(delayed=True)
    assert not r.exists(K + "delayed", K + "2")
    assert event_names(r)[-2:] == ["paused", "resumed"]


async def test_clean_and_retry_and_promote(aq: AsyncQueue, r: redis.Redis) -> None:
    now = now_ms()
    old = await arun_to(aq, "completed", now=now - 10_000)
    await arun_to(aq, "completed", now=now)
    assert await aq.clean(5_000) == [old]
    assert events(r)[-1] == {"event": "cleaned", "count": "1"}
    failed = [await arun_to(aq, "failed") for _ in range(3)]
    assert await aq.retry_jobs(count=2) == 3
    assert sorted(r.lrange(K + "wait", 0, -1)) == sorted(failed)
    for _ in range(3):
        await aq.add("d", delay=60_000)
    assert await aq.promote_jobs(count=2) == 3
    assert not r.exists(K + "delayed")


async def test_job_methods(aq: AsyncQueue, r: redis.Redis) -> None:
    job = await aq.add("a", keep_logs=2)
    await job.update_progress({"pct": 10})
    assert json.loads(r.hget(K + "1", "progress") or "") == {"pct": 10}
    assert events(r)[-1] == {"event": "progress", "jobId": "1", "data": '{"pct":10}'}
    with pytest.raises(InvalidOptionsError):
        await job.update_progress(True)
    for i in range(3):
        await job.log(f"l{i}")
    assert await job.get_logs() == (["l1", "l2"], 2)
    assert await aq.get_job_logs("1", asc=False) == (["l2", "l1"], 2)
    assert await job.get_state() == "waiting"
    with pytest.raises(JobNotInStateError):
        await job.retry()
    with pytest.raises(JobNotInStateError):
        await job.promote()
    await job.remove()
    assert not r.exists(K + "1", K + "1:logs")
    with pytest.raises(JobNotFoundError):
        await job.remove()


async def test_job_retry_and_promote(aq: AsyncQueue, r: redis.Redis) -> None:
    job_id = await arun_to(aq, "failed")
    job = await aq.get_job(job_id)
    assert job is not None
    assert job.failed_reason == "boom"
    await job.retry()
    assert r.lrange(K + "wait", 0, -1) == [job_id]
    assert "failedReason" not in r.hgetall(K + job_id)
    r.delete(K + "wait")
    d = await aq.add("d", delay=60_000)
    await d.promote()
    assert r.lrange(K + "wait", 0, -1) == [d.id]


async def test_remove_locked_and_obliterate(aq: AsyncQueue, r: redis.Redis,
                                            redis_url: str) -> None:
    async with AsyncQueue("other", redis_url) as other:
        await other.add("keep")
        await aq.add("a")
        await aq.add("b", delay=1000)
        await afetch(aq)
        with pytest.raises(JobLockedError):
            await aq.remove("1")
        with pytest.raises(JobLockedError):
            await aq.obliterate()
        await aq.obliterate(force=True)
        assert queue_keys(r) == set()
        assert r.exists("bull:other:1") == 1
        assert r.lrange("bull:other:wait", 0, -1) == ["1"]


async def test_get_workers(aq: AsyncQueue, redis_url: str) -> None:
    b64 = base64.b64encode(b"q").decode()
    named = aioredis.Redis.from_url(redis_url)
    other = aioredis.Redis.from_url(redis_url)
    try:
        await named.client_setname(f"bull:{b64}:w:a1")
        await other.client_setname("bull:elsewhere")
        assert [w["name"] for w in await aq.get_workers()] == [f"bull:{b64}:w:a1"]
    finally:
        await named.aclose()
        await other.aclose()


async def test_trim_events(aq: AsyncQueue, r: redis.Redis) -> None:
    await aq.add_bulk([{"name": "x", "data": i} for i in range(300)])
    trimmed = await aq.trim_events(5)
    assert trimmed == 600 - r.xlen(K + "events")
    assert r.xlen(K + "events") <= 105


async def test_concurrent_adds_get_distinct_ids(aq: AsyncQueue, r: redis.Redis) -> None:
    jobs = await asyncio.gather(*(aq.add("c", i) for i in range(50)))
    assert sorted(int(j.id) for j in jobs) == list(range(1, 51))
    assert r.llen(K + "wait") == 50


def test_construction_errors_and_repr(redis_url: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011
        AsyncQueue("a:b", redis_url)
    with pytest.raises(ValueError, match="redis://"):
        AsyncQueue("q", "http://localhost")
    queue = AsyncQueue("q", "redis://:secret@h.example:1234/0")
    assert "secret" not in repr(queue)
    assert "AsyncQueue" in repr(queue)
    asyncio.run(queue.close())


async def test_get_job_log_counts(aq: AsyncQueue) -> None:
    job = await aq.add("a")
    await job.log("one")
    await job.log("two")
    assert await aq.get_job_log_counts((job.id, "nope")) == {job.id: 2, "nope": 0}
    assert await aq.get_job_log_counts(iter(())) == {}
