"""queuecore's side of the benchmark (run by bench/run.py in bench/.venv-qc, with the work
tree on PYTHONPATH). Roles and output: see common.py and bench/README.md."""

from __future__ import annotations

import asyncio
import signal
import time
from typing import Any

from common import (
    JOB_NAME,
    QUEUE,
    announce_ready_and_wait_for_go,
    client_versions,
    emit,
    now_ms,
    pace,
    run,
)

import queuecore
from queuecore import AsyncJob, AsyncQueue, Queue, Worker


def versions(cfg: dict[str, Any]) -> dict[str, Any]:
    return {"library": queuecore.__version__, **client_versions()}


def add_one(cfg: dict[str, Any]) -> dict[str, Any]:
    n = int(cfg["n"])
    if cfg.get("api") == "async":
        return asyncio.run(_add_one_async(cfg, n))
    with Queue(QUEUE, connection=cfg["url"]) as queue:
        queue.add(JOB_NAME, {"i": -1})  # warm-up: connection and scripts
        start = time.perf_counter()
        cpu0 = time.process_time()
        limit = start + float(cfg.get("max_seconds", 1e9))
        done = 0
        for i in range(n):
            queue.add(JOB_NAME, {"i": i})
            done += 1
            if time.perf_counter() > limit:
                break
        seconds = time.perf_counter() - start
        cpu = time.process_time() - cpu0
    return {"n": done, "seconds": seconds, "cpu_s": cpu}


async def _add_one_async(cfg: dict[str, Any], n: int) -> dict[str, Any]:
    queue = _async_queue(cfg)
    await queue.add(JOB_NAME, {"i": -1})
    start = time.perf_counter()
    cpu0 = time.process_time()
    limit = start + float(cfg.get("max_seconds", 1e9))
    done = 0
    for i in range(n):
        await queue.add(JOB_NAME, {"i": i})
        done += 1
        if time.perf_counter() > limit:
            break
    seconds = time.perf_counter() - start
    cpu = time.process_time() - cpu0
    await queue.close()
    return {"n": done, "seconds": seconds, "cpu_s": cpu}


def _async_queue(cfg: dict[str, Any]) -> AsyncQueue:
    if cfg.get("autopipeline"):  # the calls of a loop turn in one write, one held connection
        return AsyncQueue(QUEUE, connection=cfg["url"], autopipeline=True, socket_timeout=None)
    return AsyncQueue(QUEUE, connection=cfg["url"])


def add_bulk(cfg: dict[str, Any]) -> dict[str, Any]:
    n, batch = int(cfg["n"]), int(cfg["batch"])
    if cfg.get("api") == "async":
        return asyncio.run(_add_bulk_async(cfg, n, batch))
    pad = "x" * int(cfg.get("pad", 0))  # S3 with 1 KB of job data: {"i": n, "pad": "xx.."}
    with Queue(QUEUE, connection=cfg["url"]) as queue:
        queue.add_bulk([{"name": JOB_NAME, "data": {"i": -1}}])
        start = time.perf_counter()
        cpu0 = time.process_time()
        limit = start + float(cfg.get("max_seconds", 1e9))
        done = 0
        for lo in range(0, n, batch):
            queue.add_bulk([{"name": JOB_NAME, "data": {"i": i, "pad": pad} if pad else {"i": i}}
                            for i in range(lo, min(n, lo + batch))])
            done = min(n, lo + batch)
            if time.perf_counter() > limit:
                break
        seconds = time.perf_counter() - start
        cpu = time.process_time() - cpu0
    return {"n": done, "seconds": seconds, "cpu_s": cpu}


async def _add_bulk_async(cfg: dict[str, Any], n: int, batch: int) -> dict[str, Any]:
    queue = _async_queue(cfg)
    await queue.add_bulk([{"name": JOB_NAME, "data": {"i": -1}}])
    start = time.perf_counter()
    cpu0 = time.process_time()
    limit = start + float(cfg.get("max_seconds", 1e9))
    done = 0
    for lo in range(0, n, batch):
        await queue.add_bulk([{"name": JOB_NAME, "data": {"i": i}}
                              for i in range(lo, min(n, lo + batch))])
        done = min(n, lo + batch)
        if time.perf_counter() > limit:
            break
    seconds = time.perf_counter() - start
    cpu = time.process_time() - cpu0
    await queue.close()
    return {"n": done, "seconds": seconds, "cpu_s": cpu}


def produce(cfg: dict[str, Any]) -> dict[str, Any]:
    """Add ``n`` jobs at a steady ``rate`` per second, one at a time (S4, S5)."""
    n, rate, mode = int(cfg["n"]), float(cfg["rate"]), cfg["mode"]
    delays = cfg.get("delays") or []
    behind = 0.0
    with Queue(QUEUE, connection=cfg["url"]) as queue:
        queue.get_job_counts("waiting")  # connect first
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
                queue.add(JOB_NAME, {"i": i, "due": t + delays[i]}, delay=delays[i])
            else:
                queue.add(JOB_NAME, {"i": i, "t": t})
            done += 1
            if time.perf_counter() > limit:
                break
        seconds = time.perf_counter() - start
        cpu = time.process_time() - cpu0
    return {"n": done, "seconds": seconds, "cpu_s": cpu, "behind_ms": behind * 1000}


def work(cfg: dict[str, Any]) -> dict[str, Any]:
    return asyncio.run(_work(cfg))


async def _work(cfg: dict[str, Any]) -> dict[str, Any]:
    mode = cfg.get("mode", "count")
    samples: list[float] = []
    processed = 0
    sleep_s = float(cfg.get("sleep_ms", 0)) / 1000  # S3 with a processor that awaits 5 ms

    async def process(job: AsyncJob) -> None:
        nonlocal processed
        processed += 1
        if sleep_s:
            await asyncio.sleep(sleep_s)
        if mode == "lateness":
            samples.append(now_ms() - job.data["due"])

    worker = Worker(QUEUE, process, connection=cfg["url"], concurrency=int(cfg["concurrency"]))
    if mode == "latency":
        worker.on("completed", lambda job, _result: samples.append(now_ms() - job.data["t"]))
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    announce_ready_and_wait_for_go()
    runner = asyncio.ensure_future(worker.run())
    await stop.wait()
    emit({"processed": processed, "samples": samples})  # before close: it may hang
    t_close = time.perf_counter()
    await worker.close()
    await runner
    return {"closed_ms": (time.perf_counter() - t_close) * 1000}


if __name__ == "__main__":
    run({"versions": versions, "add_one": add_one, "add_bulk": add_bulk, "fill": add_bulk,
         "produce": produce, "work": work})
