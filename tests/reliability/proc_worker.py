"""A queuecore worker in its own process, for the reliability suite.

python -m tests.reliability.proc_worker URL QUEUE LEDGER_DIR [options]

Each execution of the processor is written to LEDGER_DIR/<pid>.ledger (outside Redis) as
"start <id> <unix time>" before the work and "end <id> <unix time>" after it, with unbuffered
appends, so the lines survive a SIGKILL of this process. Logs go to stderr as
"<unix time> <LEVEL> <logger>: <msg>".

Processors (--mode):
  sleep       async def, awaits job.data["sleep"] seconds (default 0)
  sync-sleep  def (thread pool), time.sleep(job.data["sleep"])
  busy        def, a pure-Python loop that holds the GIL for job.data["seconds"]
  hash        def, sha256 over a 64 MiB buffer until job.data["seconds"] have passed
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import logging
import os
import sys
import time
from typing import Any

from queuecore import AsyncJob, Job, Worker


class Ledger:
    def __init__(self, directory: str) -> None:
        self.pid = os.getpid()
        path = os.path.join(directory, f"{self.pid}.ledger")
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def note(self, text: str) -> None:
        os.write(self.fd, f"{text} {time.time():.3f}\n".encode())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("queue")
    parser.add_argument("ledger_dir")
    parser.add_argument("--prefix", default="bull")
    parser.add_argument("--name", default=None)
    parser.add_argument("--mode", default="sleep",
                        choices=["sleep", "sync-sleep", "busy", "hash"])
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--lock-duration", type=int, default=30_000)
    parser.add_argument("--stalled-interval", type=int, default=30_000)
    parser.add_argument("--max-stalled-count", type=int, default=1)
    parser.add_argument("--shutdown-timeout", type=float, default=None)
    parser.add_argument("--drain-delay", type=float, default=5.0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(created).3f %(levelname)s %(name)s: %(message)s")
    ledger = Ledger(args.ledger_dir)
    pid = ledger.pid

    async def sleep(job: AsyncJob) -> dict[str, Any]:
        ledger.note(f"start {job.id}")
        await asyncio.sleep(float(job.data.get("sleep", 0)))
        ledger.note(f"end {job.id}")
        return {"pid": pid}

    def sync_sleep(job: Job) -> dict[str, Any]:
        ledger.note(f"start {job.id}")
        time.sleep(float(job.data.get("sleep", 0)))
        ledger.note(f"end {job.id}")
        return {"pid": pid}

    def busy(job: Job) -> dict[str, Any]:
        ledger.note(f"start {job.id}")
        deadline = time.monotonic() + float(job.data["seconds"])
        n = 0
        while time.monotonic() < deadline:
            for i in range(10_000):
                n += i * i
        ledger.note(f"end {job.id}")
        return {"pid": pid, "n": n % 1000}

    def hashing(job: Job) -> dict[str, Any]:
        ledger.note(f"start {job.id}")
        buffer = b"x" * (64 << 20)
        deadline = time.monotonic() + float(job.data["seconds"])
        digest = hashlib.sha256()
        while time.monotonic() < deadline:
            digest.update(buffer)
        ledger.note(f"end {job.id}")
        return {"pid": pid, "digest": digest.hexdigest()[:8]}

    processors = {"sleep": sleep, "sync-sleep": sync_sleep, "busy": busy, "hash": hashing}
    worker = Worker(args.queue, processors[args.mode], connection=args.url, prefix=args.prefix,
                    name=args.name, concurrency=args.concurrency,
                    lock_duration=args.lock_duration, stalled_interval=args.stalled_interval,
                    max_stalled_count=args.max_stalled_count,
                    shutdown_timeout=args.shutdown_timeout, drain_delay=args.drain_delay)
    worker.on("ready", lambda: ledger.note("ready"))
    worker.on("stalled", lambda job_id, prev: ledger.note(f"recovered {job_id}"))
    worker.run_sync()
    ledger.note("exit")


if __name__ == "__main__":
    main()
