"""A rate-limited worker in its own process (the CLI has no limiter option).

python -m tests.soak.limited_worker URL QUEUE NAME MAX DURATION_MS

Runs ``tests.soak.tasks.process`` with ``limiter={"max": MAX, "duration": DURATION_MS}``
until SIGTERM (graceful, as the CLI). Lock and stall settings are the soak's (see run.py)."""

from __future__ import annotations

import logging
import sys

from queuecore import Worker

from .tasks import process
from .workers import LOCK_MS, MAX_STALLED, SHUTDOWN_S, STALLED_MS


def main() -> None:
    url, queue, name, limit, duration = sys.argv[1:6]
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(created).3f %(levelname)s %(name)s: %(message)s")
    worker = Worker(queue, process, connection=url, name=name, concurrency=4,
                    limiter={"max": int(limit), "duration": int(duration)},
                    lock_duration=LOCK_MS, stalled_interval=STALLED_MS,
                    max_stalled_count=MAX_STALLED, shutdown_timeout=SHUTDOWN_S)
    worker.run_sync()


if __name__ == "__main__":
    main()
