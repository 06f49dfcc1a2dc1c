"""The add path's shortcuts leave Redis as the plain path does: add_bulk (one add_jobs call,
the id counter counted in Lua and written once, the wait pushes sent as one LPUSH) against
the same jobs added one at a time, every key of both queues compared; the short "p" record
against the full one; the job objects add returns against jobs built field by field."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import FrozenInstanceError
from typing import Any

import pytest
import redis

from queuecore import AsyncJob, Job, Queue, QueueCoreError, RedisResponseError
from queuecore.commands import add_records
from queuecore.commands.op import Op, ScriptCall
from tests.queue_helpers import events


def _workload() -> list[dict[str, Any]]:
    """Plain jobs and every kind of option an add handles, in an order that mixes them."""
    jobs: list[dict[str, Any]] = []
    for i in range(30):
        opts: dict[str, Any] = {}
        if i % 5 == 1:
            opts["job_id"] = f"c{i}"
        if i % 7 == 2:
            opts["lifo"] = True
        if i % 9 == 3:
            opts["priority"] = 1 + i % 4
        if i % 11 == 4:
            opts["delay"] = 60_000 + i
        if i % 6 == 5:
            opts["deduplication"] = {"id": f"d{i % 12}"}  # every second one a duplicate
        if i % 8 == 6:
            opts["parent"] = {"id": "parent", "queue": "Q"}
        if i % 10 == 7:
            opts["attempts"] = 3
            opts["remove_on_complete"] = {"count": 5}
        jobs.append({"name": f"n{i % 3}", "data": {"i": i, "s": "é" * (i % 4)}, "opts": opts})
    # runs of alike plain jobs ("r" records after a "p"), broken by a full and a custom id
    jobs += [{"name": "same", "data": {"k": k}, "opts": {}} for k in range(4)]
    jobs.append({"name": "same", "data": 1, "opts": {"priority": 2}})
    jobs += [{"name": "same", "data": {"k": k}} for k in range(3)]
    jobs.append({"name": "same", "data": 0, "opts": {"job_id": "own"}})
    jobs += [{"name": "same", "data": None}, {"name": "other", "data": None}]
    jobs.append({"name": "again", "data": None, "opts": {"job_id": "c1"}})  # id in this call
    jobs.append({"name": "stored", "data": [], "opts": {"job_id": "old"}})  # id stored before
    return jobs


def _snapshot(r: redis.Redis, q: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    prefix = f"bull:{q}:"
    for key in sorted(r.keys(prefix + "*")):
        name = str(key)[len(prefix):]
        kind = r.type(key)
        value: Any
        if kind == "hash":
            value = {f: ("<t>" if f == "timestamp" else v) for f, v in r.hgetall(key).items()}
        elif kind == "list":
            value = r.lrange(key, 0, -1)
        elif kind == "set":
            value = sorted(r.smembers(key))
        elif kind == "zset":
            # delayed scores and the delay marker's hold the add time; priority scores do not
            value = r.zrange(key, 0, -1) if name in ("delayed", "marker") else \
                r.zrange(key, 0, -1, withscores=True)
        elif kind == "stream":
            value = [{k: ("<t>" if k == "delay" else v) for k, v in e.items()}
                     for e in events(r, q)]
        else:
            value = r.get(key)
        out[name] = value
    return out


def _prepare(queue: Queue, r: redis.Redis) -> None:
    r.set(f"bull:{queue.name}:id", 41)  # a counter that is not at zero
    r.hset(f"bull:{queue.name}:old", mapping={"name": "old", "data": "{}"})
    r.hset("bull:Q:parent", mapping={"name": "parent", "data": "{}"})


def test_add_bulk_leaves_redis_as_adding_one_at_a_time(redis_url: str,
                                                       r: redis.Redis) -> None:
    with Queue("one", redis_url) as one, Queue("bulk", redis_url) as bulk:
        _prepare(one, r)
        _prepare(bulk, r)
        singles = [one.add(j["name"], j["data"], **j.get("opts", {})) for j in _workload()]
        batch = bulk.add_bulk(_workload())  # type: ignore[arg-type]
    assert [j.id for j in batch] == [j.id for j in singles]
    assert _snapshot(r, "bulk") == _snapshot(r, "one")
    assert r.get("bull:bulk:id") == str(41 + len(_workload()))
    deps = r.smembers("bull:Q:parent:dependencies")
    assert {"bull:one:c6", "bull:bulk:c6"} <= deps


def test_add_bulk_sends_one_incrby_and_one_lpush(redis_url: str, r: redis.Redis) -> None:
    with Queue("q", redis_url) as q:
        q.add("warm")
        call = q._add_op([q._prepare_add("n", i, {}).record for i in range(3)]).calls[0]
        assert call.args[2:] == ("p", "", "n", call.args[5], "0", call.args[7],
                                 "r", call.args[9], "1", "r", call.args[12], "2")
        r.config_resetstat()
        jobs = q.add_bulk([{"name": "n", "data": {"i": i}} for i in range(2_500)])
        stats = r.info("commandstats")
    assert [j.id for j in jobs[:2]] == ["2", "3"] and jobs[-1].id == "2501"
    assert r.get("bull:q:id") == "2501"
    assert r.lrange("bull:q:wait", -3, -1) == ["3", "2", "1"]
    assert r.llen("bull:q:wait") == 2_501
    assert stats["cmdstat_incrby"]["calls"] == 1 and "cmdstat_incr" not in stats
    assert stats["cmdstat_lpush"]["calls"] == 3  # at most 1,000 ids per LPUSH


@pytest.mark.parametrize("stored", ["abc", "007", "-0", "1" * 20, "1.5"])
def test_a_counter_incr_refuses_fails_the_bulk_as_incr_does(redis_url: str, r: redis.Redis,
                                                            stored: str) -> None:
    with Queue("q", redis_url) as q:
        r.set("bull:q:id", stored)
        with pytest.raises(QueueCoreError):
            q.add_bulk([{"name": "a", "data": 1}, {"name": "b", "data": 2}])
        with pytest.raises(QueueCoreError):
            q.add("a")
    assert r.get("bull:q:id") == stored
    assert r.keys("bull:q:[0-9]*") == [] and not r.exists("bull:q:wait")


def test_plain_and_full_records_store_the_same_job(redis_url: str, r: redis.Redis) -> None:
    with Queue("q", redis_url) as q:
        opts = q._prepare_add("n", {"a": 1}, {"job_id": "x"}).opts
        assert add_records.is_plain(opts)
        p = add_records.add_record(q.keys, "n", '{"a":1}', opts, 1234, '{"attempts":0}', True)
        f = add_records.add_record(q.keys, "n", '{"a":1}', opts, 1234, '{"attempts":0}', False)
        assert p[0] == "p" and f[0] == "f" and len(p) < len(f)
        assert q.run_op(add_records.add_jobs_call(q.keys.base, q._add_keys, [p])) == [("x", 0)]
        r.rename("bull:q:x", "bull:q:plain")
        r.delete("bull:q:wait")
        assert q.run_op(add_records.add_jobs_call(q.keys.base, q._add_keys, [f])) == [("x", 0)]
        assert r.hgetall("bull:q:plain") == r.hgetall("bull:q:x")
        for option in ({"delay": 5}, {"priority": 2}, {"lifo": True},
                       {"deduplication": {"id": "d"}}, {"parent": {"id": "p", "queue": "o"}}):
            assert not add_records.is_plain(q._prepare_add("n", None, option).opts)


def _fields(job: Any) -> dict[str, Any]:
    return {name: getattr(job, name) for cls in type(job).__mro__
            for name in getattr(cls, "__slots__", ()) if not name.startswith("__")}


@pytest.fixture
def q(redis_url: str) -> Iterator[Queue]:
    with Queue("q", redis_url, default_job_options={"attempts": 2}) as queue:
        yield queue


def test_added_job_is_the_job_init_builds(q: Queue) -> None:
    job = q.add("n", {"a": 1}, priority=3, backoff={"type": "fixed", "delay": 10})
    expected = Job(q, id=job.id, name="n", data={"a": 1}, opts=job.opts,
                   timestamp=job.timestamp, delay=0, priority=3)
    assert type(job) is Job and _fields(job) == _fields(expected)
    twin = AsyncJob._added(q, "1", "n", None, {}, 5, 0, 0)  # type: ignore[arg-type]
    assert _fields(twin) == _fields(AsyncJob(q, id="1", name="n", timestamp=5))  # type: ignore[arg-type]


def test_each_added_job_has_opts_of_its_own(q: Queue) -> None:
    a, b = q.add("n"), q.add("n")  # the cached plain options
    c, d = q.add_bulk([{"name": "n", "data": 1}, {"name": "n", "data": 2}])
    a.opts["attempts"] = 9
    assert b.opts == c.opts == d.opts == {"attempts": 2}
    with Queue("q2", q.connection, default_job_options={"backoff": 5}) as nested:
        e, f = nested.add("n"), nested.add("n")
        e.opts["backoff"]["delay"] = 1
        assert f.opts["backoff"] != e.opts["backoff"]


def test_the_add_op_is_the_op_init_builds(q: Queue) -> None:
    op = q._add_op([q._prepare_add("n", 1, {}).record])
    [call] = op.calls
    assert isinstance(call, ScriptCall)
    twin = Op((ScriptCall(call.script, call.keys, call.args),), op.decode)
    assert op == twin and hash(op) == hash(twin) and not op.transaction
    with pytest.raises(FrozenInstanceError):
        call.args = ()  # type: ignore[misc]


def test_a_bulk_failing_part_way_keeps_the_jobs_before_as_single_adds_would(
        q: Queue, r: redis.Redis) -> None:
    r.hset("bull:q:de:bad", "not", "a string")  # the third job's GET of it fails
    with pytest.raises(RedisResponseError, match=r"^WRONGTYPE"):
        q.add_bulk([{"name": "a", "data": 1}, {"name": "b", "data": 2},
                    {"name": "c", "data": 3, "opts": {"deduplication": {"id": "bad"}}},
                    {"name": "d", "data": 4}])
    # the counter and the pushes collected in Lua are written although the call failed
    assert r.lrange("bull:q:wait", 0, -1) == ["2", "1"]
    assert r.get("bull:q:id") == "3"
    assert not r.exists("bull:q:3") and not r.exists("bull:q:4")
    assert q.add("e").id == "4"


def test_a_bulk_whose_wait_push_fails_still_counts_its_ids(q: Queue, r: redis.Redis) -> None:
    """The collected pushes go to a `wait` of the wrong type and fail: the ids were counted
    first, so the next add gets a fresh id and stores its own job (not "id exists" on a hash
    the failed call left); the caller gets the push's error as Redis raised it."""
    r.set("bull:q:wait", "not a list")
    with pytest.raises(RedisResponseError, match=r"^WRONGTYPE"):
        q.add_bulk([{"name": "a", "data": 1}, {"name": "b", "data": 2}])
    assert r.get("bull:q:id") == "2"
    r.delete("bull:q:wait")
    job = q.add("e", {"e": 1})
    assert job.id == "3"
    assert r.hget("bull:q:3", "name") == "e" and r.lrange("bull:q:wait", 0, -1) == ["3"]
    assert "duplicated" not in [e["event"] for e in events(r, "q")]
