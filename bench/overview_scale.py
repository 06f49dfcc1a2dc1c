"""The overview at 1,000 queues on one connection: server time of the page.

    .venv/bin/python bench/overview_scale.py [--queues 1000] [--requests 30] [--warmup 3]
        [--out bench/results]

Starts its own redis-server (free loopback port, temporary directory, no persistence; it
never connects to any other Redis) and seeds ``--queues`` queues in the BullMQ 6 format with
realistic, uneven counts: most queues small and healthy, some with a backlog, some with
failures, a few paused, a few with waiting jobs and no worker; every queue has job hashes
for its waiting jobs (the oldest waiting age reads one), completed and failed sets scored by
finish time over the last hours, and half of them BullMQ's per-minute metrics. A worker
connection (CLIENT SETNAME as queuecore's worker names it) is open for most queues.

Then it serves the dashboard in-process (the tests' example host project, a logged-in
superuser, ``django.test.Client``) and times the overview: warm-up requests, then
``--requests`` timed ones per variant; median and p95 (``time.perf_counter``). Variants: the
default sort (needs attention; reads every queue), page 2, a name filter, sort by name (reads
only the page's queues), with the queues configured and discovered by SCAN. One more request
per variant counts commands and round trips (redis-py instrumented).

Figures go to bench/results/overview-<date>.json and a table to stdout. Target: under 100 ms.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.dashboard.example_project.settings")

import redis  # noqa: E402

from bench.dashboard_speed import CommandCounter, percentile  # noqa: E402
from tests.redisproc import RedisProcess  # noqa: E402

PREFIX = "bull"
MOUNT = "/ops/tools/queues/"
TARGET_MS = 100.0


def queue_names(n: int) -> list[str]:
    teams = ("billing", "emails", "reports", "search", "media", "auth", "sync", "exports")
    return [f"{teams[i % len(teams)]}-{i:04d}-{'jobs' if i % 3 else 'tasks'}" for i in range(n)]


def seed(client: redis.Redis, names: list[str], now: int) -> dict[str, int]:
    """Uneven, realistic counts (seeded RNG: every run seeds the same data)."""
    rng = random.Random(15)
    totals = {"jobs": 0, "paused": 0, "stuck": 0, "with_metrics": 0}
    for index, name in enumerate(names):
        base = f"{PREFIX}:{name}:"
        pipe = client.pipeline(transaction=False)
        pipe.hset(base + "meta", mapping={"opts.maxLenEvents": "10000",
                                          "version": "queuecore:0.1.0"})
        busy = rng.random()
        waiting = rng.choice((0, 0, 0, 1, 2, 5)) if busy < 0.8 else rng.randint(20, 400)
        completed = rng.randint(0, 300)
        failed = rng.choice((0, 0, 0, 0, 1, 3)) if busy < 0.9 else rng.randint(5, 60)
        delayed = rng.choice((0, 0, 2, 10))
        active = rng.choice((0, 0, 1, 2))
        next_id = 1
        if waiting:
            ids = list(range(next_id, next_id + waiting))
            for k, job_id in enumerate(ids):
                pipe.hset(base + str(job_id), mapping={
                    "name": "job", "data": "{}", "opts": "{}", "delay": "0", "priority": "0",
                    "timestamp": now - (waiting - k) * rng.randint(500, 5000)})
            pipe.lpush(base + "wait", *ids)
            next_id += waiting
        for kind, count, spread in (("completed", completed, 3_600_000 * 3),
                                    ("failed", failed, 3_600_000 * 6)):
            if count:
                members = {str(next_id + k): now - rng.randint(0, spread) for k in range(count)}
                pipe.zadd(base + kind, members)
                next_id += count
        if delayed:
            pipe.zadd(base + "delayed", {str(next_id + k): (now + 60_000) * 4096
                                         for k in range(delayed)})
            next_id += delayed
        if active:
            pipe.lpush(base + "active", *range(next_id, next_id + active))
            next_id += active
        pipe.set(base + "id", next_id - 1)
        if index % 2 == 0:
            totals["with_metrics"] += 1
            for kind, count in (("completed", completed), ("failed", failed)):
                data = [rng.randint(0, 5) for _ in range(59)]
                pipe.hset(base + f"metrics:{kind}",
                          mapping={"count": count + sum(data), "prevTS": now,
                                   "prevCount": count + sum(data) - 1})
                pipe.rpush(base + f"metrics:{kind}:data", *data)
        if index % 97 == 5:
            pipe.hset(base + "meta", "paused", 1)
            totals["paused"] += 1
        pipe.execute()
        totals["jobs"] += waiting + completed + failed + delayed + active
    return totals


def open_workers(port: int, names: list[str]) -> list[redis.Redis]:
    """A worker connection for most queues (every 13th has none: its jobs wait alone)."""
    clients = []
    for index, name in enumerate(names):
        if index % 13 == 0:
            continue
        c = redis.Redis(port=port)
        c.client_setname(f"{PREFIX}:{name}:w:bench-{index}")
        clients.append(c)
    return clients


def setup_django(url: str, names: list[str] | None) -> Any:
    import django
    from django.conf import settings

    django.setup()
    conn: dict[str, Any] = {"URL": url, "LABEL": "Bench"}
    if names is not None:
        conn["QUEUES"] = names
    settings.QUEUE_DASHBOARD = {"CONNECTIONS": {"default": conn}, "LIVE": False,
                                "SCAN_LIMIT": 100_000, "DISCOVERY_CACHE_SECONDS": 30}
    from dashboard import conf

    conf.reset()


def login() -> Any:
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.test import Client

    call_command("migrate", verbosity=0, interactive=False)
    user = User.objects.filter(username="bench").first() or User.objects.create_superuser(
        "bench", "bench@example.com", "bench")
    client = Client()
    client.force_login(user)
    return client


def _redis_cpu(server: redis.Redis) -> float:
    info = server.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


def measure(client: Any, server: redis.Redis, path: str, requests: int,
            warmup: int) -> dict[str, Any]:
    """Wall time (what a user waits) and CPU time: this process's (the view, its template and
    redis-py) and redis-server's per request. On a loaded machine the wall time grows with the
    queue for the CPU; the CPU figures do not, and their sum is the wall time of a quiet one
    (plus the round trips' latency)."""
    for _ in range(warmup):
        assert client.get(path).status_code == 200
    times, cpu = [], []
    redis_cpu = _redis_cpu(server)
    for _ in range(requests):
        started, started_cpu = time.perf_counter(), time.process_time()
        response = client.get(path)
        times.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
        assert response.status_code == 200, response.status_code
    redis_ms = (_redis_cpu(server) - redis_cpu) * 1000 / requests
    counter = CommandCounter()
    with counter.installed():
        counter.active = True
        body = client.get(path).content.decode()
        counter.active = False
    return {"path": path, "median_ms": round(statistics.median(times), 1),
            "p95_ms": round(percentile(times, 95), 1), "max_ms": round(max(times), 1),
            "cpu_median_ms": round(statistics.median(cpu), 1),
            "cpu_p95_ms": round(percentile(cpu, 95), 1),
            "redis_cpu_ms": round(redis_ms, 1),
            "commands": counter.commands, "round_trips": counter.round_trips,
            "rows": body.count('class="qd-queue-row')}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--queues", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results"))
    args = parser.parse_args()

    server = RedisProcess().start()
    workers: list[redis.Redis] = []
    try:
        client = redis.Redis(port=server.port)
        names = queue_names(args.queues)
        now = int(time.time() * 1000)
        started = time.monotonic()
        seeded = seed(client, names, now)
        print(f"seeded {args.queues} queues, {seeded['jobs']:,} jobs in "
              f"{time.monotonic() - started:.1f} s", flush=True)
        workers = open_workers(server.port, names)
        results: list[dict[str, Any]] = []
        variants = [
            ("attention sort, page 1", MOUNT),
            ("attention sort, page 2", MOUNT + "?page=2"),
            ("filter q=billing", MOUNT + "?q=billing"),
            ("sort by name, page 3", MOUNT + "?sort=name&page=3"),
            ("bad params (page=abc, sort=bogus)", MOUNT + "?page=abc&sort=bogus"),
        ]
        for mode, configured in (("QUEUES configured", names), ("discovered by SCAN", None)):
            setup_django(server.url, configured)
            http = login()
            for label, path in variants:
                row = {"label": f"{label} ({mode})",
                       **measure(http, client, path, args.requests, args.warmup)}
                results.append(row)
                print(f"{row['label']:<56} wall median {row['median_ms']:>6} p95 "
                      f"{row['p95_ms']:>6} | cpu median {row['cpu_median_ms']:>5} p95 "
                      f"{row['cpu_p95_ms']:>5} + redis {row['redis_cpu_ms']:>5} ms | "
                      f"{row['commands']:>4} cmds, {row['round_trips']} trips, "
                      f"{row['rows']} rows", flush=True)
        report = {
            "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "queues": args.queues, "seeded": seeded, "requests": args.requests,
            "warmup": args.warmup, "target_ms": TARGET_MS,
            "redis": client.info("server")["redis_version"],
            "python": platform.python_version(), "machine": platform.machine(),
            "cpus": os.cpu_count(), "load_average": os.getloadavg(), "results": results,
        }
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        path = out / f"overview-{dt.date.today().isoformat()}.json"
        path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        print(f"written to {path}")
        client.close()
    finally:
        for c in workers:
            c.close()
        server.close()


if __name__ == "__main__":
    main()
