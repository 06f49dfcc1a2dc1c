"""RQ's side of the benchmark (bench/.venv). RQ has no in-process concurrency: the worker is
a ``SimpleWorker`` (runs jobs in its own process; RQ's default ``Worker`` forks a child per
job, which is far slower for no-op jobs), one job at a time. Delayed jobs use
``enqueue_in`` and the worker's scheduler (``with_scheduler=True``, which polls once a second).
RQ's per-job INFO log lines are turned off (``logging_level="WARNING"``)."""

from __future__ import annotations

import time
from datetime import timedelta
from importlib import metadata
from typing import Any

import rq_jobs
from common import QUEUE, announce_ready_and_wait_for_go, client_versions, now_ms, pace, run
from redis import Redis
from rq import Queue, SimpleWorker


def versions(cfg: dict[str, Any]) -> dict[str, Any]:
    return {"library": metadata.version("rq"), **client_versions()}


def _queue(url: str) -> Queue:
    return Queue(QUEUE, connection=Redis.from_url(url))


def add_one(cfg: dict[str, Any]) -> dict[str, Any]:
    n = int(cfg["n"])
    queue = _queue(cfg["url"])
    queue.enqueue(rq_jobs.noop, {"i": -1})
    start = time.perf_counter()
    cpu0 = time.process_time()
    limit = start + float(cfg.get("max_seconds", 1e9))
    done = 0
    for i in range(n):
        queue.enqueue(rq_jobs.noop, {"i": i})
        done += 1
        if time.perf_counter() > limit:
            break
    return {"n": done, "seconds": time.perf_counter() - start,
            "cpu_s": time.process_time() - cpu0}


def add_bulk(cfg: dict[str, Any]) -> dict[str, Any]:
    """``Queue.enqueue_many``: RQ's bulk enqueue, one pipeline per batch."""
    n, batch = int(cfg["n"]), int(cfg["batch"])
    queue = _queue(cfg["url"])
    queue.enqueue_many([Queue.prepare_data(rq_jobs.noop, args=({"i": -1},))])
    start = time.perf_counter()
    cpu0 = time.process_time()
    limit = start + float(cfg.get("max_seconds", 1e9))
    done = 0
    for lo in range(0, n, batch):
        queue.enqueue_many([Queue.prepare_data(rq_jobs.noop, args=({"i": i},))
                            for i in range(lo, min(n, lo + batch))])
        done = min(n, lo + batch)
        if time.perf_counter() > limit:
            break
    return {"n": done, "seconds": time.perf_counter() - start,
            "cpu_s": time.process_time() - cpu0}


def produce(cfg: dict[str, Any]) -> dict[str, Any]:
    n, rate, mode = int(cfg["n"]), float(cfg["rate"]), cfg["mode"]
    delays = cfg.get("delays") or []
    queue = _queue(cfg["url"])
    queue.count  # noqa: B018  (connect first)
    behind = 0.0
    wait_before = pace(rate)
    start = time.perf_counter()
    cpu0 = time.process_time()
    limit = start + float(cfg.get("max_seconds", 1e9))
    done = 0
    for i in range(n):
        wait = wait_before(i)
        if wait > 0:
            time.sleep(wait)
        else:
            behind = max(behind, -wait)
        t = now_ms()
        if mode == "lateness":
            queue.enqueue_in(timedelta(milliseconds=delays[i]), rq_jobs.noop,
                             {"i": i, "due": t + delays[i]})
        else:
            queue.enqueue(rq_jobs.noop, {"i": i, "t": t})
        done += 1
        if time.perf_counter() > limit:
            break
    return {"n": done, "seconds": time.perf_counter() - start,
            "cpu_s": time.process_time() - cpu0, "behind_ms": behind * 1000}


LATENCY_MS: list[float] = []


class BenchWorker(SimpleWorker):
    """Notes add-to-completed latency once RQ has stored the job's success."""

    measure_latency = False

    def handle_job_success(self, job: Any, queue: Any, started_job_registry: Any,
                           execution: Any) -> None:
        super().handle_job_success(job, queue, started_job_registry, execution)
        if self.measure_latency:
            LATENCY_MS.append(now_ms() - job.args[0]["t"])


def work(cfg: dict[str, Any]) -> dict[str, Any]:
    mode = cfg.get("mode", "count")
    worker = BenchWorker([_queue(cfg["url"])], connection=Redis.from_url(cfg["url"]))
    worker.measure_latency = mode == "latency"
    announce_ready_and_wait_for_go()
    # RQ installs its own SIGTERM handler: a warm shutdown, after which work() returns.
    worker.work(logging_level="WARNING", with_scheduler=mode == "lateness")
    samples = LATENCY_MS if mode == "latency" else rq_jobs.LATENESS_MS
    return {"processed": rq_jobs.PROCESSED[0], "samples": samples}


if __name__ == "__main__":
    run({"versions": versions, "add_one": add_one, "add_bulk": add_bulk, "fill": add_bulk,
         "produce": produce, "work": work})
