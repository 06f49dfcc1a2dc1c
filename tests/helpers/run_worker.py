"""A worker in its own process, for kill and signal tests.

python -m tests.helpers.run_worker URL QUEUE LEDGER [--lock-duration MS] [--stalled-interval MS]
    [--concurrency N] [--shutdown-timeout S]

The processor appends "<pid> start <id>" / "<pid> end <id>" lines to the LEDGER file (outside
Redis), sleeps job.data["sleep"] seconds and returns {"pid": pid}.
"""

from __future__ import annotations

import argparse
import asyncio
import os

from queuecore import AsyncJob, Worker


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("queue")
    parser.add_argument("ledger")
    parser.add_argument("--lock-duration", type=int, default=30_000)
    parser.add_argument("--stalled-interval", type=int, default=30_000)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--shutdown-timeout", type=float, default=None)
    args = parser.parse_args()
    pid = os.getpid()

    def note(text: str) -> None:
        with open(args.ledger, "a", encoding="utf-8") as fh:
            fh.write(f"{pid} {text}\n")
            fh.flush()
            os.fsync(fh.fileno())

    async def process(job: AsyncJob) -> dict[str, int]:
        note(f"start {job.id}")
        await asyncio.sleep(float(job.data.get("sleep", 0)))
        note(f"end {job.id}")
        return {"pid": pid}

    worker = Worker(args.queue, process, connection=args.url, concurrency=args.concurrency,
                    lock_duration=args.lock_duration, stalled_interval=args.stalled_interval,
                    shutdown_timeout=args.shutdown_timeout)
    worker.on("ready", lambda: note("ready"))
    worker.run_sync()
    note("exit")


if __name__ == "__main__":
    main()
