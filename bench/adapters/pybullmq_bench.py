"""Python bullmq 3.4.x's side of the benchmark (bench/.venv). Same roles as the others."""

from __future__ import annotations

import asyncio
import signal
import time
from importlib import metadata
from typing import Any

from bullmq import Queue, Worker
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


def versions(cfg: dict[str, Any]) -> dict[str, Any]:
    return {"library": metadata.version("bullmq"), **client_versions()}


def _queue(url: str) -> Queue:
    return Queue(QUEUE, {"connection": url})


def add_one(cfg: dict[str, Any]) -> dict[str, Any]:
    async def main() -> dict[str, Any]:
        n = int(cfg["n"])
        queue = _queue(cfg["url"])
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

    return asyncio.run(main())


def add_bulk(cfg: dict[str, Any]) -> dict[str, Any]:
    async def main() -> dict[str, Any]:
        n, batch = int(cfg["n"]), int(cfg["batch"])
        queue = _queue(cfg["url"])
        await queue.addBulk([{"name": JOB_NAME, "data": {"i": -1}}])
        start = time.perf_counter()
        cpu0 = time.process_time()
        limit = start + float(cfg.get("max_seconds", 1e9))
        done = 0
        for lo in range(0, n, batch):
            await queue.addBulk([{"name": JOB_NAME, "data": {"i": i}}
                                 for i in range(lo, min(n, lo + batch))])
            done = min(n, lo + batch)
            if time.perf_counter() > limit:
                break
        seconds = time.perf_counter() - start
        cpu = time.process_time() - cpu0
        await queue.close()
        return {"n": done, "seconds": seconds, "cpu_s": cpu}

    return asyncio.run(main())


def produce(cfg: dict[str, Any]) -> dict[str, Any]:
    async def main() -> dict[str, Any]:
        n, rate, mode = int(cfg["n"]), float(cfg["rate"]), cfg["mode"]
        delays = cfg.get("delays") or []
        queue = _queue(cfg["url"])
        await queue.getJobCounts("waiting")  # connect first
        behind = 0.0
        wait_before = pace(rate)
        start = time.perf_counter()
        cpu0 = time.process_time()
        limit = start + float(cfg.get("max_seconds", 1e9))
        done = 0
        for i in range(n):
            wait = wait_before(i)
            if wait > 0:
                await asyncio.sleep(wait)
            else:
                behind = max(behind, -wait)
            t = now_ms()
            if mode == "lateness":
                await queue.add(JOB_NAME, {"i": i, "due": t + delays[i]}, {"delay": delays[i]})
            else:
                await queue.add(JOB_NAME, {"i": i, "t": t})
            done += 1
            if time.perf_counter() > limit:
                break
        seconds = time.perf_counter() - start
        cpu = time.process_time() - cpu0
        await queue.close()
        return {"n": done, "seconds": seconds, "cpu_s": cpu, "behind_ms": behind * 1000}

    return asyncio.run(main())


def work(cfg: dict[str, Any]) -> dict[str, Any]:
    async def main() -> dict[str, Any]:
        mode = cfg.get("mode", "count")
        samples: list[float] = []
        processed = 0

        async def process(job: Any, token: str) -> None:
            nonlocal processed
            processed += 1
            if mode == "lateness":
                samples.append(now_ms() - job.data["due"])

        worker = Worker(QUEUE, process, {"connection": cfg["url"],
                                         "concurrency": int(cfg["concurrency"]),
                                         "autorun": False})
        if mode == "latency":
            worker.on("completed",
                      lambda job, _result: samples.append(now_ms() - job.data["t"]))
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

    return asyncio.run(main())


if __name__ == "__main__":
    run({"versions": versions, "add_one": add_one, "add_bulk": add_bulk, "fill": add_bulk,
         "produce": produce, "work": work})
