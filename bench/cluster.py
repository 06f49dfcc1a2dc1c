"""Scale-out: the S3 load (no-op jobs, one worker process at concurrency 50 per queue) over
three queues, on a local three-master Redis Cluster against one redis-server.

    .venv/bin/python bench/cluster.py [--jobs 30000] [--rounds 3]      (make bench-cluster)

Each queue has its own hash tag, chosen so that the three queues live on three different
masters; each worker connects to its queue's master. The single-server runs use the same
three queues and three workers on one redis-server. Rounds alternate single / cluster.
Reported per run: jobs/s over all three queues (clock from "go" to the last completed job)
and redis-server CPU (INFO used_cpu_sys + used_cpu_user deltas) per processed job, per
master. On a 2-core machine the three workers and the servers share the same two cores, so
the total cannot grow much: the figure to read is how the Redis work spreads over masters.
Writes bench/results/cluster-<date>.json and prints a table.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import redis  # noqa: E402

from tests.redisproc import RedisProcess  # noqa: E402
from tests.reliability.servers import RedisCluster  # noqa: E402

QUEUES = 3
CONCURRENCY = 50


def _work(url: str, prefix: str, queue: str) -> None:
    """A worker process: no-op jobs until SIGTERM."""
    from queuecore import AsyncJob, Worker

    async def process(job: AsyncJob) -> None:
        return None

    async def main() -> None:
        worker = Worker(queue, process, connection=url, prefix=prefix, concurrency=CONCURRENCY)
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        print("ready", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        task = asyncio.ensure_future(worker.run())
        await stop.wait()
        await worker.close()
        await task

    asyncio.run(main())


def _fill(url: str, prefix: str, queue: str, n: int) -> None:
    from queuecore import Queue

    with Queue(queue, url, prefix=prefix) as q:
        for lo in range(0, n, 1000):
            q.add_bulk([{"name": "bench", "data": {"i": i}} for i in range(lo, min(n, lo + 1000))])


def _cpu(url: str) -> float:
    client = redis.Redis.from_url(url)
    try:
        info = client.info("cpu")
        return float(info["used_cpu_sys"]) + float(info["used_cpu_user"])
    finally:
        client.close()


def _completed(url: str, prefix: str, queue: str) -> int:
    client = redis.Redis.from_url(url)
    try:
        return int(client.zcard(f"{prefix}:{queue}:completed"))
    finally:
        client.close()


def run_once(targets: list[tuple[str, str, str]], per_queue: int) -> dict[str, Any]:
    """targets: (url, prefix, queue) per queue. Fills, starts the workers, times them."""
    for url in {t[0] for t in targets}:
        client = redis.Redis.from_url(url)
        client.flushall()
        client.close()
    for url, prefix, queue in targets:
        _fill(url, prefix, queue, per_queue)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen([sys.executable, __file__, "--work", url, prefix, queue],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, text=True)
             for url, prefix, queue in targets]
    try:
        for p in procs:
            assert p.stdout is not None and p.stdout.readline().strip() == "ready"
        urls = sorted({t[0] for t in targets})
        cpu0 = {u: _cpu(u) for u in urls}
        t0 = time.monotonic()
        for p in procs:
            assert p.stdin is not None
            p.stdin.write("go\n")
            p.stdin.flush()
        deadline = t0 + 120
        while True:
            done = [_completed(*t) for t in targets]
            if min(done) >= per_queue or time.monotonic() > deadline:
                break
            time.sleep(0.01)
        elapsed = time.monotonic() - t0
        cpu = {u: _cpu(u) - cpu0[u] for u in urls}
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            p.wait(timeout=30)
    jobs = sum(done)
    per_master = {}
    for u in urls:
        on_it = sum(d for d, t in zip(done, targets, strict=True) if t[0] == u)
        per_master[u] = {"jobs": on_it, "cpu_s": round(cpu[u], 3),
                         "cpu_us_per_job": round(cpu[u] * 1e6 / max(on_it, 1), 1)}
    return {"jobs": jobs, "seconds": round(elapsed, 3), "jobs_per_s": round(jobs / elapsed),
            "redis_cpu_us_per_job_total": round(sum(cpu.values()) * 1e6 / max(jobs, 1), 1),
            "masters": per_master, "loadavg": os.getloadavg()}


def _cluster_targets(cluster: RedisCluster) -> list[tuple[str, str, str]]:
    """One hash tag per master: queue i's keys all live on master i."""
    targets: list[tuple[str, str, str]] = []
    used: set[int] = set()
    n = 0
    while len(targets) < QUEUES:
        prefix = f"{{bull{n}}}"
        n += 1
        node = cluster.node_for(prefix + ":x")
        if node.port not in used:
            used.add(node.port)
            targets.append((node.url, prefix, f"s3-{len(targets)}"))
    return targets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=30_000, help="over the three queues")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()
    per_queue = args.jobs // QUEUES
    single = RedisProcess().start()
    cluster = RedisCluster().start()
    runs: list[dict[str, Any]] = []
    try:
        single_targets = [(single.url, "bull", f"s3-{i}") for i in range(QUEUES)]
        cluster_targets = _cluster_targets(cluster)
        for round_no in range(1, args.rounds + 1):
            order = [("single", single_targets), ("cluster", cluster_targets)]
            if round_no % 2 == 0:
                order.reverse()
            for kind, targets in order:
                result = {"kind": kind, "round": round_no, **run_once(targets, per_queue)}
                runs.append(result)
                print(f"round {round_no} {kind}: {result['jobs_per_s']:,} jobs/s, redis "
                      f"{result['redis_cpu_us_per_job_total']} µs/job in all", file=sys.stderr)
    finally:
        cluster.close()
        single.close()
    summary = {}
    for kind in ("single", "cluster"):
        mine = [r for r in runs if r["kind"] == kind]
        per_master = [m["cpu_us_per_job"] for r in mine for m in r["masters"].values()]
        summary[kind] = {
            "jobs_per_s_median": statistics.median(r["jobs_per_s"] for r in mine),
            "redis_cpu_us_per_job_total_median": statistics.median(
                r["redis_cpu_us_per_job_total"] for r in mine),
            "redis_cpu_us_per_job_per_master": per_master,
            "busiest_master_cpu_s_median": statistics.median(
                max(m["cpu_s"] for m in r["masters"].values()) for r in mine),
        }
    result = {"date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
              "cpus": os.cpu_count(), "jobs": per_queue * QUEUES, "rounds": args.rounds,
              "concurrency": CONCURRENCY, "runs": runs, "summary": summary}
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"cluster-{dt.date.today().isoformat()}.json"
    path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    s, c = summary["single"], summary["cluster"]
    print(f"| setup | jobs/s (median) | redis CPU µs/job, all servers | per master |\n"
          f"|---|---|---|---|\n"
          f"| one redis-server | {s['jobs_per_s_median']:,} | "
          f"{s['redis_cpu_us_per_job_total_median']} | — |\n"
          f"| 3-master cluster | {c['jobs_per_s_median']:,} | "
          f"{c['redis_cpu_us_per_job_total_median']} | "
          f"{', '.join(str(v) for v in c['redis_cpu_us_per_job_per_master'])} |")
    print(f"written to {path}")


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "--work":
        _work(*sys.argv[2:5])
    else:
        main()
