"""Live dashboard benchmark: event-to-screen latency and daphne's CPU.

    .venv/bin/python bench/live_dashboard.py [--seconds 10] [--parts latency,workers,synthetic]

Starts its own redis-server (free loopback port, temporary directory) and one daphne process
serving the example project, then measures:

1. event-to-screen latency, p50 and p99, at 100 and at 5,000 events per second and of lone
   events (one job added every 0.7 s, each meeting a quiet socket): a producer
   adds jobs (each writes two stream entries, "added" and "waiting") and Debian's headless
   Chromium watches the queue page; a MutationObserver stamps every change of the waiting
   count, and each batch's latency is the first stamp showing a count that includes it minus
   the time its add returned (same machine, same clock). Coalescing is at its default, 4
   updates a second: under a steady stream latency is bounded below by the flush interval by
   design; a lone event on a quiet socket goes out at once.
2. ``workers``: the daphne process's CPU (utime + stime from /proc) while 50 websockets watch
   a queue that real workers (``python -m queuecore worker`` processes) run at up to 5,000
   jobs a second (what they reach depends on the machine: on 2 cores, far less).
3. ``synthetic``: the same 50 websockets while a writer process plays 5,000 jobs a second
   straight into Redis, so that daphne sees the full rate whatever the workers reach. Every
   few milliseconds, one call of a small Lua script of ours (server side, so the writer's
   Python stays cheap) adds the batch's jobs (hash, LPUSH wait) with "added" and "waiting",
   moves the previous batch wait -> active with "active" (prev=waiting) and "progress", and
   finishes the batch before that (active -> completed with "returnvalue", 1 in 20 -> failed
   with "failedReason", prev=active), every XADD with ``MAXLEN ~ 10000`` as BullMQ writes
   them, keeping the newest 10,000 completed and failed jobs (like removeOnComplete). So the
   counts the live feed re-reads keep moving: wait and active hold about one batch, completed
   and failed grow and are trimmed. The writer measures its own rate (jobs and stream entries
   written over its clock); the stream's ``entries-added`` counter measures it again, and the
   table reports both with the CPU of daphne, redis-server and the writer.

Each socket is a real websocket client (tests/dashboard/wsclient.py) that receives and counts
every frame. Figures are written to bench/results/live-<date>.json and printed as a table.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import multiprocessing
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from queuecore import Queue  # noqa: E402
from tests.dashboard.livesite import (  # noqa: E402
    MOUNT,
    LiveSite,
    start_worker,
    stop_process,
)
from tests.dashboard.wsclient import Closed, WebSocket  # noqa: E402
from tests.redisproc import RedisProcess  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
EVENTS_PER_JOB = 2  # "added" and "waiting" for a plain add
LONE_GAP_S = 0.7  # lone events: longer than the coalescing interval (0.25 s at 4/s)
OBSERVER = """() => {
  window.qdStamps = [];
  new MutationObserver(() => {
    const el = document.getElementById("tab-count-waiting");
    if (el) window.qdStamps.push([Date.now(), parseInt(el.textContent, 10)]);
  }).observe(document.body, {subtree: true, childList: true, characterData: true});
}"""


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def produce(url: str, queue_name: str, events_per_second: int, seconds: float,
            sent: list[tuple[float, int]]) -> None:
    """Add jobs at the rate, in a batch every 10 ms; record (time added, total so far)."""
    queue = Queue(queue_name, connection=url)
    jobs_per_second = events_per_second / EVENTS_PER_JOB
    total = 0
    start = time.monotonic()
    try:
        while (elapsed := time.monotonic() - start) < seconds:
            due = min(int(jobs_per_second * elapsed) + 1, total + 100)
            if due > total:
                queue.add_bulk([{"name": "bench", "data": {"i": i}} for i in range(total, due)])
                total = due
                sent.append((time.time() * 1000, total))
            time.sleep(0.005)
    finally:
        queue.close()


def produce_lone(url: str, queue_name: str, events_per_second: int, seconds: float,
                 sent: list[tuple[float, int]]) -> None:
    """One job every LONE_GAP_S seconds (longer than the coalescing interval): each change
    meets a quiet socket; record (time added, total so far)."""
    queue = Queue(queue_name, connection=url)
    try:
        for total in range(1, max(2, int(seconds / LONE_GAP_S)) + 1):
            queue.add("bench", {"i": total})
            sent.append((time.time() * 1000, total))
            time.sleep(LONE_GAP_S)
    finally:
        queue.close()


def latency(site: LiveSite, base: str, url: str, events_per_second: int,
            seconds: float, lone: bool = False) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    queue_name = "lone" if lone else f"latency{events_per_second}"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        context = browser.new_context()
        context.add_cookies([{"name": "sessionid", "value": site.session, "url": base}])
        page = context.new_page()
        page.goto(f"{base}{MOUNT}default/q/{queue_name}/")
        page.wait_for_function(
            "() => document.getElementById('qd-live-status').textContent === 'live'")
        page.wait_for_timeout(500)
        page.evaluate(OBSERVER)
        sent: list[tuple[float, int]] = []
        producer = threading.Thread(target=produce_lone if lone else produce,
                                    args=(url, queue_name, events_per_second, seconds, sent))
        producer.start()
        producer.join()
        page.wait_for_timeout(1500)
        stamps: list[list[float]] = page.evaluate("() => window.qdStamps")
        browser.close()
    delays = []
    for at, total in sent:
        shown = next((t for t, count in stamps if count >= total), None)
        if shown is not None:
            delays.append(shown - at)
    return {
        "events_per_second": "lone" if lone else events_per_second,
        "seconds": seconds,
        "events": sent[-1][1] * EVENTS_PER_JOB if sent else 0,
        "batches": len(sent),
        "screen_updates": len(stamps),
        "latency_ms_p50": round(percentile(delays, 50), 1),
        "latency_ms_p99": round(percentile(delays, 99), 1),
        "latency_ms_mean": round(statistics.fmean(delays), 1) if delays else None,
        "unmatched_batches": len(sent) - len(delays),
    }


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


Probe = Callable[[], dict[str, float]]


async def _watch(base: str, port: int, session: str, queue_name: str, sockets: int,
                 seconds: float, pids: dict[str, int], probe: Probe) -> dict[str, Any]:
    """Open ``sockets`` websockets on the queue's page, let them receive and count frames,
    and measure over ``seconds``: frames per socket, the CPU of each of ``pids`` and the
    change of every counter ``probe`` returns. A socket the server closes (a refused
    handshake comes as an accept and then a close) is counted with its close code in
    ``closed``, never silently as a socket that received nothing."""
    conns = [await WebSocket.connect(f"ws://127.0.0.1:{port}/ws/queue-dashboard/default/q/"
                                     f"{queue_name}/", cookie=f"sessionid={session}",
                                     origin=base) for _ in range(sockets)]
    counts = [0] * sockets
    sizes = [0] * sockets
    closed: dict[int, int] = {}  # socket -> close code

    async def drain(i: int, ws: WebSocket) -> None:
        while True:
            try:
                frame = await ws.recv()
            except Closed as exc:
                closed[i] = exc.code
                return
            except (ConnectionError, asyncio.IncompleteReadError):
                closed[i] = -1
                return
            counts[i] += 1
            sizes[i] += len(frame)

    tasks = [asyncio.create_task(drain(i, ws)) for i, ws in enumerate(conns)]
    # Each socket past its first refresh (or closed) before the window opens.
    deadline = time.monotonic() + 30
    while any(not counts[i] and i not in closed for i in range(sockets)):
        if time.monotonic() > deadline:
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.5)
    counts[:] = [0] * sockets
    sizes[:] = [0] * sockets
    closed_before = len(closed)
    before = probe()
    cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    at_before = time.monotonic()
    await asyncio.sleep(seconds)
    cpu_after = {name: cpu_seconds(pid) for name, pid in pids.items()}
    at_after = time.monotonic()
    after = probe()
    frames = list(counts)
    wall = at_after - at_before
    alive = sum(1 for t in tasks if not t.done())
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    for ws in conns:
        await ws.close()
    return {
        "seconds": wall,
        "cpu": {name: cpu_after[name] - cpu_before[name] for name in pids},
        "delta": {name: after[name] - before[name] for name in after},
        "frames": frames,
        "bytes": sum(sizes),
        "sockets_alive": alive,
        "closed_before_window": closed_before,
        "close_codes": sorted(closed.values()),
    }


def _frame_figures(got: dict[str, Any]) -> dict[str, Any]:
    wall = got["seconds"]
    frames = got["frames"]
    return {
        "sockets_receiving": sum(1 for n in frames if n),
        "sockets_without_frames": sum(1 for n in frames if not n),
        "sockets_alive_at_end": got["sockets_alive"],
        "sockets_closed_before_window": got["closed_before_window"],
        "close_codes": got["close_codes"],
        "frames_per_socket_per_second": round(statistics.fmean(frames) / wall, 2),
        "min_frames_per_socket_per_second": round(min(frames) / wall, 2),
        "max_frames_per_socket_per_second": round(max(frames) / wall, 2),
        "kbytes_per_socket_per_second": round(got["bytes"] / len(frames) / wall / 1024, 1),
    }


def _cpu_figures(got: dict[str, Any]) -> dict[str, float]:
    wall = got["seconds"]
    return {f"{name}_cpu_percent_of_one_core": round(100 * cpu / wall, 1)
            for name, cpu in got["cpu"].items()}


def cpu_under_load(site: LiveSite, daphne: Any, server: RedisProcess, jobs_per_second: int,
                   sockets: int, seconds: float, workers: int) -> dict[str, Any]:
    """Real workers: as many jobs a second as they reach, up to ``jobs_per_second``."""
    url = server.url
    queue_name = "cpuload"
    queue = Queue(queue_name, connection=url)
    procs = [start_worker(url, queue_name, "tests.dashboard.live_jobs:instant", concurrency=100)
             for _ in range(workers)]
    producer = multiprocessing.get_context("spawn").Process(
        target=feed, args=(url, queue_name, jobs_per_second), daemon=True)
    producer.start()

    def probe() -> dict[str, float]:
        return {"done": sum(queue.get_job_counts("completed", "failed").values()),
                "events": _stream_length(queue)}

    try:
        time.sleep(3)  # workers up, rate steady
        got = asyncio.run(_watch(daphne.url, daphne.port, site.session, queue_name, sockets,
                                 seconds, {"daphne": daphne.proc.pid,
                                           "redis": server.proc.pid}, probe))
    finally:
        producer.terminate()
        producer.join(10)
        for proc in procs:
            stop_process(proc)
        queue.close()
    wall = got["seconds"]
    return {
        "mode": "workers",
        "sockets": sockets,
        "target_jobs_per_second": jobs_per_second,
        "jobs_per_second": round(got["delta"]["done"] / wall),
        "stream_events_per_second": round(got["delta"]["events"] / wall),
        "worker_processes": workers,
        "seconds": round(wall, 1),
        **_cpu_figures(got),
        **_frame_figures(got),
    }


def feed(url: str, queue_name: str, jobs_per_second: int) -> None:
    """Add jobs at the rate (in its own process), holding the backlog under a second's worth."""
    q = Queue(queue_name, connection=url)
    start = time.monotonic()
    added = 0
    while True:
        due = int(jobs_per_second * (time.monotonic() - start)) + 1
        if due > added and q.get_job_counts("waiting")["waiting"] < jobs_per_second:
            n = min(due - added, 500)
            q.add_bulk([{"name": "load", "data": {}} for _ in range(n)])
            added += n
        time.sleep(0.005)


def _stream_length(queue: Queue) -> int:
    """Entries added to the event stream so far (XINFO's entries-added, trim-proof)."""
    import redis

    try:
        info = queue.client.xinfo_stream(f"bull:{queue.name}:events")
    except redis.ResponseError:
        return 0
    return int(info.get("entries-added", info.get("entries_added", 0)))


# -- the synthetic writer --

#: One batch of job lives, server side. KEYS: wait, active, completed, failed, events, id.
#: ARGV: key prefix of a job ("bull:<queue>:"), jobs to add, to activate, to finish, now (ms),
#: the stream's MAXLEN, finished jobs kept per set, every how many job ids one fails.
#: Returns {stream entries written, jobs added, activated, finished}.
LIFE_SCRIPT = """
local wait, active, completed, failed = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local events, idkey = KEYS[5], KEYS[6]
local base, now, maxlen = ARGV[1], ARGV[5], ARGV[6]
local nadd, nact, nfin = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local keep, fail_every = tonumber(ARGV[7]), tonumber(ARGV[8])
local written, added, activated, finished = 0, 0, 0, 0
local function emit(...)
  redis.call("XADD", events, "MAXLEN", "~", maxlen, "*", "event", ...)
  written = written + 1
end
for _ = 1, nadd do
  local id = tostring(redis.call("INCR", idkey))
  redis.call("HSET", base .. id, "name", "synthetic", "data", '{"n":' .. id .. '}',
             "opts", '{"attempts":1}', "timestamp", now, "delay", "0", "priority", "0",
             "atm", "0", "ats", "0")
  redis.call("LPUSH", wait, id)
  emit("added", "jobId", id, "name", "synthetic")
  emit("waiting", "jobId", id)
  added = added + 1
end
for _ = 1, nact do
  local id = redis.call("RPOPLPUSH", wait, active)
  if not id then break end
  redis.call("HSET", base .. id, "processedOn", now, "ats", "1", "progress", "50")
  emit("active", "jobId", id, "prev", "waiting")
  emit("progress", "jobId", id, "data", "50")
  activated = activated + 1
end
for _ = 1, nfin do
  local id = redis.call("RPOP", active)
  if not id then break end
  if fail_every > 0 and tonumber(id) % fail_every == 0 then
    redis.call("HSET", base .. id, "failedReason", "synthetic <failure>", "stacktrace", "[]",
               "atm", "1", "finishedOn", now)
    redis.call("ZADD", failed, now, id)
    emit("failed", "jobId", id, "failedReason", "synthetic <failure>", "prev", "active")
  else
    redis.call("HSET", base .. id, "returnvalue", '{"ok":true}', "atm", "1",
               "finishedOn", now)
    redis.call("ZADD", completed, now, id)
    emit("completed", "jobId", id, "returnvalue", '{"ok":true}', "prev", "active")
  end
  finished = finished + 1
end
for _, set in ipairs({completed, failed}) do
  local extra = redis.call("ZCARD", set) - keep
  if extra > 0 then
    for _, id in ipairs(redis.call("ZRANGE", set, 0, extra - 1)) do
      redis.call("DEL", base .. id)
    end
    redis.call("ZREMRANGEBYRANK", set, 0, extra - 1)
  end
end
return {written, added, activated, finished}
"""
STREAM_MAXLEN = 10_000
KEEP_FINISHED = 10_000
FAIL_EVERY = 20
BATCH_SECONDS = 0.004


def synthetic_writer(url: str, queue_name: str, jobs_per_second: int,
                     counters: Any, stop: Any) -> None:
    """Play ``jobs_per_second`` job lives into the queue until ``stop`` is set, one batch every
    ``BATCH_SECONDS`` on a fixed schedule (a late batch catches up, at most 50 ms' worth);
    ``counters`` (shared doubles) gets [entries written, jobs added, jobs finished, seconds]."""
    import redis

    client = redis.Redis.from_url(url)
    script = client.register_script(LIFE_SCRIPT)
    prefix = f"bull:{queue_name}:"
    keys = [prefix + k for k in ("wait", "active", "completed", "failed", "events", "id")]
    client.hset(prefix + "meta", mapping={"opts.maxLenEvents": STREAM_MAXLEN,
                                          "version": "bullmq:6.7.0"})
    cap = max(1, int(jobs_per_second * 0.05))
    waiting = active = 0  # jobs this writer left in wait / active after its last batch
    added_total = 0
    start = time.monotonic()
    tick = 0
    try:
        while not stop.is_set():
            elapsed = time.monotonic() - start
            due = int(jobs_per_second * elapsed)
            n = min(due - added_total, cap)
            written, added, activated, finished = script(
                keys=keys,
                args=[prefix, n, waiting, active, int(time.time() * 1000), STREAM_MAXLEN,
                      KEEP_FINISHED, FAIL_EVERY])
            added_total += added
            waiting, active = waiting - activated + added, active - finished + activated
            with counters.get_lock():
                counters[0] += written
                counters[1] += added
                counters[2] += finished
                counters[3] = time.monotonic() - start
            tick += 1
            pause = start + tick * BATCH_SECONDS - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            elif pause < -0.05:  # far behind: re-base the schedule, the rate shows it
                tick = int((time.monotonic() - start) / BATCH_SECONDS)
    finally:
        client.close()


def synthetic_load(site: LiveSite, daphne: Any, server: RedisProcess, jobs_per_second: int,
                   sockets: int, seconds: float) -> dict[str, Any]:
    """The synthetic writer at ``jobs_per_second`` with ``sockets`` websockets watching."""
    ctx = multiprocessing.get_context("spawn")
    counters = ctx.Array("d", 4)
    stop = ctx.Event()
    queue_name = "synthetic"
    queue = Queue(queue_name, connection=server.url)
    writer = ctx.Process(target=synthetic_writer,
                         args=(server.url, queue_name, jobs_per_second, counters, stop),
                         daemon=True)
    writer.start()

    def probe() -> dict[str, float]:
        with counters.get_lock():
            written, added, finished, clock = counters[:]
        return {"written": written, "added": added, "finished": finished,
                "writer_clock": clock, "stream": _stream_length(queue)}

    try:
        time.sleep(3)  # the writer steady
        assert writer.pid is not None
        got = asyncio.run(_watch(daphne.url, daphne.port, site.session, queue_name, sockets,
                                 seconds, {"daphne": daphne.proc.pid, "redis": server.proc.pid,
                                           "writer": writer.pid}, probe))
        counts = queue.get_job_counts("waiting", "active", "completed", "failed")
    finally:
        stop.set()
        writer.join(10)
        if writer.is_alive():
            writer.terminate()
            writer.join(10)
        queue.close()
    wall = got["seconds"]
    delta = got["delta"]
    clock = delta["writer_clock"] or wall
    return {
        "mode": "synthetic",
        "sockets": sockets,
        "target_jobs_per_second": jobs_per_second,
        "writer_jobs_per_second": round(delta["finished"] / clock),
        "writer_added_per_second": round(delta["added"] / clock),
        "writer_events_per_second": round(delta["written"] / clock),
        "stream_events_per_second": round(delta["stream"] / wall),
        "events_per_job": round(delta["written"] / max(delta["added"], 1), 2),
        "batch_ms": BATCH_SECONDS * 1000,
        "counts_at_end": counts,
        "seconds": round(wall, 1),
        **_cpu_figures(got),
        **_frame_figures(got),
    }


# -- report --

def table(results: dict[str, Any]) -> str:
    rows: list[tuple[str, str]] = []
    for lat in results.get("latency", []):
        rate = lat["events_per_second"]
        rows.append((f"latency at {rate} events/s" if rate != "lone" else
                     f"latency of a lone event (one every {LONE_GAP_S} s)",
                     f"p50 {lat['latency_ms_p50']} ms, p99 {lat['latency_ms_p99']} ms "
                     f"({lat['events']} events, {lat['screen_updates']} screen updates)"))
    for key in ("cpu", "cpu_synthetic"):
        run = results.get(key)
        if not run:
            continue
        label = "real workers" if run["mode"] == "workers" else "synthetic writer"
        if run["mode"] == "workers":
            rate = (f"{run['jobs_per_second']} jobs/s, "
                    f"{run['stream_events_per_second']} events/s (stream)")
        else:
            rate = (f"{run['writer_jobs_per_second']} jobs/s, "
                    f"{run['writer_events_per_second']} events/s (writer), "
                    f"{run['stream_events_per_second']} events/s (stream)")
        rows.append((f"{label}: rate reached (target {run['target_jobs_per_second']} jobs/s)",
                     rate))
        cpus = ", ".join(f"{k.removesuffix('_cpu_percent_of_one_core')} {v} %"
                         for k, v in run.items() if k.endswith("_cpu_percent_of_one_core"))
        rows.append((f"{label}: CPU, % of one core", cpus))
        rows.append((f"{label}: frames/s per socket ({run['sockets']} sockets)",
                     f"mean {run['frames_per_socket_per_second']}, "
                     f"min {run['min_frames_per_socket_per_second']}, "
                     f"max {run['max_frames_per_socket_per_second']} "
                     f"({run['kbytes_per_socket_per_second']} KiB/s each; "
                     f"{run['sockets_receiving']} receiving, "
                     f"{run['sockets_without_frames']} without frames, "
                     f"close codes {run['close_codes'] or 'none'})"))
    width = max(len(r[0]) for r in rows) if rows else 0
    return "\n".join(f"{name.ljust(width)}  {value}" for name, value in rows)


def site_settings(sockets: int) -> dict[str, int]:
    """The live caps for ``sockets`` sockets of one user opened back to back: above the
    default socket cap (20), and a message burst that covers their handshakes (each one
    costs a message token: with the default burst of 40, the sockets past about the 40th
    were refused with 4429 and counted as sockets that received nothing)."""
    return {"LIVE_SOCKETS_PER_USER": max(100, 2 * sockets),
            "LIVE_MESSAGE_BURST": max(40, 2 * sockets + 20)}


PARTS = ("latency", "workers", "synthetic")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--jobs-per-second", type=int, default=5000)
    parser.add_argument("--sockets", type=int, default=50)
    parser.add_argument("--parts", default=",".join(PARTS),
                        help="comma-separated, of: " + ", ".join(PARTS))
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()
    parts = {p.strip() for p in args.parts.split(",") if p.strip()}
    if not parts <= set(PARTS):
        parser.error(f"unknown part(s): {', '.join(sorted(parts - set(PARTS)))}")

    server = RedisProcess().start()
    with tempfile.TemporaryDirectory(prefix="qd-bench-") as tmp:
        site = LiveSite(Path(tmp), server.url, rate=4, page_size=25,
                        settings=site_settings(args.sockets))
        try:
            daphne = site.start_daphne()
            results: dict[str, Any] = {
                "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                "python": sys.version.split()[0],
                "cpus": os.cpu_count(),
                "live_updates_per_second": 4,
            }
            if "latency" in parts:
                results["latency"] = [latency(site, daphne.url, server.url, rate, args.seconds)
                                      for rate in (100, 5000)]
                results["latency"].append(latency(site, daphne.url, server.url, 0,
                                                  max(args.seconds, 14.0), lone=True))
            if "workers" in parts:
                results["cpu"] = cpu_under_load(site, daphne, server, args.jobs_per_second,
                                                args.sockets, args.seconds, args.workers)
            if "synthetic" in parts:
                results["cpu_synthetic"] = synthetic_load(site, daphne, server,
                                                          args.jobs_per_second, args.sockets,
                                                          args.seconds)
        finally:
            site.close()
            server.close()
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"live-{dt.date.today().isoformat()}.json"
    path.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(results, indent=2))
    print()
    print(table(results))
    print(f"written to {path}")


if __name__ == "__main__":
    main()
