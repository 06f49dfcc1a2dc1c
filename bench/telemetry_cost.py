"""What telemetry costs: 10,000 ``Queue.add`` calls, then a Worker (async processor,
concurrency 10) processing them, timed in a child process per run, trees and modes
alternated:

- ``old``: OLD_TREE (before telemetry existed);
- ``none``: NEW_TREE without ``telemetry=`` (the hot paths must cost what they did);
- ``otel``: NEW_TREE with ``OTelTelemetry`` on an SDK tracer provider that records every
  span and exports none (the cost of making the spans and storing the context).

    .venv/bin/python bench/telemetry_cost.py OLD_TREE NEW_TREE [ROUNDS]

Starts its own redis-server (tests/redisproc.py), flushes it before each run, and prints
each run and the medians per mode: the client's CPU time for the adds and for the
processing (steadier than wall time on a busy machine). Figures, not assertions.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

import redis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.redisproc import RedisProcess  # noqa: E402

N = 10_000
CHILD = """
import asyncio, json, sys, time
from queuecore import Queue, Worker
url, mode, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
kw = {}
if mode == "otel":
    from opentelemetry.sdk.trace import TracerProvider
    from queuecore import OTelTelemetry
    kw["telemetry"] = OTelTelemetry(tracer_provider=TracerProvider())
q = Queue("bench-tel", url, **kw)
q.add("warm", {"i": -1})
c0 = time.process_time()
for i in range(n):
    q.add("job", {"i": i})
c1 = time.process_time()
done = 0

async def process(job):
    return job.data

async def main():
    global done
    worker = Worker("bench-tel", process, url, concurrency=10, **kw)
    finished = asyncio.Event()

    def bump(job, result):
        global done
        done += 1
        if done == n + 1:
            finished.set()

    worker.on("completed", bump)
    task = asyncio.ensure_future(worker.run())
    await finished.wait()
    await worker.close()
    await task

c2 = time.process_time()
asyncio.run(main())
c3 = time.process_time()
q.close()
print(json.dumps({"add_cpu": c1 - c0, "process_cpu": c3 - c2}))
"""


def run(tree: str, mode: str, url: str) -> dict[str, float]:
    redis.Redis.from_url(url).flushall()
    env = {**os.environ, "PYTHONPATH": tree}
    out = subprocess.run([sys.executable, "-c", CHILD, url, mode, str(N)], env=env,
                         capture_output=True, text=True, check=True, cwd=tree)
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    old, new = sys.argv[1], sys.argv[2]
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    server = RedisProcess().start()
    results: dict[str, list[dict[str, float]]] = {"old": [], "none": [], "otel": []}
    try:
        for i in range(rounds):
            for mode, tree in (("old", old), ("none", new), ("otel", new)):
                r = run(tree, "none" if mode == "old" else mode, server.url)
                results[mode].append(r)
                print(f"round {i} {mode:5s} add {r['add_cpu']:.3f} s "
                      f"process {r['process_cpu']:.3f} s", flush=True)
    finally:
        server.close()
    for mode, runs in results.items():
        add = statistics.median(r["add_cpu"] for r in runs)
        proc = statistics.median(r["process_cpu"] for r in runs)
        print(f"median {mode:5s} add x{N} CPU {add:.3f} s, process x{N} CPU {proc:.3f} s")


if __name__ == "__main__":
    main()
