"""Batched finishing (move_to_finished_many) leaves Redis as the one-call-per-job path does:
the same workload (completions, failures for good, a retry, removeOnComplete/Fail, dedup
ids, metrics, the four flow failure policies) through a worker at concurrency 8 with and
without batching, then every key of both queues compared; and a batch whose reply was lost."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import redis

from queuecore import AsyncJob, FlowProducer, Queue, Worker
from queuecore.commands import worker_ops
from queuecore.commands.scripts import get_script
from tests.tcp_proxy import TcpProxy
from tests.test_direct_connection import proxy  # noqa: F401 - the fixture
from tests.worker_utils import running, wait_until

# Hash fields that hold a time or the worker's name: compared by presence only.
_TIMES = {"timestamp", "processedOn", "finishedOn", "pb", "prevTS"}
# Events whose count depends on timing (an idle worker's fetches), not on the jobs.
_TIMING_EVENTS = {"drained"}


def _seed(url: str, q: str) -> int:
    """The workload; returns how many jobs must end finished (completed or failed)."""
    with Queue(q, url) as queue:
        for i in range(40):
            opts: dict[str, Any] = {"job_id": f"j{i}"}
            if i % 7 == 3:
                opts["remove_on_complete"] = True
            if i % 11 == 5:
                opts["remove_on_fail"] = 1
            if i % 9 == 4:
                opts["deduplication"] = {"id": f"d{i}"}
            if i % 13 == 6:
                opts["attempts"] = 2
            queue.add("job", {"i": i, "fail": i % 5 == 2, "retry": i % 13 == 6}, **opts)
    with FlowProducer(url) as flows:
        for policy in ("fail_parent_on_failure", "continue_parent_on_failure",
                       "ignore_dependency_on_failure", "remove_dependency_on_failure"):
            flows.add({"name": "parent", "queue_name": q, "opts": {"job_id": f"p-{policy}"},
                       "children": [
                           {"name": "bad", "queue_name": q,
                            "opts": {"job_id": f"bad-{policy}", policy: True},
                            "data": {"fail": True}},
                           {"name": "good", "queue_name": q,
                            "opts": {"job_id": f"good-{policy}"}, "data": {}}]})
    return 40 + 4 * 3


async def _process(job: AsyncJob) -> Any:
    data = job.data or {}
    if data.get("fail"):
        raise RuntimeError(f"{job.id} broke")
    if data.get("retry") and job.attempts_made == 0:
        raise RuntimeError("once more")
    return {"id": job.id, "children": sorted((await job.get_children_values()).values(),
                                             key=str)}


def _snapshot(r: redis.Redis, q: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    prefix = f"bull:{q}:"
    for key in r.keys(prefix + "*"):
        name = key[len(prefix):]
        kind = r.type(key)
        if name in ("marker", "stalled-check"):  # wake-up hints and the check's own clock
            continue
        if name.startswith("qc:timings"):  # queuecore's measured durations (vary by run)
            continue
        value: Any
        if kind == "hash":
            value = {f.replace(q, "Q"): ("<t>" if f in _TIMES else v.replace(q, "Q"))
                     for f, v in r.hgetall(key).items()}
        elif kind == "list" and name.endswith(":timings"):
            value = r.llen(key)
        elif kind == "list":
            value = r.lrange(key, 0, -1)
        elif kind == "set":
            value = sorted(v.replace(q, "Q") for v in r.smembers(key))
        elif kind == "zset":
            value = sorted(v.replace(q, "Q") for v in r.zrange(key, 0, -1))
        elif kind == "stream":
            value = sorted(str(sorted(e.items())).replace(q, "Q") for _, e in r.xrange(key)
                           if e.get("event") not in _TIMING_EVENTS)
        else:
            value = r.get(key) if kind == "string" else kind
        out[name] = value
    return out


async def _run(url: str, r: redis.Redis, q: str, batching: bool,
               calls: list[int]) -> dict[str, Any]:
    total = _seed(url, q)
    worker = Worker(q, _process, connection=url, concurrency=8,
                    metrics={"max_data_points": 10})
    worker._finisher.batching = batching  # the path under test
    worker._finisher._batcher.chunk = 3  # a turn's finishes in several calls, in flight at once

    def finished() -> bool:
        done = r.zcard(f"bull:{q}:completed") + r.zcard(f"bull:{q}:failed")
        removed = sum(1 for i in range(40) if not r.exists(f"bull:{q}:j{i}"))
        return (done + removed >= total and r.llen(f"bull:{q}:active") == 0
                and r.llen(f"bull:{q}:wait") == 0 and r.zcard(f"bull:{q}:delayed") == 0)

    before = len(calls)
    async with running(worker):
        await wait_until(finished)
    assert (len(calls) > before) is batching
    return _snapshot(r, q)


async def test_batched_and_single_finish_leave_the_same_keys(redis_url: str, r: redis.Redis,
                                                             monkeypatch: Any,
                                                             caplog: Any) -> None:
    calls: list[int] = []
    many = worker_ops.move_to_finished_many

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(len(args[1]))
        return many(*args, **kwargs)

    monkeypatch.setattr(worker_ops, "move_to_finished_many", counted)
    single = await _run(redis_url, r, "eq-single", False, calls)
    batched = await _run(redis_url, r, "eq-batch", True, calls)
    assert max(calls) > 1  # several jobs per call
    assert batched == single
    # A finish that fetched nothing (closing) hands the job slot None, never the reply's 0:
    # a slot task that died on it is logged by asyncio as an exception never retrieved.
    assert not [rec for rec in caplog.records if "never retrieved" in rec.getMessage()]


async def test_a_batch_retried_after_its_reply_was_lost_hands_back_what_it_fetched(
        proxy: TcpProxy, redis_url: str, r: redis.Redis) -> None:  # noqa: F811
    """The reply of a batch call is lost after the script ran (the connection is cut): the
    retry (same fetch tokens) gets the jobs the first try fetched and counts the finishes
    that try made, instead of refusing them all and leaving the fetched jobs locked by
    tokens the worker never saw until their locks expire."""
    with Queue("lost", redis_url) as queue:
        for i in range(6):
            queue.add("job", {"i": i}, job_id=f"j{i}")
    worker = Worker("lost", _process, connection=f"redis://127.0.0.1:{proxy.port}/0",
                    concurrency=3)
    keys = worker.queue.keys
    fetcher, batcher = worker._fetcher, worker._finisher._batcher
    held = []
    for _ in range(3):  # j0..j2 active with locks, as the worker's fetches leave them
        token = fetcher.next_token()
        reply = await worker.queue.run_op(worker_ops.move_to_active(
            keys, int(time.time() * 1000), token, 60_000, 0, 0, "w"))
        held.append((str(reply[1]), token))
    r.script_load(get_script("move_to_finished_many").source)  # no NOSCRIPT round first
    try:
        proxy.drop_next_reply.set()
        results = await asyncio.gather(*(batcher.finish(
            (job_id, token, True, '"ok"', "", (-1, 0, 0), 1)) for job_id, token in held))
        assert proxy.dropped.is_set()
    finally:
        await worker.queue.close()
    assert all(isinstance(result, tuple) for result in results), results  # not FAILED
    assert sorted(r.zrange("bull:lost:completed", 0, -1)) == ["j0", "j1", "j2"]
    fetched = sorted((job_id, token) for job_id, _, token in results)
    assert [job_id for job_id, _ in fetched] == ["j3", "j4", "j5"]
    for job_id, token in fetched:  # handed back with the locks they hold
        assert r.get(f"bull:lost:{job_id}:lock") == token
    assert sorted(r.lrange("bull:lost:active", 0, -1)) == ["j3", "j4", "j5"]
    assert r.llen("bull:lost:wait") == 0
    # once each: the retry fetched nothing more and finished nothing twice
    events = [e["event"] for _, e in r.xrange("bull:lost:events")]
    assert events.count("completed") == 3 and events.count("active") == 6


async def test_a_single_finish_retried_after_its_reply_was_lost_hands_back_its_fetch(
        proxy: TcpProxy, redis_url: str, r: redis.Redis) -> None:  # noqa: F811
    """The same at concurrency 1 (one ``move_to_finished`` call finishing and fetching)."""
    with Queue("lost1", redis_url) as queue:
        for i in range(2):
            queue.add("job", {"i": i}, job_id=f"j{i}")
    worker = Worker("lost1", _process, connection=f"redis://127.0.0.1:{proxy.port}/0")
    fetcher, finisher = worker._fetcher, worker._finisher
    token, next_token = fetcher.next_token(), fetcher.next_token()
    await worker.queue.run_op(worker_ops.move_to_active(
        worker.queue.keys, int(time.time() * 1000), token, 60_000, 0, 0, "w"))
    r.script_load(get_script("move_to_finished").source)
    try:
        proxy.drop_next_reply.set()
        reply = await finisher._finish_single(("j0", token, True, '"ok"', "", (-1, 0, 0), 1),
                                              next_token)
        assert proxy.dropped.is_set()
    finally:
        await worker.queue.close()
    assert fetcher.decode(reply, next_token)[::2] == ("j1", next_token)  # type: ignore[index]
    assert r.zrange("bull:lost1:completed", 0, -1) == ["j0"]
    assert r.lrange("bull:lost1:active", 0, -1) == ["j1"]
    assert r.get("bull:lost1:j1:lock") == next_token


async def test_batch_calls_in_flight_are_capped(redis_url: str, r: redis.Redis) -> None:
    """``max_in_flight``: at most that many batch calls out; the finishes held back go in
    the next call once one lands, and every job is finished."""
    with Queue("cap", redis_url) as queue:
        queue.add_bulk([{"name": "job", "data": {"i": i}} for i in range(60)])

    async def noop(job: AsyncJob) -> None:
        return None

    worker = Worker("cap", noop, connection=redis_url, concurrency=10)
    batcher = worker._finisher._batcher
    batcher.chunk, batcher.max_in_flight = 2, 2
    out: list[int] = []
    run = batcher._run

    async def watched(batch: Any) -> None:
        out.append(batcher._in_flight)
        await run(batch)

    batcher._run = watched  # type: ignore[method-assign]
    async with running(worker):
        await wait_until(lambda: r.zcard("bull:cap:completed") == 60)
    assert max(out) == 2
    assert r.llen("bull:cap:active") == 0 and r.llen("bull:cap:wait") == 0


def _finish(job_id: str, token: str) -> worker_ops.Finish:
    return (job_id, token, True, f'"{job_id} done"', "", (-1, 0, 0), 1)


def _x_stalled_y_active(queue: Queue, r: redis.Redis, now: int) -> None:
    """X and Y fetched (tokens tx, ty); X's lock expired and the stall check put X back in
    `wait`; B added lifo, so the next fetch takes B, not X."""
    for job_id in ("X", "Y"):
        queue.add("job", {}, job_id=job_id)
    for token in ("tx", "ty"):  # the oldest job first: X, then Y
        queue.run_op(worker_ops.move_to_active(queue.keys, now, token, 60_000, 0, 0, "w"))
    assert r.get("bull:rx:Y:lock") == "ty"
    r.delete("bull:rx:X:lock")
    for _ in range(2):  # a round makes the active jobs suspects, the next one moves X
        r.delete("bull:rx:stalled-check")
        queue.run_op(worker_ops.check_stalled(queue.keys, 1, now, 30_000))
    assert r.lrange("bull:rx:wait", 0, -1) == ["X"]
    queue.add("job", {}, job_id="B", lifo=True)


def _ids(fetched: list[tuple[str, Any]] | None) -> list[str]:
    return [job_id for job_id, _ in fetched or ()]


def _batch(queue: Queue, now: int) -> Any:
    return worker_ops.move_to_finished_many(
        queue.keys, [_finish("X", "tx"), _finish("Y", "ty")], now, metrics_points=0,
        fetch_tokens=["f1", "f2"], lock_ms=60_000, limiter_max=0, limiter_ms=0,
        worker_name="w")


def test_a_retried_batch_counts_only_the_finishes_its_first_try_made(
        redis_url: str, r: redis.Redis) -> None:
    """The first try refuses X (its lock expired, the stall check moved it), finishes Y and
    fetches B for it; its reply is lost. The retry finds B held with the batch's token, but
    that proves nothing about X: X stays refused (else the worker takes X for finished
    while X waits to run again) and Y counts as finished."""
    now = int(time.time() * 1000)
    with Queue("rx", redis_url) as queue:
        _x_stalled_y_active(queue, r, now)
        op = _batch(queue, now + 1)
        codes, fetched, _, _ = queue.run_op(op)
        assert codes == [-2, 0] and _ids(fetched) == ["B"]
        codes, fetched, _, _ = queue.run_op(worker_ops.retried(op))
    assert codes == [-2, 0]
    assert _ids(fetched) == ["B"] and r.get("bull:rx:B:lock") == "f1"
    assert r.lrange("bull:rx:wait", 0, -1) == ["X"] and not r.hexists("bull:rx:X", "finishedOn")
    assert r.zrange("bull:rx:completed", 0, -1) == ["Y"]


def test_a_retried_batch_looks_for_its_fetches_at_the_head_of_active_only(
        redis_url: str, r: redis.Redis) -> None:
    """The first try's fetches went to the head of `active`: the retry finds them there
    without reading the lock of every job of a long `active` list."""
    now = int(time.time() * 1000)
    with Queue("rx", redis_url) as queue:
        _x_stalled_y_active(queue, r, now)
        op = _batch(queue, now + 1)
        queue.run_op(op)
        r.rpush("bull:rx:active", *[f"old{i}" for i in range(3_000)])  # older active jobs
        r.lpush("bull:rx:active", *[f"new{i}" for i in range(50)])  # fetched since
        r.config_resetstat()
        codes, fetched, _, _ = queue.run_op(worker_ops.retried(op))
        gets = r.info("commandstats")["cmdstat_get"]["calls"]
    assert codes == [-2, 0] and _ids(fetched) == ["B"]
    assert gets <= 2 + 2 + 1_000  # the two finishes' lock reads, then the scan's bound


def test_a_single_finish_retried_after_its_first_try_fetched_nothing_succeeds(
        redis_url: str, r: redis.Redis) -> None:
    """The first try finished the job and found nothing to fetch; its reply is lost. The
    retry finds the job finished by that try (its finishedOn and return value), so it is a
    finish that succeeded, not a lost lock."""
    now = int(time.time() * 1000)
    with Queue("one", redis_url) as queue:
        queue.add("job", {}, job_id="J")
        queue.run_op(worker_ops.move_to_active(queue.keys, now, "t", 60_000, 0, 0, "w"))
        op = worker_ops.move_to_finished(
            queue.keys, "J", "t", now + 1, completed=True, value='"ok"', stacktrace="",
            keep=(-1, 0, 0), max_attempts=1, metrics_points=0, fetch_next=True,
            next_token="n", lock_ms=60_000, limiter_max=0, limiter_ms=0, worker_name="w")
        first = queue.run_op(op)
        assert first[0] == 0  # nothing fetched
        again = queue.run_op(worker_ops.retried(op))
    assert again == first
    events = [e["event"] for _, e in r.xrange("bull:one:events")]
    assert events.count("completed") == 1
