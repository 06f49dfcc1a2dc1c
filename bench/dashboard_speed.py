"""Dashboard speed at 1.1M jobs: server time of every list and read page.

    .venv/bin/python bench/dashboard_speed.py [--completed 1000000] [--failed 100000]
        [--requests 20] [--warmup 2] [--out bench/results]

Starts its own redis-server (free loopback port, temporary directory, no persistence; it
never connects to any other Redis) and seeds one queue, ``bench``, in the BullMQ 6 format
with 1,000,000 completed and 100,000 failed jobs plus a few thousand waiting, active,
prioritized, delayed and waiting-children ones, 30 job schedulers and per-minute metrics.
The jobs are written by a seeding Lua script in the shape queuecore's worker writes (job hash
fields, ``completed``/``failed`` scored by finishedOn, ~200-byte data, stack traces).

Then it serves the dashboard in-process (the example host project of the tests, a logged-in
superuser, ``django.test.Client``) and times each page with ``time.perf_counter``: two
warm-up requests, then ``--requests`` timed ones; median and p95. A separate request per page
counts what it sends to Redis: commands and round trips (redis-py instrumented) and the
commands Redis ran, those inside scripts included (INFO commandstats delta).

Figures go to bench/results/dashboard-<date>.json and a table to stdout. Target: every page
under 100 ms (median).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.dashboard.example_project.settings")

import redis  # noqa: E402
import redis.connection  # noqa: E402

from tests.redisproc import RedisProcess  # noqa: E402

QUEUE = "bench"
PREFIX = "bull"
MOUNT = "/ops/tools/queues/"
TARGET_MS = 100.0
BATCH = 5000
COMPLETED_STEP_MS = 50  # one completed job every 50 ms: 1,000,000 span ~14 hours
FAILED_STEP_MS = 500  # one failed job every 500 ms: 100,000 span ~14 hours
OTHER = {"wait": 3000, "active": 50, "prioritized": 2000, "delayed": 2000,
         "waiting-children": 500}
WORKER_TOKEN = "5f0c2b8e9d1a4c7fb6e3a2d1c0b9a8f7"

# One call writes ARGV[3] jobs of one kind with ids ARGV[2] .. ARGV[2]+ARGV[3]-1. Every field
# is what queuecore's add and worker write (see the module docstring); data is ~200 bytes.
SEED_LUA = r"""
local base = KEYS[1]
local kind = ARGV[1]
local first = tonumber(ARGV[2])
local n = tonumber(ARGV[3])
local now = tonumber(ARGV[4])
local step = tonumber(ARGV[5])
local total = tonumber(ARGV[6])
local token = ARGV[7]
local rcall = redis.call
local target = {completed = "completed", failed = "failed", wait = "wait", active = "active",
                prioritized = "prioritized", delayed = "delayed",
                ["waiting-children"] = "waiting-children"}
local setKey = base .. target[kind]
local members = {}
local function int(x)  -- exact decimal text of a large integer (no exponent)
  return string.format("%.0f", x)
end
local function flush()
  if #members > 0 then
    if kind == "wait" or kind == "active" then
      rcall("LPUSH", setKey, unpack(members))
    else
      rcall("ZADD", setKey, unpack(members))
    end
    members = {}
  end
end
local trace = 'Traceback (most recent call last):\n  File \"/srv/app/billing/worker.py\", ' ..
  'line 88, in charge\n    receipt = gateway.charge(order.card, order.total)\n  File ' ..
  '\"/srv/app/billing/gateway.py\", line 141, in charge\n    raise PaymentDeclined(reply.code)' ..
  '\nbilling.gateway.PaymentDeclined: card declined (%s) for order ord-%d'
for i = 0, n - 1 do
  local id = first + i
  local sid = tostring(id)
  local key = base .. sid
  local data = string.format('{"orderId":"ord-%d","customer":{"id":%d,"email":' ..
    '"customer%d@example.com","country":"DE"},"items":[{"sku":"SKU-%d","qty":%d,' ..
    '"price":%d.99}],"currency":"EUR","note":"created by the dashboard speed benchmark"}',
    id, id % 50000, id % 50000, id % 977, id % 5 + 1, id % 300 + 1)
  local fields = {"name", "charge", "data", data, "delay", "0", "priority", "0"}
  local ts
  if kind == "completed" or kind == "failed" then
    local finished = now - (total - 1 - (id - tonumber(ARGV[8]))) * step
    local processed = finished - (id % 900 + 20)
    ts = processed - (id % 300 + 5)
    local more
    if kind == "completed" then
      more = {"opts", '{"attempts":3,"backoff":{"type":"exponential","delay":1000}}',
              "atm", "1", "ats", "1", "pb", token, "processedOn", int(processed),
              "finishedOn", int(finished), "returnvalue",
              string.format('{"ok":true,"chargeId":"ch_%d","ms":%d}', id, id % 900 + 20)}
    else
      local t = {}
      for a = 1, 3 do
        t[a] = string.format(trace, "attempt " .. a, id)
      end
      more = {"opts", '{"attempts":3,"backoff":{"type":"exponential","delay":1000}}',
              "atm", "3", "ats", "3", "pb", token, "processedOn", int(processed),
              "finishedOn", int(finished),
              "failedReason", string.format("card declined (attempt 3) for order ord-%d", id),
              "stacktrace", cjson.encode(t)}
    end
    for _, v in ipairs(more) do fields[#fields + 1] = v end
    members[#members + 1] = int(finished)
    members[#members + 1] = sid
  else
    ts = now - (n - i) * 1000
    fields[#fields + 1] = "opts"
    if kind == "prioritized" then
      local prio = id % 10 + 1
      fields[6] = tostring(prio)
      fields[#fields + 1] = string.format('{"attempts":3,"priority":%d}', prio)
      members[#members + 1] = int(prio * 4294967296 + rcall("INCR", base .. "pc") % 4294967296)
      members[#members + 1] = sid
    elseif kind == "delayed" then
      local delay = 3600000 + i * 1000
      fields[4] = tostring(delay)
      fields[#fields + 1] = string.format('{"attempts":3,"delay":%d}', delay)
      members[#members + 1] = int((ts + delay) * 4096 + 1)
      members[#members + 1] = sid
    elseif kind == "waiting-children" then
      fields[#fields + 1] = '{"attempts":1}'
      rcall("SADD", key .. ":dependencies", base .. tostring(first - 1 - (i % 100)))
      members[#members + 1] = int(ts)
      members[#members + 1] = sid
    else
      fields[#fields + 1] = '{"attempts":3}'
      if kind == "active" then
        for _, v in ipairs({"ats", "1", "pb", token, "processedOn", int(now - i * 10)}) do
          fields[#fields + 1] = v
        end
        rcall("SET", key .. ":lock", token, "PX", 3600000)
      end
      members[#members + 1] = sid
    end
  end
  fields[#fields + 1] = "timestamp"
  fields[#fields + 1] = int(ts)
  rcall("HSET", key, unpack(fields))
  if #members >= 1000 then flush() end
end
flush()
return n
"""


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


# -- seeding ----------------------------------------------------------------------------


def seed(client: redis.Redis, completed: int, failed: int, now: int) -> dict[str, Any]:
    """Write the queue; returns the ids worth opening (a completed and a failed job)."""
    base = f"{PREFIX}:{QUEUE}:"
    script = client.register_script(SEED_LUA)
    client.hset(base + "meta", mapping={"opts.maxLenEvents": "10000",
                                        "version": "queuecore:0.1.0"})
    next_id = 1
    plan = [("completed", completed, COMPLETED_STEP_MS), ("failed", failed, FAILED_STEP_MS),
            *((kind, count, 0) for kind, count in OTHER.items())]
    started = time.monotonic()
    firsts: dict[str, int] = {}
    for kind, count, step in plan:
        firsts[kind] = next_id
        done = 0
        while done < count:
            n = min(BATCH, count - done)
            script(keys=[base], args=[kind, next_id, n, now, step, count, WORKER_TOKEN,
                                      firsts[kind]])
            next_id += n
            done += n
            if done % 100_000 == 0 or done == count:
                rate = (next_id - 1) / max(time.monotonic() - started, 1e-9)
                print(f"  seeded {kind}: {done:,}/{count:,}  ({rate:,.0f} jobs/s overall)",
                      flush=True)
    client.set(base + "id", next_id - 1)
    _seed_metrics(client, base, "completed", completed, COMPLETED_STEP_MS, now)
    _seed_metrics(client, base, "failed", failed, FAILED_STEP_MS, now)
    # Logs on the completed job the benchmark opens (the job page pages them).
    opened_completed = firsts["completed"] + completed - 1
    client.rpush(f"{base}{opened_completed}:logs",
                 *(f"step {i}: charged line item {i}" for i in range(120)))
    return {"completed_id": str(opened_completed),
            "failed_id": str(firsts["failed"] + failed - 1),
            "seconds": round(time.monotonic() - started, 1)}


def _seed_metrics(client: redis.Redis, base: str, kind: str, total: int, step: int,
                  now: int) -> None:
    """BullMQ's per-minute metrics as a worker with ``max_data_points=1440`` leaves them."""
    per_minute = Counter((now - k * step) // 60_000 for k in range(total))
    current = now // 60_000
    data = [per_minute.get(current - 1 - i, 0) for i in range(1440)]
    key = f"{base}metrics:{kind}"
    client.hset(key, mapping={"count": total, "prevTS": now,
                              "prevCount": total - per_minute.get(current, 0)})
    client.delete(key + ":data")
    client.rpush(key + ":data", *data)


def seed_schedulers(url: str) -> None:
    from queuecore import Queue

    queue = Queue(QUEUE, connection=url)
    try:
        for i in range(30):
            queue.upsert_job_scheduler(f"report-{i}", every=60_000 * (i + 1),
                                       name="report", data={"report": i})
    finally:
        queue.close()


@contextmanager
def fake_workers(port: int, count: int = 4) -> Iterator[None]:
    """Connections named as a queuecore worker names them, so the workers page has rows."""
    clients = []
    for i in range(count):
        c = redis.Redis(port=port)
        c.client_setname(f"{PREFIX}:{QUEUE}:w:bench-worker-{i}")
        clients.append(c)
    try:
        yield
    finally:
        for c in clients:
            c.close()


# -- counting what a request sends ------------------------------------------------------


class CommandCounter:
    """Counts commands and round trips that redis-py sends (all connections)."""

    def __init__(self) -> None:
        self.commands = 0
        self.round_trips = 0
        self.active = False

    @contextmanager
    def installed(self) -> Iterator[CommandCounter]:
        cls = redis.connection.AbstractConnection
        send_command, pack_commands = cls.send_command, cls.pack_commands
        counter = self

        def counted_send(conn: Any, *args: Any, **kwargs: Any) -> Any:
            if counter.active:
                counter.commands += 1
                counter.round_trips += 1
            return send_command(conn, *args, **kwargs)

        def counted_pack(conn: Any, commands: Any) -> Any:
            commands = list(commands)
            if counter.active:
                counter.commands += len(commands)
                counter.round_trips += 1
            return pack_commands(conn, commands)

        cls.send_command = counted_send  # type: ignore[method-assign]
        cls.pack_commands = counted_pack  # type: ignore[method-assign]
        try:
            yield self
        finally:
            cls.send_command = send_command  # type: ignore[method-assign]
            cls.pack_commands = pack_commands  # type: ignore[method-assign]


def server_calls(client: redis.Redis) -> int:
    stats = client.info("commandstats")
    return sum(int(v["calls"]) for v in stats.values())


# -- measuring --------------------------------------------------------------------------


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
    user = User.objects.create_superuser("bench", "bench@example.com", "bench")
    client = Client()
    client.force_login(user)
    return client


def pages(ids: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, path) of every list and read page; a "#htmx" suffix asks for the fragment."""
    q = f"{MOUNT}default/q/{QUEUE}/"
    out = [("overview (QUEUES configured)", MOUNT)]
    for state in ("waiting", "active", "prioritized", "delayed", "waiting-children",
                  "completed", "failed"):
        out.append((f"queue {state}, newest, page 1", f"{q}?state={state}"))
        out.append((f"queue {state}, oldest, page 1", f"{q}?state={state}&order=oldest"))
    out += [
        ("queue completed, newest, page 5,000", f"{q}?state=completed&page=5000"),
        ("queue completed, oldest, page 5,000", f"{q}?state=completed&order=oldest&page=5000"),
        ("queue failed, newest, page 2,000", f"{q}?state=failed&page=2000"),
        ("queue waiting, oldest, last page", f"{q}?state=waiting&order=oldest&page=120"),
        ("queue completed, htmx fragment", f"{q}?state=completed&page=2#htmx"),
        ("job page, completed job", f"{q}jobs/{ids['completed_id']}/"),
        ("job page, completed, logs page 3", f"{q}jobs/{ids['completed_id']}/?logs=3"),
        ("job page, failed job", f"{q}jobs/{ids['failed_id']}/"),
        ("jump to id", f"{q}jump/?id={ids['failed_id']}"),
        ("schedulers", f"{q}schedulers/"),
        ("workers", f"{MOUNT}default/workers/"),
        ("Redis", f"{MOUNT}default/redis/"),
        ("health (JSON)", f"{MOUNT}health/"),
        ("metrics (Prometheus)", f"{MOUNT}metrics/"),
    ]
    return out


def _request(path: str) -> tuple[str, dict[str, str]]:
    if path.endswith("#htmx"):
        return path.removesuffix("#htmx"), {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "jobs"}
    return path, {}


def measure(client: Any, path: str, requests: int, warmup: int) -> dict[str, Any]:
    path, headers = _request(path)
    times = []
    status = 0
    for i in range(warmup + requests):
        t0 = time.perf_counter()
        response = client.get(path, **headers)
        elapsed = (time.perf_counter() - t0) * 1000
        status = response.status_code
        if status not in (200, 302):
            raise RuntimeError(f"{path}: HTTP {status}")
        if i >= warmup:
            times.append(elapsed)
    return {"status": status, "median_ms": round(statistics.median(times), 2),
            "p95_ms": round(percentile(times, 95), 2), "min_ms": round(min(times), 2),
            "max_ms": round(max(times), 2), "requests": requests}


def count_commands(client: Any, path: str, counter: CommandCounter,
                   admin: redis.Redis) -> dict[str, int]:
    path, headers = _request(path)
    before = server_calls(admin)
    counter.commands = counter.round_trips = 0
    counter.active = True
    try:
        client.get(path, **headers)
    finally:
        counter.active = False
    after = server_calls(admin)
    return {"commands": counter.commands, "round_trips": counter.round_trips,
            # minus the first INFO (counted once it ran)
            "server_commands": after - before - 1}


def run(args: argparse.Namespace) -> dict[str, Any]:
    redis_proc = RedisProcess().start()
    try:
        admin = redis.Redis(port=redis_proc.port, socket_timeout=60)
        version = admin.info("server")["redis_version"]
        now = int(time.time() * 1000)
        print(f"redis-server {version} on port {redis_proc.port} (private); seeding "
              f"{args.completed:,} completed + {args.failed:,} failed + "
              f"{sum(OTHER.values()):,} other jobs", flush=True)
        ids = seed(admin, args.completed, args.failed, now)
        seed_schedulers(redis_proc.url)
        memory = admin.info("memory")["used_memory_human"]
        keys = admin.dbsize()
        print(f"seeded in {ids['seconds']} s: {keys:,} keys, {memory}", flush=True)
        client = setup_django(redis_proc.url)
        counter = CommandCounter()
        results = []
        with fake_workers(redis_proc.port), counter.installed():
            for label, path in pages(ids):
                figures = measure(client, path, args.requests, args.warmup)
                figures.update(count_commands(client, path, counter, admin))
                results.append({"page": label, "path": path, **figures})
                print(f"  {label:<40} {figures['median_ms']:>8.1f} ms  p95 "
                      f"{figures['p95_ms']:>8.1f} ms  {figures['commands']:>4} cmds", flush=True)
            results.insert(1, scan_overview(client, redis_proc.url, args, counter, admin))
            results += without_metrics(client, args, counter, admin)
        return {
            "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "target_ms": TARGET_MS,
            "jobs": {"completed": args.completed, "failed": args.failed, **OTHER},
            "seed_seconds": ids["seconds"],
            "redis": {"version": version, "keys": keys, "used_memory": memory},
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                        "loadavg": os.getloadavg()},
            "requests_per_page": args.requests,
            "warmup": args.warmup,
            "pages": results,
        }
    finally:
        redis_proc.close()


def scan_overview(client: Any, url: str, args: argparse.Namespace, counter: CommandCounter,
                  admin: redis.Redis) -> dict[str, Any]:
    """The overview when queues are discovered by SCAN (no QUEUES list) over 1.1M keys."""
    from django.conf import settings

    from dashboard import conf

    saved = settings.QUEUE_DASHBOARD
    settings.QUEUE_DASHBOARD = {"CONNECTIONS": {"default": {"URL": url}}, "LIVE": False}
    conf.reset()
    try:
        t0 = time.perf_counter()
        client.get(MOUNT)  # the first request scans (cached when slow)
        cold_ms = round((time.perf_counter() - t0) * 1000, 2)
        figures = measure(client, MOUNT, args.requests, args.warmup)
        figures["first_request_ms"] = cold_ms
        figures.update(count_commands(client, MOUNT, counter, admin))
    finally:
        settings.QUEUE_DASHBOARD = saved
        conf.reset()
    label = "overview (discovered by SCAN, cached)"
    print(f"  {label:<40} {figures['median_ms']:>8.1f} ms  p95 "
          f"{figures['p95_ms']:>8.1f} ms  {figures['commands']:>4} cmds; first request "
          f"(the SCAN) {cold_ms:.0f} ms", flush=True)
    return {"page": label, "path": MOUNT, **figures}


def without_metrics(client: Any, args: argparse.Namespace, counter: CommandCounter,
                    admin: redis.Redis) -> list[dict[str, Any]]:
    """The chart's fallback (workers that record no metrics): metrics keys moved away."""
    keys = [f"{PREFIX}:{QUEUE}:metrics:{kind}{suffix}" for kind in ("completed", "failed")
            for suffix in ("", ":data")]
    for key in keys:
        admin.rename(key, key + ":bench-aside")
    out = []
    try:
        for label, path in (("overview, no metrics (sampled chart)", MOUNT),
                            ("queue completed, no metrics (sampled chart)",
                             f"{MOUNT}default/q/{QUEUE}/?state=completed")):
            figures = measure(client, path, args.requests, args.warmup)
            figures.update(count_commands(client, path, counter, admin))
            out.append({"page": label, "path": path, **figures})
            print(f"  {label:<40} {figures['median_ms']:>8.1f} ms  p95 "
                  f"{figures['p95_ms']:>8.1f} ms  {figures['commands']:>4} cmds", flush=True)
    finally:
        for key in keys:
            admin.rename(key + ":bench-aside", key)
    return out


def table(report: dict[str, Any]) -> str:
    lines = ["| page | median ms | p95 ms | Redis commands (round trips) | run by Redis |",
             "|---|---:|---:|---:|---:|"]
    for row in report["pages"]:
        flag = "" if row["median_ms"] < report["target_ms"] else " ✗"
        lines.append(f"| {row['page']} | {row['median_ms']:.1f}{flag} | {row['p95_ms']:.1f} | "
                     f"{row['commands']} ({row['round_trips']}) | {row['server_commands']} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--completed", type=int, default=1_000_000)
    parser.add_argument("--failed", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args(argv)
    report = run(args)
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = dt.date.today().isoformat()
    quick = "" if (args.completed, args.failed) == (1_000_000, 100_000) else "-small"
    path = args.out / f"dashboard-{stamp}{quick}.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    print()
    print(table(report))
    slow = [r["page"] for r in report["pages"] if r["median_ms"] >= report["target_ms"]]
    print(f"\nwrote {path}; {'all pages under' if not slow else f'{len(slow)} page(s) over'} "
          f"{report['target_ms']:.0f} ms (median)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
