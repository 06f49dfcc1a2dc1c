"""Triage at scale: failure groups and a bulk retry at 100,000 failed jobs.

    .venv/bin/python bench/bulk_scale.py [--failed 100000] [--requests 20] [--out bench/results]

Starts its own redis-server (free loopback port, temporary directory; it never connects to
any other Redis) and seeds one queue, ``bench``, with ``--failed`` failed jobs in the shape
queuecore's worker writes them (the seeding script of bench/dashboard_speed.py), then gives a
quarter of them other failures (a Node-style ``Error`` with its stack, a timeout, a
``KeyError``) so there are several groups. The dashboard runs in-process (the example host
project, a logged-in superuser, ``django.test.Client``). Measured, with ``perf_counter``:

1. the first computation of the failure groups (every failed job read once);
2. the failures page once computed (``--requests`` timed requests: median and p95;
   target under 100 ms), and a page load right after 1,000 more jobs failed;
3. a real queuecore worker (``python -m queuecore worker``, a no-op processor) on another
   queue of the same Redis: jobs/s for 10 s alone, then during the bulk retry of every
   failed job (a tracked operation: chunks of 500 in a background thread), and the retry's
   total time.

Figures go to bench/results/bulk-<date>.json and a summary to stdout.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import redis  # noqa: E402

from bench.dashboard_speed import SEED_LUA, WORKER_TOKEN, percentile  # noqa: E402
from tests.redisproc import RedisProcess  # noqa: E402

QUEUE, OTHER, PREFIX, MOUNT = "bench", "other", "bull", "/ops/tools/queues/"
NODE_STACK = ("Error: quota exceeded for tenant {t}\n    at charge (file:///srv/app/pay.mjs:"
              "12:9)\n    at async Worker.processJob (/srv/app/node_modules/bullmq/dist/cjs/"
              "classes/worker.js:1:1)")


def seed_failed(client: redis.Redis, n: int, first: int, now: int) -> None:
    script = client.register_script(SEED_LUA)
    done = 0
    while done < n:
        k = min(5000, n - done)
        script(keys=[f"{PREFIX}:{QUEUE}:"], args=["failed", first + done, k, now, 500, n,
                                                  WORKER_TOKEN, first])
        done += k


def vary(client: redis.Redis, first: int, n: int) -> None:
    """A quarter of the jobs get other failures: Node-style, timeouts, KeyErrors."""
    pipe = client.pipeline(transaction=False)
    for i in range(first, first + n):
        kind = i % 12
        key = f"{PREFIX}:{QUEUE}:{i}"
        if kind == 0:
            pipe.hset(key, mapping={"failedReason": f"quota exceeded for tenant {i % 97}",
                                    "stacktrace": json.dumps([NODE_STACK.format(t=i % 97)])})
        elif kind == 1:
            pipe.hset(key, mapping={"failedReason": f"gateway timeout after {i % 60} s",
                                    "stacktrace": "[]"})
        elif kind == 2:
            pipe.hset(key, mapping={"failedReason": f"KeyError: 'sku-{i % 13}'",
                                    "stacktrace": "[]"})
        if i % 5000 == 0:
            pipe.execute()
    pipe.execute()


def setup_django(url: str, db: Path) -> Any:
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.dashboard.example_project.live_settings"
    os.environ.update(QD_LIVE_DB=str(db), QD_LIVE_REDIS=url,
                      QD_LIVE_SETTINGS=json.dumps({"LIVE": False}))
    import django

    django.setup()
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.test import Client

    call_command("migrate", verbosity=0, interactive=False)
    user = User.objects.create_superuser("bench", "bench@example.com", "bench")
    client = Client()
    client.force_login(user)
    return client, user


def timed_get(client: Any, path: str) -> float:
    start = time.perf_counter()
    response = client.get(path)
    elapsed = (time.perf_counter() - start) * 1000
    if response.status_code != 200:
        raise RuntimeError(f"{path}: HTTP {response.status_code}")
    return elapsed


def worker_rate(client: redis.Redis, seconds: float) -> float:
    key = f"{PREFIX}:{OTHER}:completed"
    before, start = client.zcard(key), time.perf_counter()
    time.sleep(seconds)
    return (client.zcard(key) - before) / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--failed", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args(argv)
    result: dict[str, Any] = {"failed": args.failed, "machine": platform.platform(),
                              "cpus": os.cpu_count(), "date": dt.date.today().isoformat()}
    result["load_average_before"] = [round(x, 1) for x in os.getloadavg()]
    server = RedisProcess().start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            run(server, Path(tmp), args, result)
    finally:
        server.close()
    result["load_average_after"] = [round(x, 1) for x in os.getloadavg()]
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"bulk-{dt.date.today().isoformat()}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {path}")
    return 0


def run(server: RedisProcess, tmp: Path, args: argparse.Namespace,
        result: dict[str, Any]) -> None:
    r = redis.Redis.from_url(server.url)
    now = int(time.time() * 1000)
    t0 = time.perf_counter()
    r.hset(f"{PREFIX}:{QUEUE}:meta", mapping={"opts.maxLenEvents": "10000"})
    seed_failed(r, args.failed, 1, now)
    vary(r, 1, args.failed)
    print(f"seeded {args.failed:,} failed jobs in {time.perf_counter() - t0:.1f} s")
    client, user = setup_django(server.url, tmp / "bench.sqlite3")
    from dashboard.bulk import groups as fg
    from queuecore import Queue, Triage

    with Queue(QUEUE, server.url) as q, Queue(OTHER, server.url) as other:
        t = Triage(q)
        start = time.perf_counter()
        while fg.update(t, budget_s=60).pending:
            pass
        first = time.perf_counter() - start
        found = fg.groups(t)
        result["first_computation_s"] = round(first, 2)
        result["groups"] = [(g.type, g.message, g.count) for g in found]
        print(f"first computation: {first:.2f} s, {len(found)} groups")
        page = f"{MOUNT}default/q/{QUEUE}/failures/"
        for _ in range(2):
            timed_get(client, page)
        times = [timed_get(client, page) for _ in range(args.requests)]
        result["page_ms"] = {"median": round(statistics.median(times), 1),
                             "p95": round(percentile(times, 95), 1), "target": 100}
        print(f"failures page: median {statistics.median(times):.1f} ms, "
              f"p95 {percentile(times, 95):.1f} ms")
        seed_failed(r, 1000, args.failed + 1, now + 1_000_000)
        result["page_after_1000_new_ms"] = round(timed_get(client, page), 1)
        print(f"page after 1,000 new failures: {result['page_after_1000_new_ms']} ms")

        for _ in range(80):
            other.add_bulk([{"name": "n", "data": None} for _ in range(5000)])
        worker = subprocess.Popen(
            [sys.executable, "-m", "queuecore", "worker", "bench.bulk_scale:noop",
             "--queue", OTHER, "--url", server.url, "--concurrency", "8"],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        try:
            time.sleep(3)  # warm up
            result["worker_alone_jobs_per_s"] = round(worker_rate(r, 10))
            print(f"worker on another queue, alone: {result['worker_alone_jobs_per_s']:,} "
                  "jobs/s")
            result["bulk_retry"] = []
            for n, rest in enumerate((0.0, 1.0)):
                if n:  # as many failed jobs again, new ids
                    seed_failed(r, args.failed, 10 * args.failed + 1, now)
                result["bulk_retry"].append(retry_all(q, t, user, r, rest, f"{n:032x}"))
        finally:
            worker.terminate()
            worker.wait(30)
    r.close()


def retry_all(q: Any, t: Any, user: Any, r: redis.Redis, rest: float,
              op_id: str) -> dict[str, Any]:
    """Retry every failed job as one tracked operation (``BULK_YIELD`` = ``rest``) while
    the worker runs; its time and the worker's jobs/s meanwhile (1 s samples)."""
    from django.conf import settings

    from dashboard import conf
    from dashboard.bulk import operations as ops
    from dashboard.bulk.sources import StateSource

    settings.QUEUE_DASHBOARD = {**settings.QUEUE_DASHBOARD, "BULK_YIELD": rest}
    conf.reset()
    total = q.get_job_counts("failed")["failed"]
    ops.start(t, op_id=op_id, action="retry", source=StateSource(t, "failed"), user=user)
    samples: list[float] = []
    while not _finished(ops.get(t, op_id)):
        samples.append(worker_rate(r, 1))
    ops.wait(op_id)
    state = ops.get(t, op_id)
    assert state is not None and state.done == total, state
    took = state.finished - state.started  # the operation's own start and end
    out = {"bulk_yield": rest, "jobs": total, "seconds": round(took, 2),
           "jobs_per_s": round(total / took),
           "worker_jobs_per_s_during": round(statistics.mean(samples)) if samples else None,
           "worker_samples": [round(s) for s in samples]}
    print(f"bulk retry of {total:,} (BULK_YIELD {rest}): {took:.2f} s "
          f"({total / took:,.0f} jobs/s); worker meanwhile {out['worker_jobs_per_s_during']} "
          "jobs/s")
    return out


def _finished(state: Any) -> bool:
    return state is not None and state.finished_running


async def noop(job: Any) -> None:
    """The worker's processor: does nothing (the queue's own cost is measured)."""
    return None


if __name__ == "__main__":
    raise SystemExit(main())
