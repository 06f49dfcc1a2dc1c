"""arq's side of the benchmark (bench/.venv-arq: arq needs redis<6). arq workers poll the
queue instead of blocking: ``poll_delay`` is set to 10 ms here (its default is 500 ms, which
would make every latency a few hundred ms); ``max_jobs`` is the concurrency. arq has no bulk
enqueue: S2's equivalent sends each batch as concurrent ``enqueue_job`` calls
(``asyncio.gather``), so a batch's round trips overlap. Delayed jobs use ``_defer_by``."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from datetime import timedelta
from importlib import metadata
from typing import Any

from arq import Worker, create_pool, func
from arq.connections import RedisSettings
from common import (
    JOB_NAME,
    announce_ready_and_wait_for_go,
    client_versions,
    emit,
    now_ms,
    pace,
    run,
)

POLL_DELAY_S = 0.01


def versions(cfg: dict[str, Any]) -> dict[str, Any]:
    return {"library": metadata.version("arq"), **client_versions()}


def add_one(cfg: dict[str, Any]) -> dict[str, Any]:
    async def main() -> dict[str, Any]:
        n = int(cfg["n"])
        pool = await create_pool(RedisSettings.from_dsn(cfg["url"]))
        await pool.enqueue_job(JOB_NAME, {"i": -1})
        start = time.perf_counter()
        cpu0 = time.process_time()
        limit = start + float(cfg.get("max_seconds", 1e9))
        done = 0
        for i in range(n):
            await pool.enqueue_job(JOB_NAME, {"i": i})
            done += 1
            if time.perf_counter() > limit:
                break
        seconds = time.perf_counter() - start
        cpu = time.process_time() - cpu0
        await pool.aclose()
        return {"n": done, "seconds": seconds, "cpu_s": cpu}

    return asyncio.run(main())


def add_bulk(cfg: dict[str, Any]) -> dict[str, Any]:
    async def main() -> dict[str, Any]:
        n, batch = int(cfg["n"]), int(cfg["batch"])
        pool = await create_pool(RedisSettings.from_dsn(cfg["url"]))
        await pool.enqueue_job(JOB_NAME, {"i": -1})
        start = time.perf_counter()
        cpu0 = time.process_time()
        limit = start + float(cfg.get("max_seconds", 1e9))
        done = 0
        for lo in range(0, n, batch):
            await asyncio.gather(*(pool.enqueue_job(JOB_NAME, {"i": i})
                                   for i in range(lo, min(n, lo + batch))))
            done = min(n, lo + batch)
            if time.perf_counter() > limit:
                break
        seconds = time.perf_counter() - start
        cpu = time.process_time() - cpu0
        await pool.aclose()
        return {"n": done, "seconds": seconds, "cpu_s": cpu}

    return asyncio.run(main())


def produce(cfg: dict[str, Any]) -> dict[str, Any]:
    async def main() -> dict[str, Any]:
        n, rate, mode = int(cfg["n"]), float(cfg["rate"]), cfg["mode"]
        delays = cfg.get("delays") or []
        pool = await create_pool(RedisSettings.from_dsn(cfg["url"]))
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
                await pool.enqueue_job(JOB_NAME, {"i": i, "due": t + delays[i]},
                                       _defer_by=timedelta(milliseconds=delays[i]))
            else:
                await pool.enqueue_job(JOB_NAME, {"i": i, "t": t})
            done += 1
            if time.perf_counter() > limit:
                break
        seconds = time.perf_counter() - start
        cpu = time.process_time() - cpu0
        await pool.aclose()
        return {"n": done, "seconds": seconds, "cpu_s": cpu, "behind_ms": behind * 1000}

    return asyncio.run(main())


def work(cfg: dict[str, Any]) -> dict[str, Any]:
    async def main() -> dict[str, Any]:
        mode = cfg.get("mode", "count")
        samples: list[float] = []
        processed = 0

        async def noop(ctx: dict[str, Any], data: dict[str, Any]) -> None:
            nonlocal processed
            processed += 1
            if mode == "lateness":
                samples.append(now_ms() - data["due"])
            ctx["bench_t"] = data.get("t")

        async def after_job_end(ctx: dict[str, Any]) -> None:
            # arq calls this once the result is stored and the job removed from the queue.
            if mode == "latency" and ctx.get("bench_t") is not None:
                samples.append(now_ms() - ctx["bench_t"])

        worker = Worker(functions=[func(noop, name=JOB_NAME)],
                        redis_settings=RedisSettings.from_dsn(cfg["url"]),
                        max_jobs=int(cfg["concurrency"]), poll_delay=POLL_DELAY_S,
                        after_job_end=after_job_end, handle_signals=False)
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        announce_ready_and_wait_for_go()
        runner = asyncio.ensure_future(worker.async_run())
        await stop.wait()
        emit({"processed": processed, "samples": samples})  # before close: it may hang
        t_close = time.perf_counter()
        runner.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await runner
        with contextlib.suppress(asyncio.CancelledError):  # jobs cut short by the cap
            await worker.close()
        return {"closed_ms": (time.perf_counter() - t_close) * 1000}

    return asyncio.run(main())


if __name__ == "__main__":
    run({"versions": versions, "add_one": add_one, "add_bulk": add_bulk, "fill": add_bulk,
         "produce": produce, "work": work})
