"""Search at 1.1M jobs: time to the first results of a data-path search, time to the end of
a full scan, and the longest single Redis call while it scans.

    .venv/bin/python bench/search_scale.py [--completed 1000000] [--failed 100000]
        [--out bench/results]

Starts its own redis-server (free loopback port, temporary directory, no persistence; it
never connects to any other Redis) and seeds one queue, ``bench``, in BullMQ 6's format:
job hashes (name, ~150-byte data, opts, timestamps, atm, returnvalue or failedReason and a
stack trace) written with pipelines of HSET + ZADD, 5,000 jobs per round trip. One
completed job in 50,000 belongs to customer 4242 (20 in a million) and one failed job in
1,000 failed with "card declined".

Measured, each from a cold start of the scan:

- the page's way: the search step view (``django.test.Client`` on the example project,
  a superuser) called as the page chains it, until the first step that returns rows (time to
  first results) and until the step that says the scan is done (full scan through the view);
- ``iter_matching_ids`` over the whole state (the service API, no HTTP);
- the longest single Redis call during the scans: SLOWLOG (reset before, every call slower
  than 20 µs logged, the log long enough to keep them all; per command: count, median, p99,
  max) and LATENCY LATEST (events of 1 ms or more). On a loaded machine the wall time of a
  call includes waiting for a CPU; the load average is recorded with the figures.

Figures go to bench/results/search-<date>.json and to stdout. Targets: first results under
1 s, no Redis call over 10 ms.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import signal
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.dashboard.example_project.settings")

import redis  # noqa: E402

from bench.redis_server import PrivateRedis  # noqa: E402

QUEUE = "bench"
PREFIX = "bull"
MOUNT = "/ops/tools/queues/"
PIPELINE = 5000
SLOWLOG_US = 20


def seed(client: redis.Redis, completed: int, failed: int) -> float:
    """Write the jobs; returns the seconds it took."""
    base = f"{PREFIX}:{QUEUE}:"
    now = int(time.time() * 1000) - (completed + failed) * 2
    started = time.perf_counter()
    opts = json.dumps({"attempts": 3, "backoff": {"type": "exponential", "delay": 1000}})
    pipe = client.pipeline(transaction=False)
    for n in range(1, completed + failed + 1):
        is_failed = n > completed
        ts = now + n * 2
        data = {"customer": {"id": 4242 if n % 50_000 == 0 else n % 40_000,
                             "region": ("eu", "us", "ap")[n % 3]},
                "order": {"id": f"ord-{n}", "lines": n % 7 + 1}, "note": "x" * 40}
        fields: dict[str, Any] = {
            "name": "invoice" if n % 4 else "refund", "data": json.dumps(data), "opts": opts,
            "timestamp": ts, "processedOn": ts + 1, "finishedOn": ts + 2,
            "atm": 3 if is_failed else 1, "ats": 3 if is_failed else 1, "delay": 0,
            "priority": 0,
        }
        if is_failed:
            fields["failedReason"] = ("card declined" if n % 1000 == 0
                                      else f"gateway timeout after {n % 30} s")
            fields["stacktrace"] = json.dumps(["Error: failed\n    at charge (pay.js:10:5)"])
            pipe.hset(base + str(n), mapping=fields)
            pipe.zadd(base + "failed", {str(n): ts + 2})
        else:
            fields["returnvalue"] = json.dumps({"ok": True, "n": n})
            pipe.hset(base + str(n), mapping=fields)
            pipe.zadd(base + "completed", {str(n): ts + 2})
        if n % PIPELINE == 0:
            pipe.execute()
    pipe.execute()
    client.set(base + "id", completed + failed)
    client.hset(base + "meta", mapping={"opts.maxLenEvents": 10000, "version": "bullmq:6.7.0"})
    return time.perf_counter() - started


def setup_django(url: str) -> Any:
    import django
    from django.conf import settings

    django.setup()
    settings.QUEUE_DASHBOARD = {
        "CONNECTIONS": {"default": {"URL": url, "LABEL": "Bench", "QUEUES": [QUEUE]}},
        "LIVE": False,
    }
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.test import Client

    from dashboard import conf

    conf.reset()
    call_command("migrate", verbosity=0, interactive=False)
    client = Client()
    client.force_login(User.objects.create_superuser("bench", "bench@example.com", "bench"))
    return client


def reset_probes(client: redis.Redis) -> None:
    client.config_set("slowlog-log-slower-than", SLOWLOG_US)
    client.config_set("slowlog-max-len", 1_000_000)
    client.config_set("latency-monitor-threshold", 1)
    client.slowlog_reset()
    client.execute_command("LATENCY", "RESET")


def read_probes(client: redis.Redis) -> dict[str, Any]:
    entries = client.slowlog_get(1_000_000)
    longest = max(entries, key=lambda e: e["duration"], default=None)
    latency = client.execute_command("LATENCY", "LATEST")
    per_command: dict[str, list[int]] = {}
    for entry in entries:
        name = entry["command"].split()[0].decode()
        per_command.setdefault(name, []).append(int(entry["duration"]))
    return {
        "slowlog_threshold_us": SLOWLOG_US,
        "calls_over_threshold": len(entries),
        # On a loaded machine a call's wall time includes the server being descheduled: the
        # spread per command shows which calls are slow by their work (a window's range
        # read) and which only by waiting for a CPU (a two-field HMGET).
        "per_command_us": {
            name: {"count": len(d), "median": sorted(d)[len(d) // 2],
                   "p99": sorted(d)[int(len(d) * 0.99)], "max": max(d),
                   "over_10ms": sum(1 for v in d if v > 10_000)}
            for name, d in per_command.items()},
        "longest_call_us": longest["duration"] if longest else None,
        "longest_call": (" ".join(str(a) for a in longest["command"].split()[:4])
                         if longest else None),
        "latency_events_1ms": [[str(e[0]), int(e[2]), int(e[3])] for e in latency or []],
    }


def through_the_view(http: Any, state: str, query: str) -> dict[str, Any]:
    """Chain the step view as the page does (each step's cursor and count of shown rows)."""
    from dashboard.search.page import PAGE_MATCHES

    path = f"{MOUNT}default/q/{QUEUE}/search/"
    # The queue page comes first (as for a user): its templates and session are warm.
    http.get(f"{MOUNT}default/q/{QUEUE}/", {"q": query, "state": state})
    cursor, shown, steps, first = 0, 0, 0, None
    started = time.perf_counter()
    while True:
        body = http.get(path, {"q": query, "state": state, "cursor": cursor,
                               "shown": shown % PAGE_MATCHES}).content.decode()
        steps += 1
        rows = body.count('class="qd-search-row"')
        if rows and first is None:
            first = time.perf_counter() - started
        shown += rows
        if "Scan finished" in body:
            break
        marker = 'hx-get="' + path + "?"
        at = body.find(marker)
        if at < 0:  # the page is full: go on from its "next" link, as a user would
            at = body.find('href="' + f"{MOUNT}default/q/{QUEUE}/?")
        url = body[at:].split('"')[1].replace("&amp;", "&")
        cursor = int(url.split("cursor=")[1].split("&")[0])
    return {"query": query, "state": state, "first_results_s": first,
            "full_scan_s": time.perf_counter() - started, "steps": steps, "matches": shown}


def with_the_iterator(url: str, state: str, query: str) -> dict[str, Any]:
    from dashboard.search import iter_matching_ids, parse_query
    from queuecore import Queue

    with Queue(QUEUE, connection=url, prefix=PREFIX) as queue:
        started = time.perf_counter()
        first, found = None, 0
        for _ in iter_matching_ids(queue, state, parse_query(query)):
            found += 1
            if first is None:
                first = time.perf_counter() - started
        return {"query": query, "state": state, "first_match_s": first,
                "full_scan_s": time.perf_counter() - started, "matches": found}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--completed", type=int, default=1_000_000)
    parser.add_argument("--failed", type=int, default=100_000)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()

    # A TERM (or Ctrl-C) still runs the ``finally`` that stops the private redis-server.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    server = PrivateRedis().start()
    try:
        assert server.client is not None
        client = server.client
        print(f"seeding {args.completed:,} completed and {args.failed:,} failed jobs…",
              flush=True)
        seconds = seed(client, args.completed, args.failed)
        print(f"seeded in {seconds:.1f} s", flush=True)
        http = setup_django(server.url)
        runs: list[dict[str, Any]] = []
        for state, query in (("completed", "data.customer.id:4242"),
                             ("failed", "reason:declined data.customer.region:eu")):
            reset_probes(client)
            view = through_the_view(http, state, query)
            view.update(read_probes(client))
            view["via"] = "step view (django.test.Client)"
            runs.append(view)
            print(json.dumps(view), flush=True)
            reset_probes(client)
            it = with_the_iterator(server.url, state, query)
            it.update(read_probes(client))
            it["via"] = "iter_matching_ids"
            runs.append(it)
            print(json.dumps(it), flush=True)
        result = {
            "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                        "redis": server.version(), "load_average": os.getloadavg()},
            "jobs": {"completed": args.completed, "failed": args.failed},
            "seed_s": round(seconds, 1),
            "runs": runs,
        }
        args.out.mkdir(parents=True, exist_ok=True)
        path = args.out / f"search-{dt.date.today().isoformat()}.json"
        path.write_text(json.dumps(result, indent=2) + "\n")
        print(f"written to {path}")
    finally:
        server.close()


if __name__ == "__main__":
    main()
