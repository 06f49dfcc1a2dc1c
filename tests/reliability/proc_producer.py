"""A producer in its own process, for the reliability suite.

python -m tests.reliability.proc_producer URL QUEUE ACK_FILE [--rate N] [--sleep S]

Adds jobs "p0", "p1", ... (explicit ids, so a retried add is idempotent) at about --rate per
second until SIGTERM. Each acknowledged add is written to ACK_FILE as "ack <id> <unix time>"
(unbuffered, outside Redis). A failed add is retried with the same id after 0.1 s; failures
are logged to stderr at most once a second.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time

from queuecore import Queue


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("queue")
    parser.add_argument("ack_file")
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--sleep", type=float, default=0.0)
    args = parser.parse_args()
    stop = False

    def on_term(signum: int, frame: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_term)
    fd = os.open(args.ack_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    queue = Queue(args.queue, args.url)
    n = 0
    last_log = 0.0
    period = 1.0 / args.rate
    os.write(fd, b"ready\n")
    while not stop:
        job_id = f"p{n}"
        try:
            queue.add("produced", {"sleep": args.sleep}, job_id=job_id)
        except Exception as exc:
            now = time.monotonic()
            if now - last_log >= 1.0:
                last_log = now
                print(f"{time.time():.3f} add {job_id} failed: {type(exc).__name__}",
                      file=sys.stderr, flush=True)
            time.sleep(0.1)
            continue
        os.write(fd, f"ack {job_id} {time.time():.3f}\n".encode())
        n += 1
        time.sleep(period)
    queue.close()
    os.write(fd, b"exit\n")


if __name__ == "__main__":
    main()
