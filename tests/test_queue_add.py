"""Queue.add / add_bulk against a real Redis: where each job lands, what its hash and opts
hold, which events are written, and that every refusal happens before any write."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
import redis

from queuecore import Backoff, DataError, InvalidOptionsError, Queue
from queuecore.base.clock import now_ms
from tests.queue_helpers import event_names, events, queue_keys

K = "bull:q:"


@pytest.fixture
def q(redis_url: str) -> Iterator[Queue]:
    with Queue("q", redis_url) as queue:
        yield queue


def opts_of(r: redis.Redis, job_id: str) -> dict[str, Any]:
    return json.loads(r.hget(K + job_id, "opts") or "null")


# -- ids ------------------------------------------------------------------------------------------


def test_auto_ids_increment_and_hash_fields(q: Queue, r: redis.Redis) -> None:
    before = now_ms()
    ids = [q.add("send", {"n": i}).id for i in range(3)]
    assert ids == ["1", "2", "3"]
    assert r.get(K + "id") == "3"
    assert r.type(K + "1") == "hash"
    h = r.hgetall(K + "2")
    assert h["name"] == "send"
    assert json.loads(h["data"]) == {"n": 1}
    assert json.loads(h["opts"]) == {"attempts": 0}
    assert before <= int(h["timestamp"]) <= now_ms()
    assert h["delay"] == "0"
    assert h["priority"] == "0"
    for absent in ("atm", "ats", "stc", "progress", "finishedOn", "processedOn"):
        assert absent not in h


def test_added_job_object_mirrors_the_hash(q: Queue) -> None:
    job = q.add("n", {"a": [1, 2]}, attempts=3)
    assert job.id == "1"
    assert job.name == "n"
    assert job.data == {"a": [1, 2]}
    assert job.opts["attempts"] == 3
    stored = q.get_job("1")
    assert stored is not None
    assert (stored.name, stored.data, stored.timestamp, stored.opts) == (
        job.name, job.data, job.timestamp, job.opts)


def test_none_data_is_stored_as_json_null(q: Queue, r: redis.Redis) -> None:
    q.add("n")
    assert r.hget(K + "1", "data") == "null"


def test_plain_add_goes_to_wait_with_lpush_and_marker(q: Queue, r: redis.Redis) -> None:
    q.add("a")
    q.add("b")
    assert r.type(K + "wait") == "list"
    assert r.lrange(K + "wait", 0, -1) == ["2", "1"]  # newest on the left
    assert r.zrange(K + "marker", 0, -1, withscores=True) == [("0", 0.0)]
    assert not r.exists(K + "prioritized", K + "delayed")
    evs = events(r)
    assert [e["event"] for e in evs] == ["added", "waiting", "added", "waiting"]
    assert evs[0] == {"event": "added", "jobId": "1", "name": "a"}
    assert evs[1] == {"event": "waiting", "jobId": "1"}


def test_custom_id_is_used_and_counter_still_increments(q: Queue, r: redis.Redis) -> None:
    job = q.add("n", {"v": 1}, job_id="order-7")
    assert job.id == "order-7"
    assert r.get(K + "id") == "1"
    assert r.lrange(K + "wait", 0, -1) == ["order-7"]
    assert opts_of(r, "order-7")["jobId"] == "order-7"
    assert q.add("n").id == "2"  # the auto id after a custom one


def test_duplicate_custom_id_returns_existing_and_writes_only_an_event(
        q: Queue, r: redis.Redis) -> None:
    first = q.add("orig", {"v": 1}, job_id="dup")
    h_before = r.hgetall(K + "dup")
    wait_before = r.lrange(K + "wait", 0, -1)
    second = q.add("other", {"v": 2}, job_id="dup", priority=5)
    assert second.id == "dup"
    assert second.name == "orig"
    assert second.data == {"v": 1}
    assert second.timestamp == first.timestamp
    assert r.hgetall(K + "dup") == h_before
    assert r.lrange(K + "wait", 0, -1) == wait_before
    assert not r.exists(K + "prioritized")
    assert r.get(K + "id") == "2"  # INCRed on every add, like BullMQ
    evs = events(r)
    assert [e["event"] for e in evs] == ["added", "waiting", "duplicated"]
    assert evs[-1] == {"event": "duplicated", "jobId": "dup"}


@pytest.mark.parametrize("bad", [5, "5", "-12", "0", "a:b", "a:b:c:d", "", "x\n", 1.5, True])
def test_bad_custom_ids_are_refused_before_any_write(q: Queue, r: redis.Redis, bad: Any) -> None:
    with pytest.raises(InvalidOptionsError):
        q.add("n", job_id=bad)
    assert r.keys("*") == []


def test_three_part_custom_id_is_allowed(q: Queue, r: redis.Redis) -> None:
    assert q.add("n", job_id="repeat:abc:123").id == "repeat:abc:123"
    assert r.type(K + "repeat:abc:123") == "hash"


# -- priority -------------------------------------------------------------------------------------


def test_priority_goes_to_prioritized_with_counter_score(q: Queue, r: redis.Redis) -> None:
    q.add("a", priority=1)
    q.add("b", priority=2_097_151)
    q.add("c", priority=1)
    assert r.type(K + "prioritized") == "zset"
    scores = dict(r.zrange(K + "prioritized", 0, -1, withscores=True))
    assert scores == {"1": 1 * 2**32 + 1, "2": 2_097_151 * 2**32 + 2, "3": 1 * 2**32 + 3}
    assert r.get(K + "pc") == "3"
    assert r.zrange(K + "prioritized", 0, -1) == ["1", "3", "2"]
    assert not r.exists(K + "wait")
    assert r.hget(K + "2", "priority") == "2097151"
    assert opts_of(r, "2")["priority"] == 2_097_151
    assert r.zscore(K + "marker", "0") == 0
    assert event_names(r) == ["added", "waiting"] * 3


def test_priority_zero_goes_to_wait(q: Queue, r: redis.Redis) -> None:
    q.add("a", priority=0)
    assert r.lrange(K + "wait", 0, -1) == ["1"]
    assert not r.exists(K + "prioritized", K + "pc")
    assert "priority" not in opts_of(r, "1")


@pytest.mark.parametrize("bad", [-1, 2_097_152, 1.5, "3", True])
def test_priority_out_of_range_is_refused(q: Queue, r: redis.Redis, bad: Any) -> None:
    with pytest.raises(InvalidOptionsError, match="priority"):
        q.add("a", priority=bad)
    assert r.keys("*") == []


# -- delay / run_at -------------------------------------------------------------------------------


def test_delay_ms_goes_to_delayed_with_shifted_score(q: Queue, r: redis.Redis) -> None:
    job = q.add("a", delay=5000)
    h = r.hgetall(K + "1")
    due = int(h["timestamp"]) + 5000
    assert h["delay"] == "5000"
    assert opts_of(r, "1")["delay"] == 5000
    assert r.type(K + "delayed") == "zset"
    assert r.zscore(K + "delayed", "1") == due * 4096  # the first in its ms gets n = 0
    assert r.zscore(K + "marker", "1") == due
    assert r.zscore(K + "marker", "0") is None
    assert not r.exists(K + "wait")
    assert job.delay == 5000
    evs = events(r)
    assert [e["event"] for e in evs] == ["added", "delayed"]
    assert evs[1] == {"event": "delayed", "jobId": "1", "delay": str(due)}


def test_delayed_jobs_in_the_same_millisecond_get_n_0_1_2(q: Queue, r: redis.Redis) -> None:
    ts = now_ms()
    for _ in range(3):
        q.add("a", delay=1000, timestamp=ts)
    due = ts + 1000
    assert r.zrange(K + "delayed", 0, -1, withscores=True) == [
        ("1", due * 4096), ("2", due * 4096 + 1), ("3", due * 4096 + 2)]


def test_delay_as_timedelta(q: Queue, r: redis.Redis) -> None:
    q.add("a", delay=timedelta(seconds=2, milliseconds=500))
    h = r.hgetall(K + "1")
    assert h["delay"] == "2500"
    assert r.zscore(K + "delayed", "1") == (int(h["timestamp"]) + 2500) * 4096


def test_delayed_with_priority_keeps_priority_in_the_hash(q: Queue, r: redis.Redis) -> None:
    q.add("a", delay=1000, priority=3)
    assert r.zcard(K + "delayed") == 1
    assert not r.exists(K + "prioritized")
    assert r.hget(K + "1", "priority") == "3"


def test_run_at_aware_datetime(q: Queue, r: redis.Redis) -> None:
    due = now_ms() + 60_000
    run_at = datetime.fromtimestamp(due / 1000, tz=timezone(timedelta(hours=5)))
    q.add("a", run_at=run_at)
    h = r.hgetall(K + "1")
    assert int(h["timestamp"]) + int(h["delay"]) == due
    assert r.zscore(K + "delayed", "1") == due * 4096


def test_run_at_in_the_past_is_refused(q: Queue, r: redis.Redis) -> None:
    with pytest.raises(InvalidOptionsError, match="past"):
        q.add("a", run_at=datetime.now(UTC) - timedelta(minutes=1))
    assert r.keys("*") == []


def test_naive_run_at_is_refused(q: Queue, r: redis.Redis) -> None:
    with pytest.raises(InvalidOptionsError, match="timezone"):
        q.add("a", run_at=datetime.now() + timedelta(hours=1))
    assert r.keys("*") == []


def test_delay_and_run_at_together_are_refused(q: Queue, r: redis.Redis) -> None:
    with pytest.raises(InvalidOptionsError):
        q.add("a", delay=10, run_at=datetime.now(UTC) + timedelta(hours=1))
    assert r.keys("*") == []


@pytest.mark.parametrize("bad", [-1, timedelta(seconds=-1), "10", 1.5, True])
def test_bad_delay_is_refused(q: Queue, r: redis.Redis, bad: Any) -> None:
    with pytest.raises(InvalidOptionsError):
        q.add("a", delay=bad)
    assert r.keys("*") == []


# -- lifo and stored options ----------------------------------------------------------------------


def test_lifo_uses_rpush(q: Queue, r: redis.Redis) -> None:
    q.add("a")
    q.add("b", lifo=True)
    assert r.lrange(K + "wait", 0, -1) == ["1", "2"]  # "2" at the right: taken first
    assert opts_of(r, "2")["lifo"] is True
    assert "lifo" not in opts_of(r, "1")


def test_options_are_stored_with_bullmq_names(q: Queue, r: redis.Redis) -> None:
    q.add("a", attempts=3, backoff={"type": "exponential", "delay": 100},
          remove_on_complete={"age": 60, "count": 5}, remove_on_fail=10,
          stack_trace_limit=2, keep_logs=3)
    assert opts_of(r, "1") == {
        "attempts": 3, "backoff": {"type": "exponential", "delay": 100},
        "removeOnComplete": {"age": 60, "count": 5}, "removeOnFail": 10,
        "stackTraceLimit": 2, "kl": 3,
    }


def test_numeric_backoff_is_normalised_to_fixed(q: Queue, r: redis.Redis) -> None:
    q.add("a", backoff=250)
    q.add("b", backoff=Backoff("fixed", 50, 0.5))
    assert opts_of(r, "1")["backoff"] == {"type": "fixed", "delay": 250}
    assert opts_of(r, "2")["backoff"] == {"type": "fixed", "delay": 50, "jitter": 0.5}


def test_remove_options_true_and_false_are_kept(q: Queue, r: redis.Redis) -> None:
    q.add("a", remove_on_complete=True, remove_on_fail=False)
    o = opts_of(r, "1")
    assert o["removeOnComplete"] is True
    assert o["removeOnFail"] is False


def test_timestamp_option_is_used(q: Queue, r: redis.Redis) -> None:
    q.add("a", timestamp=1_700_000_000_000)
    assert r.hget(K + "1", "timestamp") == "1700000000000"


def test_default_job_options_are_merged(redis_url: str, r: redis.Redis) -> None:
    with Queue("q", redis_url, default_job_options={"attempts": 5, "remove_on_complete": True,
                                                    "backoff": 100}) as queue:
        queue.add("a")
        queue.add("b", attempts=2, remove_on_complete=False)
    a, b = opts_of(r, "1"), opts_of(r, "2")
    assert a["attempts"] == 5
    assert a["removeOnComplete"] is True
    assert a["backoff"] == {"type": "fixed", "delay": 100}
    assert b["attempts"] == 2
    assert b["removeOnComplete"] is False
    assert b["backoff"] == {"type": "fixed", "delay": 100}


def test_bad_default_job_options_fail_at_construction(redis_url: str) -> None:
    with pytest.raises(InvalidOptionsError):
        Queue("q", redis_url, default_job_options={"attempts": -1})
    with pytest.raises(InvalidOptionsError):
        Queue("q", redis_url, default_job_options={"nope": 1})  # type: ignore[typeddict-unknown-key]


# -- refusals before any write --------------------------------------------------------------------

BAD_OPTIONS: list[dict[str, Any]] = [
    {"attempts": -1},
    {"attempts": "3"},
    {"attempts": True},
    {"backoff": {"type": "fixed", "delay": -5}},
    {"backoff": {"type": "fixed", "delay": 5, "jitter": 2}},
    {"backoff": {"type": "fixed", "dleay": 5}},
    {"backoff": "fast"},
    {"backoff": True},
    {"remove_on_complete": -1},
    {"remove_on_complete": {"age": 1, "cuont": 2}},
    {"remove_on_complete": "yes"},
    {"remove_on_fail": {"count": -2}},
    {"stack_trace_limit": -1},
    {"keep_logs": "3"},
    {"timestamp": -5},
    {"unknown_option": 1},
    {"removeOnComplete": True},
    {"lifo": "no"},
    {"backoff": float("inf")},
    {"backoff": {"type": "exponential", "delay": float("inf")}},
]


@pytest.mark.parametrize("options", BAD_OPTIONS)
def test_wrong_options_are_refused_before_any_write(
        q: Queue, r: redis.Redis, options: dict[str, Any]) -> None:
    q.add("seed")
    before = {k: r.dump(k) for k in r.keys("*")}
    with pytest.raises(InvalidOptionsError):
        q.add("a", **options)
    assert r.get(K + "id") == "1"
    assert {k: r.dump(k) for k in r.keys("*")} == before


class _Obj:
    pass


@pytest.mark.parametrize("data", [
    {1, 2}, math.nan, {"x": math.inf}, _Obj(), {"when": datetime.now(UTC)}, b"bytes",
    {("a", "b"): 1},
])
def test_non_json_data_raises_data_error_before_any_write(
        q: Queue, r: redis.Redis, data: Any) -> None:
    with pytest.raises(DataError):
        q.add("a", data)
    assert r.keys("*") == []


def test_circular_data_raises_data_error(q: Queue, r: redis.Redis) -> None:
    data: dict[str, Any] = {}
    data["self"] = data
    with pytest.raises(DataError):
        q.add("a", data)
    assert r.keys("*") == []


def test_data_error_is_an_invalid_options_error() -> None:
    assert issubclass(DataError, InvalidOptionsError)
    assert issubclass(DataError, ValueError)


def test_data_over_default_limit_is_refused(q: Queue, r: redis.Redis) -> None:
    assert q.max_data_size == 512 * 1024
    payload = "x" * (512 * 1024)  # plus the JSON quotes: just over
    with pytest.raises(DataError, match="over the limit"):
        q.add("a", payload)
    assert r.keys("*") == []
    q.add("a", "x" * (512 * 1024 - 2))  # exactly the limit is fine
    assert r.hlen(K + "1") > 0


def test_data_limit_counts_utf8_bytes(redis_url: str, r: redis.Redis) -> None:
    with Queue("q", redis_url, max_data_size=10) as queue:
        with pytest.raises(DataError):
            queue.add("a", "ééééé")  # 5 chars, 12 bytes with quotes
        assert r.keys("*") == []
        queue.add("a", "éééé")  # 10 bytes with quotes
    assert json.loads(r.hget(K + "1", "data") or "") == "éééé"


def test_data_limit_is_configurable_and_can_be_off(redis_url: str, r: redis.Redis) -> None:
    with Queue("q", redis_url, max_data_size=100) as small, pytest.raises(DataError):
        small.add("a", "y" * 200)
    with Queue("q", redis_url, max_data_size=None) as unlimited:
        unlimited.add("a", "y" * (600 * 1024))
    assert r.get(K + "id") == "1"
    with pytest.raises(InvalidOptionsError):
        Queue("q", redis_url, max_data_size=0)


@pytest.mark.parametrize("name", [5, None, "n" * 1025])
def test_bad_job_name_is_refused(q: Queue, r: redis.Redis, name: Any) -> None:
    with pytest.raises(InvalidOptionsError):
        q.add(name)
    assert r.keys("*") == []


def test_unicode_name_and_data_round_trip(q: Queue) -> None:
    q.add("émoji 🚀", {"text": "héllo 世界", "n": [1.5, None, True]})
    job = q.get_job("1")
    assert job is not None
    assert job.name == "émoji 🚀"
    assert job.data == {"text": "héllo 世界", "n": [1.5, None, True]}


# -- paused queue ---------------------------------------------------------------------------------


def test_add_while_paused_goes_to_wait_without_marker(q: Queue, r: redis.Redis) -> None:
    q.pause()
    q.add("a")
    q.add("b", priority=2)
    assert r.lrange(K + "wait", 0, -1) == ["1"]
    assert r.zcard(K + "prioritized") == 1
    assert not r.exists(K + "marker")
    assert not r.exists(K + "paused")
    assert event_names(r) == ["paused", "added", "waiting", "added", "waiting"]


# -- add_bulk -------------------------------------------------------------------------------------


def test_add_bulk_writes_all_in_one_round_trip(q: Queue, r: redis.Redis,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[list[str]] = []
    real_run = q._runner.run

    def counting_run(op: Any) -> Any:
        calls.append([c.script.name for c in op.calls])
        return real_run(op)

    monkeypatch.setattr(q._runner, "run", counting_run)
    jobs = q.add_bulk([
        {"name": "a", "data": {"i": 1}},
        {"name": "b", "data": {"i": 2}, "opts": {"priority": 4}},
        {"name": "c", "data": None, "opts": {"delay": 1000}},
        {"name": "d", "data": [], "opts": {"job_id": "custom", "lifo": True}},
    ])
    assert calls == [["add_jobs"]]  # one script call for the whole batch
    assert [j.id for j in jobs] == ["1", "2", "3", "custom"]
    assert [j.name for j in jobs] == ["a", "b", "c", "d"]
    assert r.lrange(K + "wait", 0, -1) == ["1", "custom"]
    assert r.zrange(K + "prioritized", 0, -1) == ["2"]
    assert r.zrange(K + "delayed", 0, -1) == ["3"]
    assert event_names(r) == ["added", "waiting", "added", "waiting", "added", "delayed",
                              "added", "waiting"]


def test_add_bulk_validates_every_entry_before_writing(q: Queue, r: redis.Redis) -> None:
    with pytest.raises(InvalidOptionsError):
        q.add_bulk([
            {"name": "ok", "data": {}},
            {"name": "bad", "data": {}, "opts": {"priority": -3}},
        ])
    with pytest.raises(DataError):
        q.add_bulk([{"name": "ok", "data": {}}, {"name": "bad", "data": {1, 2}}])
    with pytest.raises(InvalidOptionsError):
        q.add_bulk([{"name": "ok", "data": {}}, {"data": {}}])  # type: ignore[typeddict-item]
    assert r.keys("*") == []


def test_add_bulk_empty_writes_nothing(q: Queue, r: redis.Redis) -> None:
    assert q.add_bulk([]) == []
    assert r.keys("*") == []


def test_add_bulk_with_duplicate_id_returns_the_stored_job(q: Queue, r: redis.Redis) -> None:
    q.add("orig", {"v": 0}, job_id="same")
    jobs = q.add_bulk([{"name": "new", "data": {"v": 1}, "opts": {"job_id": "same"}},
                       {"name": "other", "data": {}}])
    assert jobs[0].id == "same"
    assert jobs[0].name == "orig"
    assert jobs[1].id == "3"
    assert event_names(r)[-3:] == ["duplicated", "added", "waiting"]


def test_add_uses_queue_prefix(redis_url: str, r: redis.Redis) -> None:
    with Queue("q", redis_url, prefix="{tenant}") as queue:
        queue.add("a")
    assert queue_keys(r, "q", "{tenant}") == {
        "{tenant}:q:id", "{tenant}:q:meta", "{tenant}:q:1", "{tenant}:q:wait", "{tenant}:q:marker",
        "{tenant}:q:events"}
    assert r.keys("bull:*") == []
