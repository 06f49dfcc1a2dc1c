"""Upsert one cron job scheduler from its own process, for the concurrency test.

python -m tests.helpers.upsert_scheduler URL QUEUE START_AT_MS ROUNDS GAP_MS

Waits until START_AT_MS (so that all processes upsert at once), then upserts the scheduler
"every-second" ROUNDS times, GAP_MS apart, and prints the ids of the runs it got back.
"""

from __future__ import annotations

import sys
import time

from queuecore import Queue


def main() -> None:
    url, queue_name, start_at, rounds, gap = sys.argv[1:6]
    with Queue(queue_name, connection=url) as queue:
        queue.get_job_counts()  # connect before the start line
        pause = int(start_at) / 1000 - time.time()
        if pause > 0:
            time.sleep(pause)
        for _ in range(int(rounds)):
            job = queue.upsert_job_scheduler("every-second", pattern="*/1 * * * * *",
                                             tz="Europe/Berlin", name="tick",
                                             data={"from": "helper"})
            print(job.id if job else "-", flush=True)
            time.sleep(int(gap) / 1000)


if __name__ == "__main__":
    main()
