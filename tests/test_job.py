"""Job methods (retry, promote, update_progress, log, remove, get_state) on a real Redis."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator

import pytest
import redis

from queuecore import (
    DataError,
    InvalidOptionsError,
    Job,
    JobLockedError,
    JobNotFoundError,
    JobNotInStateError,
    Queue,
)
from queuecore.commands.record import JobRecord
from tests.queue_helpers import event_names, events, fetch, run_to

K = "bull:q:"


@pytest.fixture
def q(redis_url: str) -> Iterator[Queue]:
    with Queue("q", redis_url) as queue:
        yield queue


def get(q: Queue, job_id: str) -> Job:
    job = q.get_job(job_id)
    assert job is not None
    return job


# -- retry ----------------------------------------------------------------------------------------


def test_retry_failed_job(q: Queue, r: redis.Redis) -> None:
    job_id = run_to(q, "failed")
    r.hset(K + job_id, mapping={"stc": "1", "defa": "stalled"})
    h = r.hgetall(K + job_id)
    assert {"finishedOn", "processedOn", "failedReason", "atm", "ats"} <= set(h)
    job = get(q, job_id)
    assert job.failed_reason == "boom"
    job.retry()
    h = r.hgetall(K + job_id)
    for gone in ("finishedOn", "processedOn", "failedReason", "returnvalue", "stc", "defa"):
        assert gone not in h
    assert h["atm"] == "1"  # kept unless reset_attempts
    assert json.loads(h["stacktrace"]) == ["Error: boom"]  # kept, as BullMQ 6.7 does
    assert h["ats"] == "1"
    assert h["name"] == "j"
    assert not r.exists(K + "failed")
    assert r.lrange(K + "wait", 0, -1) == [job_id]
    assert r.zscore(K + "marker", "0") == 0
    assert events(r)[-1] == {"event": "waiting", "jobId": job_id, "prev": "failed"}
    assert q.get_job_state(job_id) == "waiting"


def test_retry_completed_job(q: Queue, r: redis.Redis) -> None:
    job_id = run_to(q, "completed", value={"r": 1})
    assert json.loads(r.hget(K + job_id, "returnvalue") or "") == {"r": 1}
    get(q, job_id).retry("completed")
    h = r.hgetall(K + job_id)
    assert "returnvalue" not in h
    assert "finishedOn" not in h
    assert not r.exists(K + "completed")
    assert r.lrange(K + "wait", 0, -1) == [job_id]
    assert events(r)[-1] == {"event": "waiting", "jobId": job_id, "prev": "completed"}


def test_retry_reset_attempts(q: Queue, r: redis.Redis) -> None:
    job_id = run_to(q, "failed")
    r.hset(K + job_id, "attemptsMade", "3")  # legacy field goes too
    get(q, job_id).retry(reset_attempts=True)
    h = r.hgetall(K + job_id)
    assert "atm" not in h
    assert "ats" not in h
    assert "attemptsMade" not in h
    assert get(q, job_id).attempts_made == 0


def test_retry_in_the_wrong_state(q: Queue, r: redis.Redis) -> None:
    job_id = run_to(q, "completed")
    job = get(q, job_id)
    with pytest.raises(JobNotInStateError) as info:
        job.retry("failed")
    assert info.value.job_id == job_id
    assert r.zrange(K + "completed", 0, -1) == [job_id]
    waiting = q.add("w")
    with pytest.raises(JobNotInStateError):
        waiting.retry()
    with pytest.raises(JobNotInStateError):
        waiting.retry("completed")
    with pytest.raises(InvalidOptionsError):
        waiting.retry("waiting")


def test_retry_submitted_twice_enqueues_once(q: Queue, r: redis.Redis) -> None:
    job_id = run_to(q, "failed")
    first, second = get(q, job_id), get(q, job_id)
    first.retry()
    with pytest.raises(JobNotInStateError):
        second.retry()
    assert r.lrange(K + "wait", 0, -1) == [job_id]
    assert event_names(r).count("waiting") == 2  # the add and one retry


def test_retry_removed_job(q: Queue) -> None:
    job_id = run_to(q, "failed")
    job = get(q, job_id)
    q.remove(job_id)
    with pytest.raises(JobNotFoundError):
        job.retry()


def test_retry_prioritized_job_goes_back_to_prioritized(q: Queue, r: redis.Redis) -> None:
    job = q.add("p", priority=7)
    assert fetch(q) == job.id
    from tests.queue_helpers import finish

    finish(q, job.id, completed=False, value="x")
    get(q, job.id).retry()
    assert r.zrange(K + "prioritized", 0, -1) == [job.id]
    score = r.zscore(K + "prioritized", job.id)
    assert score is not None
    assert int(score) // 2**32 == 7


def test_retry_while_paused_writes_no_marker(q: Queue, r: redis.Redis) -> None:
    job_id = run_to(q, "failed")
    q.pause()
    get(q, job_id).retry()
    assert r.lrange(K + "wait", 0, -1) == [job_id]
    assert not r.exists(K + "marker")


# -- promote --------------------------------------------------------------------------------------


def test_promote_delayed_job(q: Queue, r: redis.Redis) -> None:
    job = q.add("d", delay=60_000)
    job.promote()
    assert not r.exists(K + "delayed")
    assert r.lrange(K + "wait", 0, -1) == [job.id]
    assert r.hget(K + job.id, "delay") == "0"
    assert r.zrange(K + "marker", 0, -1) == ["0"]
    assert events(r)[-1] == {"event": "waiting", "jobId": job.id, "prev": "delayed"}
    assert q.get_job_state(job.id) == "waiting"


def test_promote_keeps_the_delay_marker_of_other_jobs(q: Queue, r: redis.Redis) -> None:
    a = q.add("d", delay=60_000)
    q.add("d", delay=120_000)
    a.promote()
    assert r.zcard(K + "delayed") == 1
    assert r.zscore(K + "marker", "1") is not None


def test_promote_delayed_prioritized_job(q: Queue, r: redis.Redis) -> None:
    job = q.add("d", delay=60_000, priority=9)
    job.promote()
    assert r.zscore(K + "prioritized", job.id) == 9 * 2**32 + 1
    assert q.get_job_state(job.id) == "prioritized"


def test_promote_not_delayed(q: Queue, r: redis.Redis) -> None:
    done = get(q, run_to(q, "completed"))
    with pytest.raises(JobNotInStateError):
        done.promote()
    assert r.zrange(K + "completed", 0, -1) == [done.id]
    job = q.add("w")
    with pytest.raises(JobNotInStateError):
        job.promote()
    assert r.lrange(K + "wait", 0, -1) == [job.id]
    assert not r.exists(K + "delayed")


def test_promote_unknown_job(q: Queue) -> None:
    job = q.add("d", delay=60_000)
    q.remove(job.id)
    with pytest.raises(JobNotFoundError):
        job.promote()


def test_promote_jobs_skips_ids_without_a_hash(q: Queue, r: redis.Redis) -> None:
    q.add("d", delay=60_000)
    r.zadd(K + "delayed", {"ghost": 1})
    q.promote_jobs()
    assert not r.exists(K + "ghost")  # no half-made job hash
    assert r.lrange(K + "wait", 0, -1) == ["1"]
    assert not r.exists(K + "delayed")


def test_retry_jobs_skips_ids_without_a_hash(q: Queue, r: redis.Redis) -> None:
    job_id = run_to(q, "failed")
    r.zadd(K + "failed", {"ghost": 1})
    q.retry_jobs()
    assert r.lrange(K + "wait", 0, -1) == [job_id]
    assert not r.exists(K + "failed", K + "ghost")


# -- progress -------------------------------------------------------------------------------------


def test_update_progress_number_and_dict(q: Queue, r: redis.Redis) -> None:
    job = q.add("a")
    job.update_progress(42)
    assert r.hget(K + "1", "progress") == "42"
    assert job.progress == 42
    job.update_progress({"stage": "x", "pct": 50.5})
    assert json.loads(r.hget(K + "1", "progress") or "") == {"stage": "x", "pct": 50.5}
    assert get(q, "1").progress == {"stage": "x", "pct": 50.5}
    evs = [e for e in events(r) if e["event"] == "progress"]
    assert evs == [{"event": "progress", "jobId": "1", "data": "42"},
                   {"event": "progress", "jobId": "1", "data": '{"stage":"x","pct":50.5}'}]


@pytest.mark.parametrize("bad", [True, False, math.nan, math.inf, None, object(), {1, 2}])
def test_update_progress_refuses_bad_values(q: Queue, r: redis.Redis, bad: object) -> None:
    job = q.add("a")
    before = r.xlen(K + "events")
    with pytest.raises(InvalidOptionsError):
        job.update_progress(bad)
    assert r.hget(K + "1", "progress") is None
    assert r.xlen(K + "events") == before


def test_update_progress_dict_with_nan_is_refused(q: Queue, r: redis.Redis) -> None:
    job = q.add("a")
    with pytest.raises(InvalidOptionsError):
        job.update_progress({"pct": math.nan})
    assert r.hget(K + "1", "progress") is None


def test_update_progress_of_finished_and_missing_jobs(q: Queue, r: redis.Redis) -> None:
    job_id = run_to(q, "completed")
    get(q, job_id).update_progress(100)  # allowed on finished jobs, like BullMQ
    assert r.hget(K + job_id, "progress") == "100"
    gone = get(q, job_id)
    q.remove(job_id)
    with pytest.raises(JobNotFoundError):
        gone.update_progress(1)
    assert not r.exists(K + job_id)


# -- logs -----------------------------------------------------------------------------------------


def test_log_appends(q: Queue, r: redis.Redis) -> None:
    job = q.add("a")
    assert job.log("one") == 1
    assert job.log("two") == 2
    assert r.lrange(K + "1:logs", 0, -1) == ["one", "two"]


def test_log_with_keep_logs_trims(q: Queue, r: redis.Redis) -> None:
    job = q.add("a", keep_logs=2)
    for i in range(5):
        assert job.log(f"l{i}") == min(i + 1, 2)
    assert r.lrange(K + "1:logs", 0, -1) == ["l3", "l4"]
    stored = get(q, "1")  # keep_logs read back from the stored opts
    assert stored.log("l5") == 2
    assert r.lrange(K + "1:logs", 0, -1) == ["l4", "l5"]
    assert q.get_job_logs("1") == (["l4", "l5"], 2)


def test_log_on_missing_job(q: Queue, r: redis.Redis) -> None:
    job = q.add("a")
    q.remove(job.id)
    with pytest.raises(JobNotFoundError):
        job.log("x")
    assert not r.exists(K + "1:logs")


# -- remove / state through the job ---------------------------------------------------------------


def test_job_remove_and_state(q: Queue, r: redis.Redis) -> None:
    job = q.add("a")
    assert job.get_state() == "waiting"
    job.remove()
    assert job.get_state() == "unknown"
    assert not r.exists(K + "1")
    with pytest.raises(JobNotFoundError):
        job.remove()


def test_job_remove_locked(q: Queue) -> None:
    job = q.add("a")
    fetch(q)
    with pytest.raises(JobLockedError):
        job.remove()


# -- record decoding ------------------------------------------------------------------------------


def test_record_max_attempts_and_state_hint() -> None:
    rec = JobRecord(id="1", opts={"attempts": 0})
    assert rec.max_attempts == 1
    assert JobRecord(id="1", opts={"attempts": 4}).max_attempts == 4
    assert rec.queue_state_hint == "unknown"
    assert JobRecord(id="1", finished_on=5).queue_state_hint == "completed"
    assert JobRecord(id="1", finished_on=5, failed_reason="x").queue_state_hint == "failed"


def test_atm_zero_falls_back_to_legacy_field() -> None:
    fields = JobRecord.fields_from_hash("1", {"atm": "0", "attemptsMade": "2"})
    assert fields["attempts_made"] in (0, 2)
    # both peers read `attemptsMade || atm`: a present legacy field wins (interop issue 4)
    assert JobRecord.fields_from_hash("1", {"atm": "3", "attemptsMade": "2"})[
        "attempts_made"] == 2
    assert JobRecord.fields_from_hash("1", {"atm": "3"})["attempts_made"] == 3


def test_oversized_progress_and_log_lines_are_refused_before_any_write(
        redis_url: str, r: redis.Redis) -> None:
    with Queue("q", redis_url, max_data_size=100) as small:
        job = small.add("a")
        with pytest.raises(DataError, match="progress is 128 bytes of JSON"):
            job.update_progress({"x": "é" * 60})
        with pytest.raises(DataError, match="log line is 120 bytes, over the limit of 100"):
            job.log("é" * 60)
        job.update_progress({"x": "y" * 50})
        assert job.log("z" * 100) == 1  # at the limit: kept
    assert r.hget(K + "1", "progress") == json.dumps({"x": "y" * 50}, separators=(",", ":"))
    assert r.lrange(K + "1:logs", 0, -1) == ["z" * 100]
    with Queue("q", redis_url, max_data_size=None) as unlimited:
        assert unlimited.get_job("1").log("w" * 600_000) == 2  # type: ignore[union-attr]


@pytest.mark.parametrize(("text", "expected"), [
    ("1732770000000", 1732770000000), ("007", 7), (" 12 ", 12), ("-5", -5), ("1_000", 1000),
    ("1.9", 1), ("1e3", 1000), ("abc", 0), ("nan", 0), ("0x10", 0),
    # past 15 characters a float may round: int(float(...)) as always
    ("9007199254740993", 9007199254740992), ("1234567890123456", 1234567890123456),
])
def test_int_field_parsing(text: str, expected: int):
    """Numeric hash fields: the int() fast path gives what int(float()) gives."""
    fields = JobRecord.fields_from_hash("1", {"timestamp": text})
    assert fields["timestamp"] == expected


@pytest.mark.parametrize("h", [
    {},
    {"name": "a", "data": '{"i":1}', "opts": '{"attempts":3}', "timestamp": "17", "ats": "1"},
    {"name": "full", "data": "[1,2]", "opts": "[]", "timestamp": "1.5e3", "delay": "20",
     "priority": "3", "progress": '{"p":1}', "returnvalue": '"done"', "failedReason": "bad",
     "stacktrace": '["a","b"]', "atm": "2", "ats": "3", "stc": "1", "processedOn": "40",
     "finishedOn": "50", "pb": "w", "parentKey": "bull:p:1",
     "parent": '{"id":"1","queueKey":"bull:p"}', "rjk": "s", "deid": "d", "defa": "why",
     "dlq": '{"queue":"q"}'},
    {"stacktrace": '"one"', "parent": "7", "dlq": "[1]", "data": "not json", "opts": "x"},
])
def test_from_hash_makes_what_the_keyword_constructor_makes(h: dict[str, str]) -> None:
    """Both faces build a job field by field (no keyword arguments): the same job as the
    dataclass constructor given ``fields_from_hash``, every field set, token included."""
    fields = JobRecord.fields_from_hash("7", h)
    assert set(fields) == {f for f in JobRecord.__dataclass_fields__} - {"token"}
    queue = Queue.__new__(Queue)
    built = Job.from_hash(queue, "7", h, "tok")
    expected = Job(queue, **fields, token="tok")
    assert built == expected
    assert (built.queue, built.moved, built.on_progress) == (queue, False, None)
    assert Job.from_hash(queue, "7", h).token is None
