"""The soak's producer: mixed traffic through queuecore's public API until SIGTERM.

python -m tests.soak.producer URL LEDGER_DIR [--rate N] [--seed S] [--tag T]

Every job has an explicit id, so an add that failed (or whose reply was lost) is retried
with the same id and can never be doubled. Once Redis acknowledged it, ``ack <id> <spec>``
goes to the ledger; ``spec`` is what the job must do:

- ``plain``: run once;
- ``delayed:<ms>:<t>``: run once, never before ``t`` (unix time just before the first try of
  the add) plus the delay;
- ``retry:<fails>``: fail ``fails`` attempts, then complete (3 attempts, exponential backoff
  200 ms, so attempt n+1 starts at least 200 * 2^(n-1) ms after attempt n failed);
- ``doomed:2``: fail both of its 2 attempts (fixed backoff 100 ms) and end in ``failed``;
- ``parent:3`` and ``child:<parent>``: a flow, a parent that runs after its 3 children and
  reads their results (3 attempts: that read can meet a cut connection);
- ``limited``: a job of the rate-limited queue; besides single ones, BURST of them are added
  at once every BURST_EVERY_S seconds (about 3.6 a second in all, under the limit of 5).
"""

from __future__ import annotations

import argparse
import contextlib
import random
import signal
import sys
import time
from collections.abc import Callable
from typing import Any

from queuecore import FlowJob, FlowProducer, Queue, RedisError

from .ledger import Ledger
from .workers import LIMITED_QUEUE, MAIN_QUEUE

KINDS = {"plain": 45, "delayed": 15, "retry": 15, "doomed": 5, "flow": 10, "limited": 6}
BURST = 80  # limited jobs added at once every BURST_EVERY_S: the limiter must spread them
BURST_EVERY_S = 30.0
RETRY_BACKOFF_MS = 200
DOOMED_BACKOFF_MS = 100


class Producer:
    def __init__(self, url: str, ledger: Ledger, rng: random.Random, tag: str) -> None:
        self.queue = Queue(MAIN_QUEUE, url)
        self.limited = Queue(LIMITED_QUEUE, url)
        self.flows = FlowProducer(url)
        self.ledger = ledger
        self.rng = rng
        self.tag = tag
        self.stop = False
        self.failures = 0
        self._last_log = 0.0

    def retrying(self, call: Callable[[], Any], what: str) -> bool:
        """Call until Redis acknowledges; False if told to stop first."""
        while not self.stop:
            try:
                call()
                return True
            except RedisError as exc:
                self.failures += 1
                now = time.monotonic()
                if now - self._last_log >= 1.0:
                    self._last_log = now
                    print(f"{time.time():.3f} add {what} failed: {type(exc).__name__}: {exc}",
                          file=sys.stderr, flush=True)
                time.sleep(0.2)
        return False

    def sleep(self) -> float:
        """Mostly short work; one job in seven takes 0.5-3 s, so that a killed worker is
        usually holding some (their re-runs are the duplicates the soak allows)."""
        if self.rng.random() < 1 / 7:
            return round(self.rng.uniform(0.5, 3.0), 3)
        return round(self.rng.uniform(0.005, 0.15), 3)

    def one(self, n: int) -> None:
        kind = self.rng.choices(list(KINDS), weights=list(KINDS.values()))[0]
        job_id = f"{kind}-{self.tag}-{n}"
        data: dict[str, Any] = {"sleep": self.sleep()}
        if kind == "flow":
            self.flow(job_id)
            return
        options: dict[str, Any] = {"job_id": job_id}
        queue = self.queue
        spec = kind
        if kind == "delayed":
            delay = self.rng.randint(200, 5000)
            options["delay"] = delay
            spec = f"delayed:{delay}:{time.time():.4f}"
        elif kind == "retry":
            fails = self.rng.choice((1, 2))
            data["fail"] = fails
            options.update(attempts=3, backoff={"type": "exponential",
                                                "delay": RETRY_BACKOFF_MS})
            spec = f"retry:{fails}"
        elif kind == "doomed":
            data["fail"] = 99
            options.update(attempts=2, backoff=DOOMED_BACKOFF_MS)
            spec = "doomed:2"
        elif kind == "limited":
            queue = self.limited
        if self.retrying(lambda: queue.add(kind, data, **options), job_id):
            self.ledger.note("ack", job_id, spec)

    def burst(self, n: int) -> None:
        """BURST jobs on the rate-limited queue in one call (all or nothing)."""
        ids = [f"limited-{self.tag}-b{n}-{i}" for i in range(BURST)]
        jobs: Any = [  # queuecore does not export its BulkJob typed dict
            {"name": "limited", "data": {"sleep": 0.02}, "opts": {"job_id": job_id}}
            for job_id in ids]
        if self.retrying(lambda: self.limited.add_bulk(jobs), ids[0]):
            for job_id in ids:
                self.ledger.note("ack", job_id, "limited")

    def flow(self, parent_id: str) -> None:
        children: list[FlowJob] = [
            {"name": "child", "queue_name": MAIN_QUEUE, "data": {"sleep": self.sleep()},
             "opts": {"job_id": f"{parent_id}-c{i}"}} for i in range(3)]
        tree: FlowJob = {"name": "parent", "queue_name": MAIN_QUEUE,
                         "data": {"sleep": self.sleep(), "children": 3},
                         "opts": {"job_id": parent_id, "attempts": 3,
                                  "backoff": RETRY_BACKOFF_MS},
                         "children": children}
        if self.retrying(lambda: self.flows.add(tree), parent_id):
            for child in children:
                self.ledger.note("ack", child["opts"]["job_id"], f"child:{parent_id}")
            self.ledger.note("ack", parent_id, "parent:3")

    def close(self) -> None:
        for closing in (self.queue.close, self.limited.close, self.flows.close):
            with contextlib.suppress(RedisError):
                closing()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("ledger_dir")
    parser.add_argument("--rate", type=float, default=15.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--tag", default="a")
    args = parser.parse_args()
    ledger = Ledger(args.ledger_dir, "producer")
    producer = Producer(args.url, ledger, random.Random(args.seed), args.tag)

    def on_term(signum: int, frame: object) -> None:
        producer.stop = True

    signal.signal(signal.SIGTERM, on_term)
    period = 1.0 / args.rate
    n = 0
    next_at = time.monotonic()
    next_burst = time.monotonic() + BURST_EVERY_S / 2
    bursts = 0
    while not producer.stop:
        producer.one(n)
        n += 1
        if time.monotonic() >= next_burst:
            producer.burst(bursts)
            bursts += 1
            next_burst += BURST_EVERY_S
        next_at = max(next_at + period, time.monotonic() - 1.0)  # no burst after an outage
        time.sleep(max(0.0, next_at - time.monotonic()))
    producer.close()
    print(f"{time.time():.3f} producer stopped after {n} adds, {producer.failures} failed "
          "tries", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
