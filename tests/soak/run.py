"""The chaos soak: mixed traffic through queuecore's public API while a chaos driver kills
workers, restarts Redis and spoils the network; then the ledger's verdict.

    python -m tests.soak.run --minutes 60 --out bench/results/soak-<date>.json --docs

Everything runs on this machine and belongs to the run: a private redis-server with AOF
(``appendonly yes``, ``appendfsync always``: every acknowledged write is on disk before its
reply, so even a SIGKILLed Redis loses nothing and "no job lost" is a strict check, not a
likely one), a TCP proxy in front of it (every queuecore client connects through it), worker
processes (``python -m queuecore worker`` and a rate-limited driver), a producer process, and
daphne serving the dashboard to a few live sockets (directly on Redis, not the proxy).
``make soak`` runs the hour; ``tests/soak/test_soak.py`` runs the same checks scaled down.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis

from queuecore import Queue
from tests.redisproc import RedisProcess
from tests.reliability.invariants import check_invariants
from tests.tcp_proxy import TcpProxy

from .chaos import Chaos
from .ledger import Ledger, read_entries
from .monitor import DashboardWatchers, RssSampler, leak_figures
from .report import table, write_docs
from .verify import verify
from .workers import LIMITED_QUEUE, MAIN_QUEUE, MAX_STALLED, ROOT, Fleet

SCHEDULER = "tick"
EVERY_MS = 1000
LIMIT = (5, 1000)
QUIET = ("waiting", "active", "delayed", "prioritized", "waiting-children", "paused")


@dataclass
class Settings:
    minutes: float
    interval: float
    rate: float
    seed: int
    dashboard: bool = True
    cli_workers: int = 3
    limited_workers: int = 2
    sockets: int = 4
    warmup_s: float = 10.0
    calm_s: float = 40.0
    drain_s: float = 300.0


def wait_until(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout:.0f} s")
        time.sleep(0.5)


def drained(queues: list[Queue]) -> bool:
    try:
        return all(not any(q.get_job_counts(*QUIET).values()) for q in queues)
    except Exception:
        return False


def start_producer(url: str, ledger_dir: Path, log_dir: Path, s: Settings
                   ) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with (log_dir / "producer.log").open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "tests.soak.producer", url, str(ledger_dir),
             "--rate", str(s.rate), "--seed", str(s.seed)],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)


def start_dashboard(work: Path, redis_url: str, s: Settings) -> tuple[Any, Any, Any]:
    from tests.dashboard.livesite import LiveSite  # Django is only needed here

    (work / "site").mkdir()
    site = LiveSite(work / "site", redis_url)
    daphne = site.start_daphne()
    watchers = DashboardWatchers(daphne.port, daphne.url, site.session, MAIN_QUEUE, s.sockets)
    watchers.start()
    return site, daphne, watchers


def run_soak(s: Settings, work: Path) -> dict[str, Any]:
    """Run the soak in ``work`` (ledgers and logs stay there) and return the results."""
    ledger_dir, log_dir = work / "ledger", work / "logs"
    ledger_dir.mkdir(parents=True)
    log_dir.mkdir()
    server = RedisProcess({"appendonly": "yes", "appendfsync": "always"}).start()
    proxy = TcpProxy(server.port, seed=s.seed)
    url = f"redis://127.0.0.1:{proxy.port}/0"
    fleet = Fleet(url, ledger_dir, log_dir, LIMIT)
    driver = Ledger(ledger_dir, "driver")
    site = daphne = watchers = producer = None
    sampler: RssSampler | None = None
    chaos: Chaos | None = None
    problems: list[str] = []
    direct = [Queue(MAIN_QUEUE, server.url), Queue(LIMITED_QUEUE, server.url)]
    try:
        direct[0].upsert_job_scheduler(SCHEDULER, every=EVERY_MS, name="tick",
                                       data={"sleep": 0.01})
        driver.note("sched", SCHEDULER, EVERY_MS)
        if s.dashboard:
            site, daphne, watchers = start_dashboard(work, server.url, s)
        for slot in range(s.cli_workers):
            fleet.start("cli", slot, steady=slot == 0)
        for slot in range(s.limited_workers):
            fleet.start("limited", slot, steady=slot == 0)
        producer = start_producer(url, ledger_dir, log_dir, s)
        t0 = time.time()
        pids = {w.name: w.pid for w in fleet.current.values() if w.steady}
        pids["producer"] = producer.pid
        if daphne is not None:
            pids["daphne"] = daphne.proc.pid
        total = s.minutes * 60
        sampler = RssSampler(pids, max(1.0, total / 300))
        sampler.start()
        chaos = Chaos(fleet, server, proxy, driver, s.interval, s.seed)
        time.sleep(s.warmup_s)
        chaos.start()
        time.sleep(max(0.0, t0 + total - s.calm_s - time.time()))
        chaos.stop()
        calm_from = time.time()
        for w in fleet.current.values():
            if not w.alive():
                problems.append(f"worker {w.name} exited by itself ({w.proc.returncode})")
                fleet.respawn(w)
        time.sleep(max(0.0, t0 + total - time.time()))
        producer.terminate()
        producer.wait(60)
        traffic_end = time.time()
        direct[0].remove_job_scheduler(SCHEDULER)
        try:
            wait_until(lambda: drained(direct), s.drain_s, "every queue drained")
        except AssertionError as exc:  # the ledger's checks below say which jobs are stuck
            counts = [q.get_job_counts(*QUIET) for q in direct]
            problems.append(f"{exc}: {counts}")
        drain_s = time.time() - traffic_end
        sampler.stop()
        if watchers is not None:
            watchers.stop()
        exits = fleet.stop_all()
        problems += [f"worker {name} exited with {code} on SIGTERM"
                     for name, code in exits.items() if code != 0]
        r = redis.Redis(port=server.port, decode_responses=True)
        completed: set[str] = set()
        failed: set[str] = set()
        for name in (MAIN_QUEUE, LIMITED_QUEUE):
            base = f"bull:{name}:"
            try:
                check_invariants(r, base)
            except AssertionError as exc:
                problems.append(f"{name}: {exc}")
            completed |= {str(j) for j in r.zrange(base + "completed", 0, -1)}
            failed |= {str(j) for j in r.zrange(base + "failed", 0, -1)}
        aof = r.config_get("appendfsync")["appendfsync"]
        r.close()
        verdict = verify(read_entries(ledger_dir), completed, failed, limit=LIMIT,
                         scheduler_id=SCHEDULER, every_ms=EVERY_MS, calm_from=calm_from,
                         traffic_end=traffic_end, max_stalled=MAX_STALLED)
        problems += chaos.errors + verdict.problems
        warmup = total / 10
        results: dict[str, Any] = {
            "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "settings": {**s.__dict__, "appendfsync": aof, "limit": LIMIT,
                         "scheduler_every_ms": EVERY_MS, "max_stalled_count": MAX_STALLED},
            "traffic_s": round(traffic_end - t0, 1), "drain_s": round(drain_s, 1),
            **verdict.figures,
            "chaos": {kind: chaos.count(kind) for kind in sorted({e["kind"] for e in
                                                                   chaos.events})},
            "chaos_events": chaos.events,
            "proxy": {"replies_dropped": proxy.drops, "refused_while_down": proxy.refused},
            "rss": {name: leak_figures(samples, warmup)
                    for name, samples in sampler.samples.items()},
            "worker_processes": len(fleet.everyone()),
            "problems": problems,
        }
        if watchers is not None:
            results["dashboard"] = {"sockets": s.sockets, "frames": watchers.frames,
                                    "reconnects": watchers.reconnects,
                                    "connect_errors": len(watchers.errors)}
        return results
    finally:
        if chaos is not None:
            chaos.stop()
        if sampler is not None:
            sampler.stop()
        if producer is not None and producer.poll() is None:
            producer.kill()
            producer.wait(10)
        fleet.kill_all()
        if watchers is not None:
            watchers.stop()
        if site is not None:
            site.close()
        for q in direct:
            with contextlib.suppress(Exception):
                q.close()
        proxy.close()
        server.close()
        driver.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--interval", type=float, default=30.0,
                        help="seconds between faults (default 30)")
    parser.add_argument("--rate", type=float, default=15.0, help="adds per second")
    parser.add_argument("--seed", type=int, default=19)
    parser.add_argument("--no-dashboard", action="store_true")
    parser.add_argument("--out", type=Path, default=None,
                        help="results JSON (default bench/results/soak-<date>.json)")
    parser.add_argument("--docs", action="store_true",
                        help="write the summary table into docs/production.md")
    parser.add_argument("--keep", action="store_true",
                        help="keep the ledgers and logs (kept anyway when a check failed)")
    args = parser.parse_args()
    settings = Settings(args.minutes, args.interval, args.rate, args.seed,
                        dashboard=not args.no_dashboard)
    work = Path(tempfile.mkdtemp(prefix="qc-soak-"))
    results = run_soak(settings, work)
    out = args.out or ROOT / "bench" / "results" / f"soak-{dt.date.today().isoformat()}.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(table(results))
    print(f"results: {out}; ledgers and logs: {work}")
    if args.docs:
        write_docs(ROOT / "docs" / "production.md", results)
    if not args.keep and not results["problems"]:
        shutil.rmtree(work, ignore_errors=True)
    if results["problems"]:
        print("PROBLEMS:\n" + "\n".join(results["problems"]), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
