"""The sync ``Queue``'s add path, old tree against new: 20,000 ``Queue.add`` calls and 2,000
``add_bulk`` calls of 10 jobs, timed in a child process per tree, trees alternated.

    .venv/bin/python bench/faces_add.py OLD_TREE NEW_TREE [ROUNDS]

Starts its own redis-server (tests/redisproc.py), flushes it before each run, and prints
each run and the medians per tree: wall time, and the client's CPU time (steadier on a busy
machine). Run it on a quiet machine; figures, not assertions.
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

CHILD = """
import json, sys, time
from queuecore import Queue
q = Queue("bench-add", sys.argv[1])
q.add("warm", {"i": -1})
t0, c0 = time.perf_counter(), time.process_time()
for i in range(20_000):
    q.add("job", {"i": i})
t1, c1 = time.perf_counter(), time.process_time()
batch = [{"name": "job", "data": {"i": i}} for i in range(10)]
for _ in range(2_000):
    q.add_bulk(batch)
t2, c2 = time.perf_counter(), time.process_time()
q.close()
import queuecore
print(json.dumps({"add": t1 - t0, "add_bulk": t2 - t1, "add_cpu": c1 - c0,
                  "add_bulk_cpu": c2 - c1, "code": queuecore.__file__}))
"""


def run(tree: str, url: str) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": tree}
    out = subprocess.run([sys.executable, "-c", CHILD, url], env=env, cwd=tree,
                         capture_output=True, text=True, check=True).stdout
    result: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    return result


def main(old: str, new: str, rounds: int = 3) -> None:
    server = RedisProcess().start()
    try:
        times: dict[str, list[dict[str, float]]] = {old: [], new: []}
        for _ in range(rounds):
            for tree in (old, new):
                redis.Redis(port=server.port).flushall()
                result = run(tree, server.url)
                times[tree].append(result)
                print(tree, json.dumps(result), flush=True)
        for tree, runs in times.items():
            medians = {k: statistics.median(r[k] for r in runs)
                       for k in ("add", "add_bulk", "add_cpu", "add_bulk_cpu")}
            print(f"median {tree}: add x20000 {medians['add']:.3f} s"
                  f" (CPU {medians['add_cpu']:.3f} s), add_bulk(10) x2000"
                  f" {medians['add_bulk']:.3f} s (CPU {medians['add_bulk_cpu']:.3f} s)")
    finally:
        server.stop()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 3)
