"""Job edits through the command layer (update_data, change_priority, change_delay, clear_logs,
add_job_log) on a real Redis, sync and async: what is written, events, and that bad input and
a job in the wrong state write nothing."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator

import pytest
import redis

from queuecore import (
    AsyncQueue,
    DataError,
    InvalidOptionsError,
    JobNotFoundError,
    JobNotInStateError,
    Queue,
)
from queuecore.base.clock import now_ms
from queuecore.commands import job_edits
from tests.queue_helpers import events, fetch, queue_keys, run_to

K = "bull:q:"


@pytest.fixture
def q(redis_url: str) -> Iterator[Queue]:
    with Queue("q", redis_url, max_data_size=1000) as queue:
        yield queue


@pytest.fixture
async def aq(redis_url: str) -> AsyncIterator[AsyncQueue]:
    async with AsyncQueue("q", redis_url, max_data_size=1000) as queue:
        yield queue


def snapshot(r: redis.Redis) -> dict[str, object]:
    """Every key of the queue with its content (events stream included)."""
    out: dict[str, object] = {}
    for key in sorted(queue_keys(r)):
        kind = r.type(key)
        if kind == "hash":
            out[key] = r.hgetall(key)
        elif kind == "list":
            out[key] = r.lrange(key, 0, -1)
        elif kind == "zset":
            out[key] = r.zrange(key, 0, -1, withscores=True)
        elif kind == "stream":
            out[key] = r.xrange(key)
        else:
            out[key] = r.get(key) if kind == "string" else kind
    return out


# -- update_data ----------------------------------------------------------------------------------


def test_update_data_replaces_data_only(q: Queue, r: redis.Redis) -> None:
    job = q.add("j", {"a": 1})
    before = r.hgetall(K + job.id)
    n_events = len(events(r))
    q.run_op(job_edits.update_data(q.keys, job.id, {"a": 2, "error": "x"}, q.max_data_size))
    after = r.hgetall(K + job.id)
    assert json.loads(after["data"]) == {"a": 2, "error": "x"}
    assert {k: v for k, v in after.items() if k != "data"} == \
        {k: v for k, v in before.items() if k != "data"}
    assert len(events(r)) == n_events  # BullMQ writes no event for it
    stored = q.get_job(job.id)
    assert stored is not None and stored.data == {"a": 2, "error": "x"}


def test_update_data_refuses_bad_data_before_writing(q: Queue, r: redis.Redis) -> None:
    job = q.add("j", {"a": 1})
    before = snapshot(r)
    with pytest.raises(DataError, match="over the limit"):
        q.run_op(job_edits.update_data(q.keys, job.id, "x" * 2000, q.max_data_size))
    with pytest.raises(DataError):
        q.run_op(job_edits.update_data(q.keys, job.id, {"f": float("nan")}, q.max_data_size))
    with pytest.raises(DataError):
        q.run_op(job_edits.update_data(q.keys, job.id, {"s": {1, 2}}, q.max_data_size))
    assert snapshot(r) == before


def test_update_data_missing_job(q: Queue, r: redis.Redis) -> None:
    with pytest.raises(JobNotFoundError):
        q.run_op(job_edits.update_data(q.keys, "nope", {}, None))
    assert not r.exists(K + "nope")


async def test_update_data_async(aq: AsyncQueue, r: redis.Redis) -> None:
    job = await aq.add("j", {"a": 1})
    await aq.run_op(job_edits.update_data(aq.keys, job.id, [1, 2], aq.max_data_size))
    assert json.loads(r.hget(K + job.id, "data") or "") == [1, 2]
    with pytest.raises(DataError):
        await aq.run_op(job_edits.update_data(aq.keys, job.id, "y" * 5000, aq.max_data_size))
    assert json.loads(r.hget(K + job.id, "data") or "") == [1, 2]


# -- change_priority ------------------------------------------------------------------------------


def prio(q: Queue, job_id: str, priority: int, lifo: bool = False) -> None:
    q.run_op(job_edits.change_priority(q.keys, job_id, priority, lifo))


def test_change_priority_of_waiting_job_moves_it_to_prioritized(q: Queue,
                                                                 r: redis.Redis) -> None:
    a = q.add("a")
    b = q.add("b")
    prio(q, a.id, 3)
    assert r.lrange(K + "wait", 0, -1) == [b.id]
    score = r.zscore(K + "prioritized", a.id)
    assert score is not None and int(score) >> 32 == 3
    assert r.hget(K + a.id, "priority") == "3"
    assert r.zscore(K + "marker", "0") == 0
    # workers take `wait` first, then priority order
    assert fetch(q, "t1") == b.id
    assert fetch(q, "t2") == a.id


def test_change_priority_reorders_prioritized(q: Queue, r: redis.Redis) -> None:
    ids = [q.add(f"j{p}", priority=p).id for p in (5, 5, 7)]
    prio(q, ids[2], 1)
    prio(q, ids[0], 6)
    order = [fetch(q, f"t{i}") for i in range(3)]
    assert order == [ids[2], ids[1], ids[0]]


def test_change_priority_lifo_goes_ahead_of_same_priority(q: Queue, r: redis.Redis) -> None:
    first = q.add("first", priority=4)
    second = q.add("second", priority=4)
    other = q.add("other", priority=2)
    prio(q, second.id, 4, lifo=True)
    assert r.zscore(K + "prioritized", second.id) == 4 * 2**32
    assert [fetch(q, f"t{i}") for i in range(3)] == [other.id, second.id, first.id]


def test_change_priority_to_zero_goes_to_wait(q: Queue, r: redis.Redis) -> None:
    waiting = q.add("w")
    p1 = q.add("p1", priority=9)
    p2 = q.add("p2", priority=9)
    prio(q, p1.id, 0)  # back of the line
    prio(q, p2.id, 0, lifo=True)  # front of the line
    assert r.zcard(K + "prioritized") == 0
    assert r.hget(K + p1.id, "priority") == "0"
    assert [fetch(q, f"t{i}") for i in range(3)] == [p2.id, waiting.id, p1.id]


def test_change_priority_of_delayed_or_finished_job_keeps_its_place(q: Queue,
                                                                  r: redis.Redis) -> None:
    delayed = q.add("d", delay=60_000)
    prio(q, delayed.id, 2)
    assert r.zscore(K + "delayed", delayed.id) is not None
    assert r.zcard(K + "prioritized") == 0
    assert r.hget(K + delayed.id, "priority") == "2"
    q.promote_jobs()  # it queues with the new priority
    score = r.zscore(K + "prioritized", delayed.id)
    assert score is not None and int(score) >> 32 == 2
    done = run_to(q, "completed")  # a plain job: fetched from `wait` before `prioritized`
    prio(q, done, 1)
    assert r.zscore(K + "completed", done) is not None
    assert r.hget(K + done, "priority") == "1"


def test_change_priority_while_paused_writes_no_marker(q: Queue, r: redis.Redis) -> None:
    job = q.add("j")
    q.pause()
    assert not r.exists(K + "marker")
    prio(q, job.id, 2)
    assert not r.exists(K + "marker")
    assert r.zscore(K + "prioritized", job.id) is not None


def test_change_priority_bad_input_writes_nothing(q: Queue, r: redis.Redis) -> None:
    job = q.add("j", priority=3)
    before = snapshot(r)
    for bad in (-1, 2**21, 1.5, "2", True, None):
        with pytest.raises(InvalidOptionsError, match="priority"):
            prio(q, job.id, bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidOptionsError, match="lifo"):
        prio(q, job.id, 1, "yes")  # type: ignore[arg-type]
    with pytest.raises(JobNotFoundError):
        prio(q, "nope", 1)
    assert snapshot(r) == before
    prio(q, job.id, 2**21 - 1)  # the highest number is allowed
    assert r.hget(K + job.id, "priority") == str(2**21 - 1)


async def test_change_priority_async(aq: AsyncQueue, r: redis.Redis) -> None:
    job = await aq.add("j")
    await aq.run_op(job_edits.change_priority(aq.keys, job.id, 8))
    assert r.zscore(K + "prioritized", job.id) is not None
    with pytest.raises(JobNotFoundError):
        await aq.run_op(job_edits.change_priority(aq.keys, "nope", 8))


# -- change_delay ---------------------------------------------------------------------------------


def test_change_delay_reschedules_from_now(q: Queue, r: redis.Redis) -> None:
    job = q.add("j", delay=60_000)
    ts = r.hget(K + job.id, "timestamp")
    now = now_ms()
    due = q.run_op(job_edits.change_delay(q.keys, job.id, 5_000, now))
    assert due == now + 5_000
    score = r.zscore(K + "delayed", job.id)
    assert score is not None and int(score) // 4096 == due
    h = r.hgetall(K + job.id)
    assert (h["delay"], h["timestamp"]) == ("5000", ts)
    assert events(r)[-1] == {"event": "delayed", "jobId": job.id, "delay": str(due)}
    assert r.zscore(K + "marker", "1") == due  # the earliest delayed job


def test_change_delay_later_moves_the_marker_to_the_new_earliest(q: Queue,
                                                                 r: redis.Redis) -> None:
    early = q.add("early", delay=1_000)
    late = q.add("late", delay=50_000)
    now = now_ms()
    q.run_op(job_edits.change_delay(q.keys, early.id, 100_000, now))
    late_score = r.zscore(K + "delayed", late.id)
    assert late_score is not None
    assert r.zscore(K + "marker", "1") == int(late_score) // 4096


def test_change_delay_while_paused_writes_no_marker_until_resume(q: Queue,
                                                                  r: redis.Redis) -> None:
    job = q.add("j", delay=60_000)
    q.pause()
    due = q.run_op(job_edits.change_delay(q.keys, job.id, 5_000, now_ms()))
    assert not r.exists(K + "marker")
    q.resume()
    assert r.zscore(K + "marker", "1") == due


def test_change_delay_zero_makes_it_due_now(q: Queue, r: redis.Redis) -> None:
    job = q.add("j", delay=60_000)
    q.run_op(job_edits.change_delay(q.keys, job.id, 0, now_ms()))
    assert fetch(q) == job.id  # promoted by the fetch


def test_change_delay_wrong_state_and_bad_input_write_nothing(q: Queue,
                                                              r: redis.Redis) -> None:
    waiting = q.add("w")
    delayed = q.add("d", delay=60_000)
    before = snapshot(r)
    with pytest.raises(JobNotInStateError) as info:
        q.run_op(job_edits.change_delay(q.keys, waiting.id, 1_000, now_ms()))
    assert info.value.job_id == waiting.id
    with pytest.raises(JobNotFoundError):
        q.run_op(job_edits.change_delay(q.keys, "nope", 1_000, now_ms()))
    for bad in (-1, 1.5, "10", None, False):
        with pytest.raises(InvalidOptionsError, match="delay"):
            q.run_op(job_edits.change_delay(q.keys, delayed.id, bad, now_ms()))  # type: ignore[arg-type]
    assert snapshot(r) == before


async def test_change_delay_async(aq: AsyncQueue, r: redis.Redis) -> None:
    job = await aq.add("j", delay=60_000)
    now = now_ms()
    assert await aq.run_op(job_edits.change_delay(aq.keys, job.id, 2_000, now)) == now + 2_000
    other = await aq.add("w")
    with pytest.raises(JobNotInStateError):
        await aq.run_op(job_edits.change_delay(aq.keys, other.id, 2_000, now))


# -- logs -----------------------------------------------------------------------------------------


def test_add_job_log_and_clear_logs(q: Queue, r: redis.Redis) -> None:
    job = q.add("j")
    for i in range(5):
        assert q.run_op(job_edits.add_job_log(q.keys, job.id, f"l{i}", None, None)) == i + 1
    assert q.run_op(job_edits.add_job_log(q.keys, job.id, "l5", 3, None)) == 3
    assert r.lrange(K + job.id + ":logs", 0, -1) == ["l3", "l4", "l5"]
    assert q.run_op(job_edits.clear_logs(q.keys, job.id, 2)) == 2
    assert r.lrange(K + job.id + ":logs", 0, -1) == ["l4", "l5"]
    assert q.run_op(job_edits.clear_logs(q.keys, job.id)) == 0
    assert not r.exists(K + job.id + ":logs")
    assert r.exists(K + job.id)


def test_add_job_log_refuses_before_writing(q: Queue, r: redis.Redis) -> None:
    job = q.add("j")
    with pytest.raises(JobNotFoundError):
        q.run_op(job_edits.add_job_log(q.keys, "nope", "x", None, None))
    assert not r.exists(K + "nope:logs")
    with pytest.raises(DataError):
        q.run_op(job_edits.add_job_log(q.keys, job.id, "é" * 600, None, 1000))
    with pytest.raises(InvalidOptionsError):
        q.run_op(job_edits.add_job_log(q.keys, job.id, "x", -2, None))
    with pytest.raises(InvalidOptionsError):
        q.run_op(job_edits.clear_logs(q.keys, job.id, -1))
    assert not r.exists(K + job.id + ":logs")


async def test_logs_async(aq: AsyncQueue, r: redis.Redis) -> None:
    job = await aq.add("j")
    assert await aq.run_op(job_edits.add_job_log(aq.keys, job.id, "a", None, None)) == 1
    assert await aq.run_op(job_edits.clear_logs(aq.keys, job.id)) == 0
    assert not r.exists(K + job.id + ":logs")
