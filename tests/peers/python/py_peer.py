#!/usr/bin/env python3
"""Test-only peer: drives the Python ``bullmq`` package (3.4.x) against a Redis server so
queuecore's interop tests can check both directions of the shared BullMQ data format.

Runs in its own virtualenv (tests/peers/python/.venv, made by setup.sh), never in queuecore's.

Usage: tests/peers/python/.venv/bin/python tests/peers/python/py_peer.py < scenario.json

The protocol is the one of tests/peers/node_peer.mjs (see tests/peers/README.md):
input  {"redis": "redis://127.0.0.1:PORT/0", "prefix": "bull", "queue": "name",
        "listen": false, "actions": [{"op": ...}, ...]}
output {"results": [one entry per action], "events": [...]}   ("events" only with listen)
On failure: {"error": "...", "results": [...done so far]} and exit 1.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import sys
import time
from typing import Any

from bullmq import (
    FlowProducer,
    Job,
    Queue,
    QueueEvents,
    UnrecoverableError,
    WaitingChildrenError,
    Worker,
)

STREAM_ID = re.compile(r"^\d+-\d+$")


def job_to_json(job: Job | None, state: str | None) -> dict[str, Any] | None:
    """The job as the Python package decoded it (its own attribute names)."""
    if job is None:
        return None
    return {
        "id": job.id,
        "name": job.name,
        "data": job.data,
        "opts": job.opts,
        "progress": job.progress,
        "returnvalue": job.returnvalue,
        "failedReason": job.failedReason,
        "stacktrace": job.stacktrace,
        "attemptsMade": job.attemptsMade,
        "attemptsStarted": job.attemptsStarted,
        "stalledCounter": job.stalledCounter,
        "deferredFailure": job.deferredFailure,
        "timestamp": job.timestamp,
        "processedOn": job.processedOn or None,
        "finishedOn": job.finishedOn or None,
        "delay": job.delay,
        "priority": job.priority,
        "parentKey": job.parentKey,
        "parent": job.parent,
        "deduplicationId": job.deduplication_id,
        "repeatJobKey": job.repeatJobKey,
        "state": state,
    }


#: Connection options of the scenario, for a processor that adds jobs (spawnChildren).
SCENARIO_BASE: dict[str, Any] = {}


async def spawn_children(job: Job, token: str, spec: dict[str, Any]) -> Any:
    """A parent that adds its children at run time, waits for them in waiting-children
    (moveToWaitingChildren + WaitingChildrenError), and returns their values when rerun."""
    values = await job.getChildrenValues()
    if values:
        return values
    child_queue = Queue(spec.get("queue") or job.queueName, SCENARIO_BASE)
    try:
        for c in spec.get("children", []):
            await child_queue.add(c.get("name", "child"), c.get("data", {}), {
                "parent": {"id": job.id, "queue": job.queueQualifiedName}})
    finally:
        await child_queue.close()
    if await job.moveToWaitingChildren(token, {}):
        raise WaitingChildrenError()
    return await job.getChildrenValues()  # the children were done before the move


async def processor(job: Job, token: str) -> Any:
    """Processor of the "work" op; its behaviour comes from the job's data."""
    d = job.data if isinstance(job.data, dict) else {}
    if d.get("spawnChildren"):
        return await spawn_children(job, token, d["spawnChildren"])
    sleep_ms = d.get("sleepMs")
    if isinstance(sleep_ms, int | float) and sleep_ms > 0:
        await asyncio.sleep(sleep_ms / 1000)
    if "progress" in d:
        await job.updateProgress(d["progress"])
    if isinstance(d.get("log"), str):
        await job.log(d["log"])
    fail_attempts = d.get("failAttempts")
    failing = not isinstance(fail_attempts, int) or job.attemptsMade < fail_attempts
    if isinstance(d.get("fail"), str) and failing:
        if d.get("unrecoverable"):
            raise UnrecoverableError(d["fail"])
        raise Exception(d["fail"])
    if d.get("returnChildren"):
        return await job.getChildrenValues()
    if "return" in d:
        return d["return"]
    return {"echo": job.data}


class EventCollector:
    """Collects the queue's events as bullmq's QueueEvents delivers them."""

    def __init__(self, name: str, opts: dict[str, Any]) -> None:
        self.events: list[dict[str, Any]] = []
        self.cursor = 0
        self.qe = QueueEvents(name, {**opts, "blockingTimeout": 200, "autorun": False})
        orig = self.qe.emit

        def emit(event_name: str, *args: Any, **kwargs: Any) -> None:
            self.record(event_name, args)
            orig(event_name, *args, **kwargs)

        self.qe.emit = emit  # type: ignore[method-assign]
        self.task: asyncio.Task[None] | None = None

    def record(self, event_name: str, args: tuple[Any, ...]) -> None:
        if not args:
            return
        stream_id = args[-1]
        if not isinstance(stream_id, str) or not STREAM_ID.match(stream_id):
            return
        if event_name == "drained":
            self.events.append({"event": "drained", "streamId": stream_id})
            return
        payload = args[0]
        if not isinstance(payload, dict):
            return
        job_id = payload.get("jobId")
        if job_id is not None and event_name.endswith(f":{job_id}"):
            return  # the per-job copy of an event
        self.events.append({"event": event_name, **payload, "streamId": stream_id})

    async def ready(self) -> None:
        self.task = asyncio.ensure_future(self.qe.run())
        await asyncio.sleep(0.15)

    async def take(self, count: int, timeout_ms: int) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout_ms / 1000
        while len(self.events) - self.cursor < count and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.02)
        out = self.events[self.cursor:]
        self.cursor = len(self.events)
        return out

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.qe.close()
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(BaseException):
                await self.task


async def run_work(ctx: dict[str, Any], a: dict[str, Any]) -> dict[str, Any]:
    count = a.get("count", 1)
    timeout_ms = a.get("timeoutMs", 10000)
    completed: list[dict[str, Any]] = []
    failed: list[dict[str, Any]] = []
    done = asyncio.Event()
    finished = 0

    def bump() -> None:
        nonlocal finished
        finished += 1
        if finished >= count:
            done.set()

    def on_completed(job: Job, result: Any) -> None:
        completed.append({
            "id": job.id, "name": job.name, "data": job.data, "returnvalue": result,
            "attemptsMade": job.attemptsMade, "processedOn": job.processedOn or None,
            "finishedOn": job.finishedOn or None,
        })
        bump()

    def on_failed(job: Job, err: BaseException) -> None:
        failed.append({"id": job.id if job else None, "failedReason": str(err),
                       "attemptsMade": job.attemptsMade if job else None})
        bump()

    opts = {**ctx["base"], "concurrency": a.get("concurrency", 1), **(a.get("workerOpts") or {}),
            "autorun": False}
    worker = Worker(ctx["queueName"], processor, opts)
    worker.on("completed", on_completed)
    worker.on("failed", on_failed)
    worker.on("error", lambda *args: None)
    running = asyncio.ensure_future(worker.run())
    if count > 0:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(done.wait(), timeout_ms / 1000)
    else:
        await asyncio.sleep(timeout_ms / 1000)
    await worker.close(bool(a.get("force")))
    with contextlib.suppress(BaseException):
        await asyncio.wait_for(running, 5)
    return {"completed": completed, "failed": failed, "timedOut": finished < count}


async def run_manual(ctx: dict[str, Any], a: dict[str, Any]) -> list[Any]:
    """A Worker without a processor: getNextJob(token), then each job finished as its
    outcome says (moveToCompleted / moveToFailed), optionally after a wrong token."""
    token = a.get("token", "py-token")
    worker = Worker(ctx["queueName"], None, {**ctx["base"], "autorun": False,
                                            **(a.get("workerOpts") or {})})
    worker.on("error", lambda *args: None)
    out: list[Any] = []
    try:
        for outcome in a.get("outcomes", [{"complete": None}]):
            job = await worker.getNextJob(token)
            if not job:
                out.append(None)
                continue
            entry: dict[str, Any] = {"id": job.id, "name": job.name, "data": job.data}
            if outcome.get("wrongToken"):
                try:
                    await job.moveToCompleted("never", "not-the-token")
                    entry["wrongToken"] = "accepted"
                except Exception as exc:  # reported to the test
                    entry["wrongToken"] = str(exc)
            if "complete" in outcome:
                await job.moveToCompleted(outcome["complete"], token)
            elif isinstance(outcome.get("fail"), str):
                await job.moveToFailed(Exception(outcome["fail"]), token)
            out.append(entry)
    finally:
        await worker.close()
    return out


def flow_node(node: dict[str, Any]) -> dict[str, Any]:
    out = {"name": node.get("name", "job"), "queueName": node["queueName"],
           "data": node.get("data", {}), "opts": node.get("opts", {})}
    if node.get("children"):
        out["children"] = [flow_node(c) for c in node["children"]]
    return out


def flow_ids(tree: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"id": tree["job"].id}
    if tree.get("children"):
        out["children"] = [flow_ids(c) for c in tree["children"]]
    return out


def scheduler_json(s: Any) -> Any:
    if not isinstance(s, dict):
        return s
    return {k: v for k, v in s.items() if isinstance(v, str | int | float | bool | dict | list)
            or v is None}


async def get_job(queue: Queue, job_id: Any) -> Job:
    job = await Job.fromId(queue, str(job_id))
    if job is None:
        raise Exception(f"job {job_id} not found")
    return job


async def run_action(ctx: dict[str, Any], a: dict[str, Any]) -> Any:
    queue: Queue = ctx["queue"]
    op = a.get("op")
    if op == "add":
        job = await queue.add(a.get("name", "job"), a.get("data", {}), a.get("opts", {}))
        return {"id": job.id}
    if op == "addBulk":
        jobs = await queue.addBulk([{"name": j.get("name", "job"), "data": j.get("data", {}),
                                     "opts": j.get("opts", {})} for j in a.get("jobs", [])])
        return {"ids": [j.id for j in jobs]}
    if op == "addFlow":
        fp = FlowProducer({"connection": ctx["redis"], "prefix": ctx["prefix"]})
        try:
            tree = await fp.add(flow_node(a["flow"]))
        finally:
            await fp.close()
        return flow_ids(tree)
    if op == "work":
        return await run_work(ctx, a)
    if op == "manual":
        return await run_manual(ctx, a)
    if op == "getJob":
        job = await Job.fromId(queue, str(a["id"]))
        if job is None:
            return None
        return job_to_json(job, await job.getState())
    if op == "getState":
        job = await Job.fromId(queue, str(a["id"]))
        return await job.getState() if job else None
    if op == "getJobCounts":
        return await queue.getJobCounts(*(a.get("types") or []))
    if op == "getWorkers":
        return [w.get("rawname", w.get("name")) for w in await queue.get_workers()]
    if op == "pause":
        await queue.pause()
        return True
    if op == "resume":
        await queue.resume()
        return True
    if op == "isPaused":
        return await queue.isPaused()
    if op == "getJobs":
        jobs = await queue.getJobs(a.get("states") or [], a.get("start", 0), a.get("end", -1),
                                   a.get("asc", False))
        return [j.id for j in jobs if j]
    if op == "retry":
        job = await get_job(queue, a["id"])
        await job.retry(a.get("state", "failed"))
        return True
    if op == "retryJobs":
        opts = {k: a[k] for k in ("count", "state", "timestamp") if k in a}
        await queue.retryJobs(opts)
        return True
    if op == "promote":
        job = await get_job(queue, a["id"])
        await job.promote()
        return True
    if op == "promoteJobs":
        await queue.promoteJobs({"count": a["count"]} if "count" in a else {})
        return True
    if op == "remove":
        return await queue.remove(str(a["id"]), {"removeChildren": a.get("removeChildren", True)})
    if op == "getLogs":
        r = await queue.getJobLogs(str(a["id"]), a.get("start", 0), a.get("end", -1),
                                   a.get("asc", True))
        return {"logs": r["logs"], "count": r["count"]}
    if op == "log":
        job = await get_job(queue, a["id"])
        return await job.log(a.get("text", ""))
    if op == "updateProgress":
        job = await get_job(queue, a["id"])
        await job.updateProgress(a.get("progress"))
        return True
    if op == "getChildrenValues":
        job = await get_job(queue, a["id"])
        return await job.getChildrenValues()
    if op == "getDeduplicationJobId":
        return await queue.getDeduplicationJobId(str(a["id"]))
    if op == "upsertJobScheduler":
        t = a.get("template") or {}
        job = await queue.upsertJobScheduler(a["id"], a.get("repeat") or {}, t.get("name"),
                                             t.get("data"), t.get("opts"))
        return {"id": job.id} if job is not None else None
    if op == "getJobSchedulers":
        return [scheduler_json(s) for s in await queue.getJobSchedulers(
            a.get("start", 0), a.get("end", -1), a.get("asc", False))]
    if op == "removeJobScheduler":
        return await queue.removeJobScheduler(a["id"])
    if op == "updateData":
        job = await get_job(queue, a["id"])
        await job.updateData(a.get("data"))
        return True
    if op == "changePriority":
        job = await get_job(queue, a["id"])
        await job.changePriority({"priority": a.get("priority", 0),
                                  "lifo": a.get("lifo", False)})
        return True
    if op == "getCountsPerPriority":
        return await queue.getCountsPerPriority(a.get("priorities") or [])
    if op == "getJobCountByTypes":
        return await queue.getJobCountByTypes(*(a.get("types") or []))
    if op == "drain":
        await queue.drain(a.get("delayed", False))
        return True
    if op == "clean":
        return await queue.clean(a.get("grace", 0), a.get("limit", 1000),
                                 a.get("state", "completed"))
    if op == "obliterate":
        await queue.obliterate(a.get("force", False))
        return True
    if op == "sleep":
        await asyncio.sleep(a.get("ms", 0) / 1000)
        return True
    if op == "events":
        count = a.get("count", 1)
        timeout_ms = a.get("timeoutMs", 5000)
        if ctx.get("collector") is not None:
            return await ctx["collector"].take(count, timeout_ms)
        opts = dict(ctx["base"])
        if a.get("fromId"):
            opts["lastEventId"] = str(a["fromId"])
        c = EventCollector(ctx["queueName"], opts)
        try:
            await c.ready()
            return await c.take(count, timeout_ms)
        finally:
            await c.close()
    raise Exception(f"unknown op: {op}")


async def main() -> int:
    results: list[Any] = []
    ctx: dict[str, Any] = {}
    code = 0
    try:
        scenario = json.loads(sys.stdin.read())
        ctx["queueName"] = scenario.get("queue")
        if not ctx["queueName"]:
            raise Exception("scenario.queue is required")
        ctx["redis"] = scenario.get("redis") or "redis://127.0.0.1:6379/0"
        ctx["prefix"] = scenario.get("prefix") or "bull"
        ctx["base"] = {"connection": ctx["redis"], "prefix": ctx["prefix"]}
        SCENARIO_BASE.update(ctx["base"])
        ctx["queue"] = Queue(ctx["queueName"], dict(ctx["base"]))
        if scenario.get("listen"):
            ctx["collector"] = EventCollector(ctx["queueName"], ctx["base"])
            await ctx["collector"].ready()
        for a in scenario.get("actions") or []:
            if a.get("catch"):
                # The action is expected to be refused: its message is the result.
                try:
                    await run_action(ctx, a)
                    results.append({"thrown": None})
                except Exception as exc:  # any refusal is the answer
                    results.append({"thrown": str(exc)})
            else:
                results.append(await run_action(ctx, a))
        out: dict[str, Any] = {"results": results}
        if ctx.get("collector") is not None:
            await asyncio.sleep(scenario.get("settleMs", 200) / 1000)
            out["events"] = ctx["collector"].events
    except Exception as err:  # reported to the test as JSON
        code = 1
        out = {"error": f"{type(err).__name__}: {err}", "results": results}
    with contextlib.suppress(Exception):
        if ctx.get("collector") is not None:
            await ctx["collector"].close()
        if ctx.get("queue") is not None:
            await ctx["queue"].close()
    sys.stdout.write(json.dumps(out, default=str) + "\n")
    sys.stdout.flush()
    return code


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
