"""Live dashboard benchmark: event-to-screen latency and daphne's CPU.

    .venv/bin/python bench/live_dashboard.py [--seconds 10] [--out bench/results]

Starts its own redis-server (free loopback port, temporary directory) and one daphne process
serving the example project, then measures:

1. event-to-screen latency, p50 and p99, at 100 and at 5,000 events per second: a producer
   adds jobs (each writes two stream entries, "added" and "waiting") and Debian's headless
   Chromium watches the queue page; a MutationObserver stamps every change of the waiting
   count, and each batch's latency is the first stamp showing a count that includes it minus
   the time its add returned (same machine, same clock). Coalescing is at its default, 4
   updates a second, so latency is bounded below by the flush interval by design.
2. the daphne process's CPU (utime + stime from /proc) while 50 websockets watch a queue
   that workers (``python -m queuecore worker`` processes) run at up to 5,000 jobs a second.

Figures are written to bench/results/live-<date>.json.
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
from tests.dashboard.wsclient import WebSocket  # noqa: E402
from tests.redisproc import RedisProcess  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
EVENTS_PER_JOB = 2  # "added" and "waiting" for a plain add
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


def latency(site: LiveSite, base: str, url: str, events_per_second: int,
            seconds: float) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    queue_name = f"latency{events_per_second}"
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
        producer = threading.Thread(target=produce,
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
        "events_per_second": events_per_second,
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


async def _watch(base: str, port: int, session: str, queue_name: str, sockets: int,
                 seconds: float, pid: int, queue: Queue) -> dict[str, float]:
    conns = [await WebSocket.connect(f"ws://127.0.0.1:{port}/ws/queue-dashboard/default/q/"
                                     f"{queue_name}/", cookie=f"sessionid={session}",
                                     origin=base) for _ in range(sockets)]
    counts = [0] * sockets
    await asyncio.sleep(1.0)  # all connected and past their first refresh

    async def drain(i: int, ws: WebSocket) -> None:
        while True:
            await ws.recv()
            counts[i] += 1

    tasks = [asyncio.create_task(drain(i, ws)) for i, ws in enumerate(conns)]
    await asyncio.sleep(0.5)
    counts[:] = [0] * sockets
    done_before = sum(queue.get_job_counts("completed", "failed").values())
    events_before = _stream_length(queue)
    cpu_before, at_before = cpu_seconds(pid), time.monotonic()
    await asyncio.sleep(seconds)
    cpu_after, at_after = cpu_seconds(pid), time.monotonic()
    wall = at_after - at_before
    result = {
        "seconds": wall,
        "cpu": cpu_after - cpu_before,
        "done": sum(queue.get_job_counts("completed", "failed").values()) - done_before,
        "events": _stream_length(queue) - events_before,
        "mean_messages": statistics.fmean(counts) / wall,
        "max_messages": max(counts) / wall,
    }
    for task in tasks:
        task.cancel()
    for ws in conns:
        await ws.close()
    return result


def cpu_under_load(site: LiveSite, daphne: Any, url: str, jobs_per_second: int,
                   sockets: int, seconds: float, workers: int) -> dict[str, Any]:
    queue_name = "cpuload"
    queue = Queue(queue_name, connection=url)
    procs = [start_worker(url, queue_name, "tests.dashboard.live_jobs:instant", concurrency=100)
             for _ in range(workers)]
    producer = multiprocessing.get_context("spawn").Process(
        target=feed, args=(url, queue_name, jobs_per_second), daemon=True)
    producer.start()
    try:
        time.sleep(3)  # workers up, rate steady
        got = asyncio.run(_watch(daphne.url, daphne.port, site.session, queue_name, sockets,
                                 seconds, daphne.proc.pid, queue))
    finally:
        producer.terminate()
        producer.join(10)
        for proc in procs:
            stop_process(proc)
        queue.close()
    wall = got["seconds"]
    return {
        "sockets": sockets,
        "target_jobs_per_second": jobs_per_second,
        "jobs_per_second": round(got["done"] / wall),
        "stream_events_per_second": round(got["events"] / wall),
        "worker_processes": workers,
        "seconds": round(wall, 1),
        "daphne_cpu_percent_of_one_core": round(100 * got["cpu"] / wall, 1),
        "messages_per_socket_per_second": round(got["mean_messages"], 2),
        "max_messages_per_socket_per_second": round(got["max_messages"], 2),
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()

    server = RedisProcess().start()
    with tempfile.TemporaryDirectory(prefix="qd-bench-") as tmp:
        site = LiveSite(Path(tmp), server.url, rate=4, page_size=25)
        try:
            daphne = site.start_daphne()
            results: dict[str, Any] = {
                "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                "python": sys.version.split()[0],
                "cpus": os.cpu_count(),
                "live_updates_per_second": 4,
                "latency": [latency(site, daphne.url, server.url, rate, args.seconds)
                            for rate in (100, 5000)],
                "cpu": cpu_under_load(site, daphne, server.url, 5000, 50, args.seconds,
                                      args.workers),
            }
        finally:
            site.close()
            server.close()
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"live-{dt.date.today().isoformat()}.json"
    path.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(results, indent=2))
    print(f"written to {path}")


if __name__ == "__main__":
    main()
