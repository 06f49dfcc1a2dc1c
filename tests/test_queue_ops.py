"""Queue reading and changing operations against a real Redis, checked on the stored state."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from queuecore import (
    InvalidOptionsError,
    JobLockedError,
    JobNotFoundError,
    Queue,
    ScriptError,
)
from queuecore.base.clock import now_ms
from queuecore.commands import worker_ops
from tests.queue_helpers import event_names, events, fetch, finish, queue_keys, run_to

K = "bull:q:"


@pytest.fixture
def q(redis_url: str) -> Iterator[Queue]:
    with Queue("q", redis_url) as queue:
        yield queue


def ids(jobs: list[Any]) -> list[str]:
    return [j.id for j in jobs]


# -- get_job --------------------------------------------------------------------------------------


def test_get_job_unknown_is_none(q: Queue) -> None:
    assert q.get_job("nope") is None
    assert q.get_job("1") is None


def test_get_job_decodes_every_field(q: Queue, r: redis.Redis) -> None:
    r.hset(K + "7", mapping={
        "name": "n", "data": '{"a":1}', "opts": '{"attempts":3}', "timestamp": "100",
        "delay": "0", "priority": "2", "progress": '{"pct":5}', "returnvalue": '"done"',
        "failedReason": "bad", "stacktrace": '["e1","e2"]', "atm": "2", "ats": "3", "stc": "1",
        "processedOn": "200", "finishedOn": "300", "pb": "w1", "parentKey": "bull:p:1",
        "parent": '{"id":"1","queueKey":"bull:p"}', "rjk": "sched", "deid": "d1",
        "defa": "stalled"})
    job = q.get_job("7")
    assert job is not None
    assert (job.id, job.name, job.data, job.opts) == ("7", "n", {"a": 1}, {"attempts": 3})
    assert (job.timestamp, job.delay, job.priority) == (100, 0, 2)
    assert job.progress == {"pct": 5}
    assert job.return_value == "done"
    assert job.failed_reason == "bad"
    assert job.stacktrace == ["e1", "e2"]
    assert (job.attempts_made, job.attempts_started, job.stalled_counter) == (2, 3, 1)
    assert (job.processed_on, job.finished_on, job.processed_by) == (200, 300, "w1")
    assert job.parent_key == "bull:p:1"
    assert job.parent == {"id": "1", "queueKey": "bull:p"}
    assert (job.scheduler_id, job.deduplication_id, job.deferred_failure) == (
        "sched", "d1", "stalled")
    assert job.max_attempts == 3


def test_legacy_attempts_made_field(q: Queue, r: redis.Redis) -> None:
    r.hset(K + "1", mapping={"name": "old", "data": "{}", "opts": "{}", "timestamp": "1",
                             "attemptsMade": "4"})
    job = q.get_job("1")
    assert job is not None
    assert job.attempts_made == 4
    assert job.progress == 0
    assert job.processed_on is None


def test_job_hash_with_garbage_json_does_not_crash(q: Queue, r: redis.Redis) -> None:
    r.hset(K + "1", mapping={"name": "x", "data": "not json", "opts": "[1]",
                             "stacktrace": "oops", "timestamp": "abc"})
    job = q.get_job("1")
    assert job is not None
    assert job.data == "not json"
    assert job.opts == {}
    assert job.stacktrace == ["oops"]
    assert job.timestamp == 0


# -- get_jobs -------------------------------------------------------------------------------------


def test_get_jobs_wait_newest_first_and_asc(q: Queue) -> None:
    for i in range(5):
        q.add(f"j{i}")
    assert ids(q.get_jobs("waiting")) == ["5", "4", "3", "2", "1"]
    assert ids(q.get_jobs("waiting", asc=True)) == ["1", "2", "3", "4", "5"]


def test_get_jobs_list_paging(q: Queue) -> None:
    for i in range(5):
        q.add(f"j{i}")
    assert ids(q.get_jobs("waiting", 0, 1)) == ["5", "4"]
    assert ids(q.get_jobs("waiting", 2, 3)) == ["3", "2"]
    assert ids(q.get_jobs("waiting", 4, 10)) == ["1"]
    assert ids(q.get_jobs("waiting", 5, 10)) == []
    assert ids(q.get_jobs("waiting", 0, 1, asc=True)) == ["1", "2"]
    assert ids(q.get_jobs("waiting", 2, 3, asc=True)) == ["3", "4"]
    assert ids(q.get_jobs("waiting", 3, -1, asc=True)) == ["4", "5"]
    assert ids(q.get_jobs("waiting", 4, 10, asc=True)) == ["5"]
    assert ids(q.get_jobs("waiting", 6, 10, asc=True)) == []
    assert ids(q.get_jobs("waiting", 0, 0)) == ["5"]


def test_get_jobs_zset_ordering_and_paging(q: Queue) -> None:
    ts = now_ms()
    for i in range(4):
        q.add(f"d{i}", delay=1000 * (i + 1), timestamp=ts)
    assert ids(q.get_jobs("delayed")) == ["4", "3", "2", "1"]
    assert ids(q.get_jobs("delayed", asc=True)) == ["1", "2", "3", "4"]
    assert ids(q.get_jobs("delayed", 1, 2)) == ["3", "2"]
    assert ids(q.get_jobs("delayed", 1, 2, asc=True)) == ["2", "3"]
    assert ids(q.get_jobs("delayed", 9, 12)) == []


def test_get_jobs_finished_by_finished_on(q: Queue) -> None:
    base = now_ms()
    run_to(q, "completed", now=base + 30)
    run_to(q, "completed", now=base + 10)
    run_to(q, "completed", now=base + 20)
    assert ids(q.get_jobs("completed")) == ["1", "3", "2"]
    assert ids(q.get_jobs("completed", asc=True)) == ["2", "3", "1"]


def test_get_jobs_several_states_concatenated(q: Queue) -> None:
    q.add("w")
    q.add("p", priority=1)
    q.add("d", delay=10_000)
    assert ids(q.get_jobs(["waiting", "prioritized", "delayed"])) == ["1", "2", "3"]
    assert sorted(ids(q.get_jobs())) == ["1", "2", "3"]


def test_get_jobs_skips_legacy_markers_and_missing_hashes(q: Queue, r: redis.Redis) -> None:
    q.add("a")
    r.lpush(K + "wait", "0:123")
    q.add("b")
    r.lpush(K + "wait", "ghost")  # an id whose hash is gone
    r.rpush(K + "active", "0:5")
    assert ids(q.get_jobs("waiting")) == ["2", "1"]
    assert ids(q.get_jobs("waiting", asc=True)) == ["1", "2"]
    assert q.get_jobs("active") == []


@pytest.mark.parametrize(("start", "end"), [(-1, 5), (3, 1), (0, -2)])
def test_get_jobs_bad_range(q: Queue, start: int, end: int) -> None:
    with pytest.raises(InvalidOptionsError):
        q.get_jobs("waiting", start, end)


def test_get_jobs_unknown_state(q: Queue) -> None:
    with pytest.raises(InvalidOptionsError, match="unknown state"):
        q.get_jobs("wait")
    with pytest.raises(InvalidOptionsError):
        q.get_job_counts("bogus")


# -- counts ---------------------------------------------------------------------------------------


def test_get_job_counts_all_states_in_one_round_trip(
        q: Queue, r: redis.Redis, monkeypatch: pytest.MonkeyPatch) -> None:
    q.add("w1")
    q.add("w2")
    q.add("p", priority=3)
    q.add("d", delay=60_000)
    r.zadd(K + "completed", {"c1": 1, "c2": 2})
    r.zadd(K + "failed", {"f1": 1})
    r.zadd(K + "waiting-children", {"wc": 1})
    r.rpush(K + "paused", "old")
    r.rpush(K + "active", "a1")
    calls: list[int] = []
    real_run = q._runner.run

    def counting_run(op: Any) -> Any:
        calls.append(len(op.calls))
        return real_run(op)

    monkeypatch.setattr(q._runner, "run", counting_run)
    counts = q.get_job_counts()
    assert calls == [8]
    assert counts == {"waiting": 2, "paused": 1, "active": 1, "prioritized": 1, "delayed": 1,
                      "completed": 2, "failed": 1, "waiting-children": 1}
    calls.clear()
    assert q.get_job_counts("waiting", "failed") == {"waiting": 2, "failed": 1}
    assert calls == [2]
    assert q.count() == 2 + 1 + 1 + 1 + 1  # waiting, paused, delayed, prioritized, children


def test_counts_of_an_empty_queue(q: Queue) -> None:
    assert set(q.get_job_counts().values()) == {0}
    assert q.count() == 0


# -- get_job_state --------------------------------------------------------------------------------


def test_get_job_state_for_every_state(q: Queue, r: redis.Redis) -> None:
    assert q.add("w").id == "1"
    assert q.get_job_state("1") == "waiting"
    fetch(q)
    assert q.get_job_state("1") == "active"
    q.add("p", priority=2)
    assert q.get_job_state("2") == "prioritized"
    q.add("d", delay=60_000)
    assert q.get_job_state("3") == "delayed"
    finish(q, "1", completed=True, value=1)
    assert q.get_job_state("1") == "completed"
    assert fetch(q) == "2"
    finish(q, "2", completed=False, value="boom")
    assert q.get_job_state("2") == "failed"
    r.hset(K + "parent", mapping={"name": "p", "data": "{}", "opts": "{}", "timestamp": "1"})
    r.zadd(K + "waiting-children", {"parent": 1})
    assert q.get_job_state("parent") == "waiting-children"
    assert q.get_job_state("missing") == "unknown"
    r.hset(K + "orphan", "name", "x")  # a hash in no structure
    assert q.get_job_state("orphan") == "unknown"
    r.hset(K + "legacy", "name", "x")
    r.lpush(K + "paused", "legacy")
    assert q.get_job_state("legacy") == "waiting"
    job = q.get_job("3")
    assert job is not None
    assert job.get_state() == "delayed"


def test_active_via_raw_redis(q: Queue, r: redis.Redis) -> None:
    q.add("a")
    r.lmove(K + "wait", K + "active", "RIGHT", "LEFT")
    assert q.get_job_state("1") == "active"
    assert ids(q.get_jobs("active")) == ["1"]


# -- logs -----------------------------------------------------------------------------------------


def test_get_job_logs_paging(q: Queue, r: redis.Redis) -> None:
    job = q.add("a")
    for i in range(5):
        assert job.log(f"line {i}") == i + 1
    assert r.type(K + "1:logs") == "list"
    assert q.get_job_logs("1") == ([f"line {i}" for i in range(5)], 5)
    assert q.get_job_logs("1", 1, 2) == (["line 1", "line 2"], 5)
    assert q.get_job_logs("1", 0, 1, asc=False) == (["line 4", "line 3"], 5)
    assert q.get_job_logs("1", 3, -1, asc=False) == (["line 1", "line 0"], 5)
    assert q.get_job_logs("1", 10, 20) == ([], 5)
    assert q.get_job_logs("unknown") == ([], 0)
    assert job.get_logs(4) == (["line 4"], 5)
    with pytest.raises(InvalidOptionsError):
        q.get_job_logs("1", 2, 1)


def test_get_job_log_counts_for_many_jobs_at_once(q: Queue) -> None:
    a, b = q.add("a"), q.add("b")
    for i in range(3):
        a.log(f"a{i}")
    b.log("b0")
    assert q.get_job_log_counts([a.id, b.id, "unknown", 7]) == {a.id: 3, b.id: 1,
                                                                 "unknown": 0, "7": 0}
    assert q.get_job_log_counts([]) == {}


def test_flow_parents_and_due_times_for_many_jobs_at_once(q: Queue, redis_url: str) -> None:
    from queuecore import FlowProducer

    plain = q.add("plain")
    later = q.add("later", delay=60_000)
    with FlowProducer(redis_url) as flows:
        node = flows.add({"name": "parent", "queue_name": "q",
                          "children": [{"name": "child", "queue_name": "q"}]})
    parent, child = node.job.id, node.children[0].job.id
    assert q.get_flow_parents([plain.id, parent, child, "unknown"]) == {parent}
    assert q.get_flow_parents([]) == set()
    due = q.get_due_times([later.id, plain.id])
    assert due[plain.id] is None
    assert due[later.id] == later.timestamp + 60_000
    assert q.get_due_times([]) == {}


# -- pause / resume -------------------------------------------------------------------------------


def test_pause_and_resume(q: Queue, r: redis.Redis) -> None:
    q.add("a")
    q.add("d", delay=60_000)
    assert r.zcard(K + "marker") == 2
    assert not q.is_paused()
    q.pause()
    assert q.is_paused()
    assert r.hget(K + "meta", "paused") == "1"
    assert not r.exists(K + "marker")
    assert r.lrange(K + "wait", 0, -1) == ["1"]  # BullMQ 6: jobs stay in wait
    assert not r.exists(K + "paused")
    q.pause()  # idempotent: no second event
    q.resume()
    assert not q.is_paused()
    assert r.hget(K + "meta", "paused") is None
    due = int(r.hget(K + "2", "timestamp") or 0) + 60_000
    assert dict(r.zrange(K + "marker", 0, -1, withscores=True)) == {"0": 0, "1": due}
    q.resume()  # idempotent too
    assert event_names(r) == ["added", "waiting", "added", "delayed", "paused", "resumed"]
    assert events(r)[-1] == {"event": "resumed"}


def test_resume_of_an_empty_queue_writes_no_marker(q: Queue, r: redis.Redis) -> None:
    q.pause()
    q.resume()
    assert not r.exists(K + "marker")


def test_resume_moves_a_legacy_paused_list_back_in_fifo_order(q: Queue, r: redis.Redis) -> None:
    for i in range(1, 2501):  # more than one batch of 1000
        r.hset(K + str(i), mapping={"name": "old", "data": "{}", "opts": "{}", "timestamp": i})
        r.lpush(K + "paused", str(i))  # BullMQ 5: LPUSH to paused while paused
    r.hset(K + "meta", "paused", 1)
    q.resume()
    assert not r.exists(K + "paused")
    assert r.llen(K + "wait") == 2500
    order = []  # the order workers would take them (from the right)
    for _ in range(5):
        order.append(fetch(q))
    assert order == ["1", "2", "3", "4", "5"]
    assert r.zscore(K + "marker", "0") == 0
    assert event_names(r)[0] == "resumed"


# -- drain ----------------------------------------------------------------------------------------


def test_drain_without_delayed(q: Queue, r: redis.Redis) -> None:
    q.add("a")
    q.add("b")
    assert fetch(q) == "1"
    q.add("c")
    q.add("p", priority=1)
    q.add("d", delay=60_000)
    r.hset(K + "legacy", "name", "old")
    r.rpush(K + "paused", "legacy")
    before_events = r.xlen(K + "events")
    q.drain()
    assert r.lrange(K + "active", 0, -1) == ["1"]
    assert r.exists(K + "1") == 1
    assert not r.exists(K + "wait", K + "paused", K + "prioritized", K + "pc")
    assert not r.exists(K + "2", K + "3", K + "4", K + "legacy")
    assert r.zrange(K + "delayed", 0, -1) == ["5"]
    assert r.exists(K + "5") == 1
    assert r.xlen(K + "events") == before_events  # drain writes no event
    assert q.get_job_counts("waiting", "prioritized", "delayed", "active") == {
        "waiting": 0, "prioritized": 0, "delayed": 1, "active": 1}


def test_drain_with_delayed(q: Queue, r: redis.Redis) -> None:
    q.add("a")
    q.add("d", delay=60_000)
    q.get_job("1").log("x")  # type: ignore[union-attr]
    q.drain(delayed=True)
    assert not r.exists(K + "delayed", K + "wait", K + "1", K + "2", K + "1:logs")
    assert r.zscore(K + "marker", "1") is None


def test_drain_in_several_batches(q: Queue, r: redis.Redis) -> None:
    q.add_bulk([{"name": "x", "data": i} for i in range(6000)])
    q.drain()
    assert not r.exists(K + "wait")
    assert queue_keys(r) <= {K + "id", K + "events", K + "marker", K + "meta"}


# -- clean ----------------------------------------------------------------------------------------


def test_clean_completed_by_finished_on(q: Queue, r: redis.Redis) -> None:
    now = now_ms()
    run_to(q, "completed", now=now - 10_000)
    run_to(q, "completed", now=now - 5_000)
    run_to(q, "completed", now=now)
    q.get_job("1").log("l")  # type: ignore[union-attr]
    removed = q.clean(4_000, state="completed")
    assert sorted(removed) == ["1", "2"]
    assert r.zrange(K + "completed", 0, -1) == ["3"]
    assert not r.exists(K + "1", K + "2", K + "1:logs")
    assert events(r)[-1] == {"event": "cleaned", "count": "2"}


def test_clean_failed_respects_limit_oldest_first(q: Queue, r: redis.Redis) -> None:
    now = now_ms()
    for i in range(4):
        run_to(q, "failed", now=now - 10_000 + i)
    removed = q.clean(0, limit=3, state="failed")
    assert removed == ["1", "2", "3"]
    assert r.zrange(K + "failed", 0, -1) == ["4"]
    assert events(r)[-1] == {"event": "cleaned", "count": "3"}


def test_clean_waiting_by_timestamp(q: Queue, r: redis.Redis) -> None:
    now = now_ms()
    q.add("old1", timestamp=now - 60_000)
    q.add("new", timestamp=now)
    q.add("old2", timestamp=now - 50_000)
    q.add("old3", timestamp=now - 40_000)
    removed = q.clean(30_000, limit=2, state="waiting")
    assert removed == ["1", "3"]  # oldest in the line first
    assert r.lrange(K + "wait", 0, -1) == ["4", "2"]
    assert not r.exists(K + "1", K + "3")
    assert q.clean(30_000, state="waiting") == ["4"]
    assert r.lrange(K + "wait", 0, -1) == ["2"]
    assert [e.get("count") for e in events(r) if e["event"] == "cleaned"] == ["2", "1"]


def test_clean_delayed_by_timestamp(q: Queue, r: redis.Redis) -> None:
    now = now_ms()
    q.add("old", delay=1000, timestamp=now - 60_000)
    q.add("new", delay=1000, timestamp=now)
    assert q.clean(30_000, state="delayed") == ["1"]
    assert r.zrange(K + "delayed", 0, -1) == ["2"]


def test_clean_active_skips_locked_jobs(q: Queue, r: redis.Redis) -> None:
    q.add("a", timestamp=1)
    q.add("b", timestamp=2)
    fetch(q, token="t1")
    fetch(q, token="t2")
    r.delete(K + "2:lock")
    assert q.clean(0, state="active") == ["2"]
    assert r.lrange(K + "active", 0, -1) == ["1"]


def test_clean_nothing_still_emits_cleaned(q: Queue, r: redis.Redis) -> None:
    assert q.clean(0, state="completed") == []
    assert events(r) == [{"event": "cleaned", "count": "0"}]


def test_clean_bad_arguments(q: Queue) -> None:
    with pytest.raises(InvalidOptionsError):
        q.clean(0, state="wait")
    with pytest.raises(InvalidOptionsError):
        q.clean(0, limit=-1)


# -- obliterate -----------------------------------------------------------------------------------


def _populate(queue: Queue) -> None:
    run_to(queue, "completed")
    run_to(queue, "failed")
    queue.add("w").log("line")
    queue.add("p", priority=2)
    queue.add("d", delay=60_000)
    queue.add("c", job_id="custom")
    queue.get_job("1").update_progress(5)  # type: ignore[union-attr]


def test_obliterate_removes_every_key_and_leaves_other_queues(
        q: Queue, redis_url: str, r: redis.Redis) -> None:
    with Queue("q2", redis_url) as other, Queue("qq", redis_url) as third:
        _populate(q)
        _populate(other)
        third.add("x")
        other_before = {k: r.dump(k) for k in queue_keys(r, "q2")}
        third_before = {k: r.dump(k) for k in queue_keys(r, "qq")}
        r.rpush(K + "paused", "legacy")
        r.hset(K + "legacy", "name", "l")
        r.zadd(K + "waiting-children", {"wc": 1})
        r.hset(K + "wc", "name", "wc")
        r.sadd(K + "wc:dependencies", "bull:q:x")
        q.obliterate()
        assert queue_keys(r, "q") == set()
        assert {k: r.dump(k) for k in queue_keys(r, "q2")} == other_before
        assert {k: r.dump(k) for k in queue_keys(r, "qq")} == third_before


def test_obliterate_refuses_active_jobs_unless_forced(q: Queue, r: redis.Redis) -> None:
    q.add("a")
    q.add("b")
    fetch(q)
    with pytest.raises(JobLockedError):
        q.obliterate()
    assert r.exists(K + "1", K + "2") == 2
    assert r.lrange(K + "active", 0, -1) == ["1"]
    assert q.is_paused()  # obliterate pauses first, like BullMQ
    q.obliterate(force=True)
    assert queue_keys(r) == set()


def test_obliterate_in_batches(q: Queue, r: redis.Redis) -> None:
    q.add_bulk([{"name": "x", "data": i} for i in range(2500)])
    q.add_bulk([{"name": "x", "data": i, "opts": {"delay": 60_000}} for i in range(700)])
    q.obliterate()
    assert queue_keys(r) == set()


def test_obliterate_empty_queue(q: Queue, r: redis.Redis) -> None:
    q.obliterate()
    assert queue_keys(r) == set()


# -- retry_jobs / promote_jobs --------------------------------------------------------------------


def test_retry_jobs_in_batches(q: Queue, r: redis.Redis) -> None:
    for _ in range(7):
        run_to(q, "failed")
    run_to(q, "completed")
    assert q.retry_jobs(count=3) == 7
    assert not r.exists(K + "failed")
    assert r.zrange(K + "completed", 0, -1) == ["8"]
    assert sorted(r.lrange(K + "wait", 0, -1), key=int) == [str(i) for i in range(1, 8)]
    h = r.hgetall(K + "1")
    assert "failedReason" not in h
    assert "finishedOn" not in h
    assert h["atm"] == "1"
    waiting = [e for e in events(r) if e["event"] == "waiting" and e.get("prev") == "failed"]
    assert len(waiting) == 7
    assert r.zscore(K + "marker", "0") == 0
    assert q.retry_jobs("completed") == 1
    assert r.hget(K + "8", "returnvalue") is None


def test_retry_jobs_respects_timestamp(q: Queue, r: redis.Redis) -> None:
    now = now_ms()
    run_to(q, "failed", now=now - 1000)
    run_to(q, "failed", now=now + 1000)
    assert q.retry_jobs(timestamp=now) == 1
    assert r.zrange(K + "failed", 0, -1) == ["2"]


def test_retry_jobs_refuses_other_states(q: Queue) -> None:
    with pytest.raises(InvalidOptionsError):
        q.retry_jobs("waiting")


def test_promote_jobs_in_batches(q: Queue, r: redis.Redis) -> None:
    for i in range(5):
        q.add("d", delay=60_000 + i)
    q.add("dp", delay=60_000, priority=4)
    assert q.promote_jobs(count=2) == 6
    assert not r.exists(K + "delayed")
    assert r.lrange(K + "wait", 0, -1) == ["5", "4", "3", "2", "1"]
    assert r.zrange(K + "prioritized", 0, -1) == ["6"]
    assert all(r.hget(K + str(i), "delay") == "0" for i in range(1, 7))
    assert r.zrange(K + "marker", 0, -1) == ["0"]
    promoted = [e for e in events(r) if e["event"] == "waiting"]
    assert [e["prev"] for e in promoted] == ["delayed"] * 6
    assert q.promote_jobs() == 0


# -- remove ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("kind", "prev"), [
    ("wait", "wait"), ("prioritized", "prioritized"), ("delayed", "delayed"),
    ("completed", "completed"), ("failed", "failed")])
def test_remove_from_each_state(q: Queue, r: redis.Redis, kind: str, prev: str) -> None:
    if kind == "wait":
        job_id = q.add("a").id
    elif kind == "prioritized":
        job_id = q.add("a", priority=3).id
    elif kind == "delayed":
        job_id = q.add("a", delay=60_000).id
    else:
        job_id = run_to(q, kind)
    q.get_job(job_id).log("l")  # type: ignore[union-attr]
    q.remove(job_id)
    assert not r.exists(K + job_id, K + job_id + ":logs")
    assert q.get_job_state(job_id) == "unknown"
    assert sum(q.get_job_counts().values()) == 0
    assert events(r)[-1] == {"event": "removed", "jobId": job_id, "prev": prev}


def test_remove_refused_while_locked(q: Queue, r: redis.Redis) -> None:
    q.add("a")
    fetch(q)
    with pytest.raises(JobLockedError) as info:
        q.remove("1")
    assert isinstance(info.value, ScriptError)
    assert info.value.job_id == "1"
    assert r.lrange(K + "active", 0, -1) == ["1"]
    assert r.exists(K + "1", K + "1:lock") == 2
    r.delete(K + "1:lock")
    r.sadd(K + "stalled", "1")
    q.remove("1")
    assert not r.exists(K + "active", K + "1", K + "stalled")
    assert events(r)[-1] == {"event": "removed", "jobId": "1", "prev": "active"}


def test_remove_unknown_id(q: Queue, r: redis.Redis) -> None:
    with pytest.raises(JobNotFoundError):
        q.remove("nope")
    assert r.keys("*") == []


def test_remove_releases_owned_dedup_key(q: Queue, r: redis.Redis) -> None:
    q.add("a")
    r.hset(K + "1", "deid", "d1")
    r.set(K + "de:d1", "1")
    r.set(K + "de:d2", "other")
    r.hset(K + "2", mapping={"name": "b", "deid": "d2"})
    q.remove("1")
    q.remove("2")
    assert not r.exists(K + "de:d1")
    assert r.get(K + "de:d2") == "other"  # not owned by job 2


# -- events trimming ------------------------------------------------------------------------------


def test_trim_events(q: Queue, r: redis.Redis) -> None:
    q.add_bulk([{"name": "x", "data": i} for i in range(500)])
    assert r.xlen(K + "events") == 1000
    trimmed = q.trim_events(10)
    left = r.xlen(K + "events")
    assert trimmed == 1000 - left
    assert 10 <= left <= 10 + 100  # MAXLEN ~: whole stream nodes (100 entries) are dropped
    assert q.trim_events(0) >= 0


# -- workers --------------------------------------------------------------------------------------


def test_get_workers_lists_clients_named_for_the_queue(
        q: Queue, redis_url: str, r: redis.Redis) -> None:
    b64 = base64.b64encode(b"q").decode()
    clients = []
    try:
        for name in (f"bull:{b64}", f"bull:{b64}:w:worker-1", "bull:q", "bull:q:w:py",
                     "bull:other", f"bull:{b64}x", f"bull:{b64}:qe", "unrelated"):
            c = redis.Redis.from_url(redis_url, decode_responses=True)
            c.client_setname(name)
            clients.append(c)
        names = sorted(w["name"] for w in q.get_workers())
        assert names == sorted([f"bull:{b64}", f"bull:{b64}:w:worker-1", "bull:q",
                                "bull:q:w:py"])
        for w in q.get_workers():
            assert "addr" in w
    finally:
        for c in clients:
            c.close()


def test_get_workers_none(q: Queue) -> None:
    assert q.get_workers() == []


def test_redis_info(q: Queue) -> None:
    info = q.redis_info()
    assert "redis_version" in info
    assert info["maxmemory_policy"]


# -- construction ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["a:b", "a*", "a[b]", "a\nb", "", "x" * 300, "a?", "a\\b",
                                  "a\rb", "a\x00"])
def test_hostile_queue_names(redis_url: str, name: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011
        Queue(name, redis_url)


def test_non_string_queue_name(redis_url: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011
        Queue(5, redis_url)  # type: ignore[arg-type]


@pytest.mark.parametrize("url", ["http://localhost:6379", "ftp://x", "localhost:6379"])
def test_bad_connection_scheme(url: str) -> None:
    with pytest.raises(ValueError, match="redis://"):
        Queue("q", url)


def test_bad_prefix(redis_url: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011
        Queue("q", redis_url, prefix="bu*ll")
    with pytest.raises(ValueError):  # noqa: PT011
        Queue("q", redis_url, prefix="")


def test_repr_never_shows_the_password() -> None:
    queue = Queue("q", "redis://:secret@db.example:6380/2")
    try:
        text = repr(queue)
        assert "secret" not in text
        assert "db.example:6380/2" in text
        assert "q" in text
    finally:
        queue.close()
    queue = Queue("q", "redis://user:hunter2@db.example/0")
    try:
        assert "hunter2" not in repr(queue)
        assert "user" not in repr(queue)
    finally:
        queue.close()


def test_job_repr_has_no_data(q: Queue) -> None:
    job = q.add("n", {"password": "pw"})
    assert "pw" not in repr(job)


def test_queue_accepts_a_redis_client(redis_url: str, r: redis.Redis) -> None:
    raw = redis.Redis.from_url(redis_url)  # bytes client: queuecore builds its own
    try:
        with Queue("q", raw) as queue:
            assert queue.add("a", {"x": "é"}).id == "1"
            job = queue.get_job("1")
            assert job is not None
            assert job.data == {"x": "é"}
    finally:
        raw.close()


def test_worker_ops_fetch_helper_sets_lock(q: Queue, r: redis.Redis) -> None:
    # Sanity of the helper used above: the fetched job holds a lock and is in active.
    q.add("a")
    assert fetch(q, token="abc") == "1"
    assert r.get(K + "1:lock") == "abc"
    assert r.hget(K + "1", "ats") == "1"
    reply = q.run_op(worker_ops.move_to_active(q.keys, now_ms(), "t", 1000, 0, 0, ""))
    assert reply[0] == 0
    assert json.loads(r.hget(K + "1", "data") or "") is None


def test_obliterate_deletes_legacy_keys(q: Queue, r: redis.Redis) -> None:
    q.add("a")
    r.set(K + "delay", "1")  # BullMQ 5 and older
    r.set(K + "priority", "1")
    q.obliterate()
    assert queue_keys(r) == set()


def test_remove_from_a_legacy_paused_list(q: Queue, r: redis.Redis) -> None:
    r.hset(K + "old", mapping={"name": "o", "data": "{}", "opts": "{}", "timestamp": "1"})
    r.lpush(K + "paused", "old")
    q.remove("old")
    assert not r.exists(K + "paused", K + "old")
    assert events(r)[-1] == {"event": "removed", "jobId": "old", "prev": "paused"}


def test_remove_job_in_no_structure(q: Queue, r: redis.Redis) -> None:
    r.hset(K + "orphan", "name", "x")
    q.remove("orphan")
    assert not r.exists(K + "orphan")
    assert events(r)[-1] == {"event": "removed", "jobId": "orphan", "prev": "unknown"}


# -- paging against a model ------------------------------------------------------------------------


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(n=st.integers(0, 12), start=st.integers(0, 14), span=st.integers(-1, 14),
       asc=st.booleans(), state=st.sampled_from(["waiting", "delayed"]))
def test_get_jobs_paging_matches_a_model(q: Queue, r: redis.Redis, n: int, start: int,
                                         span: int, asc: bool, state: str) -> None:
    r.flushdb()
    ts = now_ms()
    for i in range(n):
        if state == "waiting":
            q.add("x")
        else:
            q.add("x", delay=1000 + i, timestamp=ts)
    newest_first = [str(i) for i in range(n, 0, -1)]
    model = list(reversed(newest_first)) if asc else newest_first
    end = -1 if span == -1 else start + span
    expected = model[start:] if end == -1 else model[start:end + 1]
    assert ids(q.get_jobs(state, start, end, asc=asc)) == expected


def test_clean_prioritized_and_legacy_paused(q: Queue, r: redis.Redis) -> None:
    now = now_ms()
    q.add("p-old", priority=2, timestamp=now - 60_000)
    q.add("p-new", priority=1, timestamp=now)
    assert q.clean(1000, state="prioritized") == ["1"]
    assert r.zrange(K + "prioritized", 0, -1) == ["2"]
    r.hset(K + "legacy", mapping={"name": "l", "timestamp": now - 60_000})
    r.lpush(K + "paused", "legacy")
    assert q.clean(1000, state="paused") == ["legacy"]
    assert not r.exists(K + "paused", K + "legacy")


def test_clean_list_with_locked_jobs_in_between(q: Queue, r: redis.Redis) -> None:
    for i in range(6):
        q.add(f"a{i}", timestamp=i + 1)
    for _ in range(6):
        fetch(q, token="t")
    for job_id in ("1", "3", "4"):
        r.delete(K + job_id + ":lock")
    assert q.clean(0, limit=2, state="active") == ["1", "3"]
    assert sorted(r.lrange(K + "active", 0, -1)) == ["2", "4", "5", "6"]
    assert q.clean(0, state="active") == ["4"]


def test_delay_marker_tracks_the_earliest_delayed_job(q: Queue, r: redis.Redis) -> None:
    ts = now_ms()
    q.add("late", delay=60_000, timestamp=ts)
    assert r.zscore(K + "marker", "1") == ts + 60_000
    q.add("soon", delay=10_000, timestamp=ts)
    assert r.zscore(K + "marker", "1") == ts + 10_000
    q.add("later", delay=90_000, timestamp=ts)
    assert r.zscore(K + "marker", "1") == ts + 10_000


def test_delayed_n_is_capped_at_4095(q: Queue, r: redis.Redis) -> None:
    ts = now_ms()
    due = ts + 1000
    r.zadd(K + "delayed", {"filler": due * 4096 + 4095})
    q.add("x", delay=1000, timestamp=ts)
    assert r.zscore(K + "delayed", "1") == due * 4096 + 4095
    assert int(r.zscore(K + "delayed", "1") or 0) // 4096 == due
