"""Batched finishing (move_to_finished_many) leaves Redis as the one-call-per-job path does:
the same workload (completions, failures for good, a retry, removeOnComplete/Fail, dedup
ids, metrics, the four flow failure policies) through a worker at concurrency 8 with and
without batching, then every key of both queues compared."""

from __future__ import annotations

from typing import Any

import redis

from queuecore import AsyncJob, FlowProducer, Queue, Worker
from queuecore.commands import worker_ops
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
