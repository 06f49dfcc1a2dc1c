"""Benchmark driver: queuecore against Node bullmq 6.x, Python bullmq 3.4.x, RQ and
arq, on one private redis-server, interleaved, medians of rounds.

    bench/.venv/bin/python -m bench.run            # full: 3 rounds, the issue's N (make bench)
    bench/.venv/bin/python -m bench.run --quick    # 1 round, small N (make bench-quick)

Options: --libs queuecore,node --scenarios S1,S3 --rounds N --no-docs. Writes
bench/results/<date>.json (<date>-quick.json for --quick) and, for a full run, the table in
docs/performance.md. Scenarios and methods: bench/README.md.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import json
import random
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import redis

from . import report
from .children import ChildError, ChildTimeout, WorkerChild, one_shot
from .libs import BENCH, LIBS, ROOT, Lib, done_count
from .redis_server import PrivateRedis


@dataclass(frozen=True)
class Params:
    rounds: int
    s1_n: int
    s2_n: int
    batch: int
    s3_n: int
    s4_n: int
    s4_rate: float
    s5_n: int
    s5_rate: float
    s5_delay_min_ms: int
    s5_delay_max_ms: int
    add_cap_s: float  # S1/S2: an adapter stops adding after this long (recorded as partial)
    s3_cap_s: float  # S3: processing stops being measured after this long (partial)
    idle_s: float  # S4-S6: how long a worker idles before measuring
    warmup_jobs: int  # S4/S5: first samples not counted


FULL = Params(rounds=3, s1_n=10_000, s2_n=50_000, batch=1_000, s3_n=50_000, s4_n=1_200,
              s4_rate=200, s5_n=400, s5_rate=100, s5_delay_min_ms=200, s5_delay_max_ms=1_000,
              add_cap_s=10, s3_cap_s=12, idle_s=2.0, warmup_jobs=20)
QUICK = Params(rounds=1, s1_n=2_000, s2_n=10_000, batch=1_000, s3_n=5_000, s4_n=300,
               s4_rate=200, s5_n=100, s5_rate=100, s5_delay_min_ms=200, s5_delay_max_ms=1_000,
               add_cap_s=10, s3_cap_s=10, idle_s=1.0, warmup_jobs=10)


@dataclass(frozen=True)
class Case:
    scenario: str
    variant: str
    concurrency: int = 1
    processes: int = 1
    pad: int = 0  # S3: bytes of padding in each job's data
    sleep_ms: int = 0  # S3: the processor awaits this long


CASES = [
    Case("S1", "add one at a time"),
    Case("S2", "add_bulk, batches of 1,000"),
    Case("S3", "c1", 1, 1),
    Case("S3", "c50", 50, 1),
    Case("S3", "2pxc50", 50, 2),
    Case("S3", "c50 1KB data", 50, 1, pad=1024),
    Case("S3", "c50 5ms processor", 50, 1, sleep_ms=5),
    Case("S4", "200 jobs/s, idle worker"),
    Case("S5", "delayed jobs"),
    Case("S6", "idle worker, c50", 50, 1),
]

# Concurrency of the idle worker in S4/S5: each library's default (arq's max_jobs is 10; at 1
# arq starts one job per poll and cannot keep up with 200 jobs/s).
DEFAULT_CONCURRENCY = {"arq": 10}
# The S3 variants (1 KB data, a 5 ms processor) run for these libraries only.
VARIANT_LIBS = frozenset({"queuecore", "node"})


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


class Bench:
    def __init__(self, server: PrivateRedis, params: Params) -> None:
        self.server = server
        self.params = params
        self.client = redis.Redis(port=server.port, socket_timeout=30)
        self.snapshots: dict[tuple[str, int], tuple[list[tuple[bytes, int, bytes]], int]] = {}

    @property
    def url(self) -> str:
        return self.server.url

    # -- helpers --

    def server_cpu(self) -> float:
        """CPU seconds redis-server has used so far."""
        info = self.client.info("cpu")
        return float(info["used_cpu_sys"]) + float(info["used_cpu_user"])

    @staticmethod
    def _per_job_us(cpu_s: float, jobs: int) -> float:
        return cpu_s * 1e6 / max(jobs, 1)

    def _wait_done(self, lib: Lib, expected: int, timeout: float,
                   workers: list[WorkerChild]) -> int:
        deadline = time.monotonic() + timeout
        done = done_count(lib, self.client, expected)
        while done < expected and time.monotonic() < deadline:
            time.sleep(0.02)
            for w in workers:
                w.rss()
            done = done_count(lib, self.client, expected)
        return done

    def _start_workers(self, lib: Lib, cfg: dict[str, Any], count: int) -> list[WorkerChild]:
        workers = [WorkerChild(lib, cfg) for _ in range(count)]
        try:
            for w in workers:
                w.wait_ready()
        except Exception:
            for w in workers:
                w.kill()
            raise
        return workers

    @staticmethod
    def _close_info(results: list[dict[str, Any]]) -> dict[str, Any]:
        """How long the workers' graceful close took, and whether one had to be killed."""
        closed = [float(r["closed_ms"]) for r in results if "closed_ms" in r]
        info: dict[str, Any] = {"close_ms": max(closed) if closed else None}
        if any(r.get("close_hung") for r in results):
            info["close_hung"] = True
        return info

    @staticmethod
    def _stop_all(workers: list[WorkerChild]) -> list[dict[str, Any]]:
        results = []
        errors = []
        for w in workers:
            try:
                results.append(w.stop())
            except ChildError as exc:
                errors.append(exc)
        if errors:
            raise errors[0]
        return results

    # -- the fill of S3, written once per library and restored before each S3 run --

    def snapshot(self, lib: Lib, pad: int = 0) -> int:
        """Restore ``lib``'s 50,000 waiting jobs; the first time, let the library write them
        (its own bulk add) and keep a DUMP of every key. Returns how many jobs wait."""
        if (lib.key, pad) not in self.snapshots:
            self.server.reset()
            t0 = time.monotonic()
            res = one_shot(lib, "fill", {"url": self.url, "n": self.params.s3_n,
                                         "batch": self.params.batch, "pad": pad}, timeout=600)
            log(f"    fill {lib.key}: {res['n']} jobs in {time.monotonic() - t0:.1f} s")
            names = list(self.client.scan_iter(count=1000))
            keys = []
            for lo in range(0, len(names), 1000):
                pipe = self.client.pipeline(transaction=False)
                for key in names[lo:lo + 1000]:
                    pipe.pttl(key)
                    pipe.dump(key)
                replies = pipe.execute()
                keys += [(key, max(int(replies[2 * i]), 0), replies[2 * i + 1])
                         for i, key in enumerate(names[lo:lo + 1000])]
            self.snapshots[lib.key, pad] = (keys, int(res["n"]) + 1)  # + the warm-up job
        self.server.reset()
        keys, expected = self.snapshots[lib.key, pad]
        pipe = self.client.pipeline(transaction=False)
        for i, (key, pttl, blob) in enumerate(keys):
            pipe.restore(key, pttl, blob, replace=True)
            if i % 2000 == 1999:
                pipe.execute()
        pipe.execute()
        return expected

    # -- scenarios: each returns (metrics, status, note) --

    def s1(self, lib: Lib, case: Case) -> tuple[dict[str, Any], str]:
        p = self.params
        server0 = self.server_cpu()
        res = one_shot(lib, "add_one", {"url": self.url, "n": p.s1_n,
                                        "max_seconds": p.add_cap_s}, p.add_cap_s + 60)
        status = "ok" if res["n"] >= p.s1_n else "partial"
        return {"jobs_per_s": res["n"] / res["seconds"], "jobs": res["n"],
                "client_cpu_us_per_job": self._per_job_us(res.get("cpu_s", 0), res["n"]),
                "server_cpu_us_per_job": self._per_job_us(self.server_cpu() - server0,
                                                          res["n"])}, status

    def s2(self, lib: Lib, case: Case) -> tuple[dict[str, Any], str]:
        p = self.params
        server0 = self.server_cpu()
        res = one_shot(lib, "add_bulk", {"url": self.url, "n": p.s2_n, "batch": p.batch,
                                         "max_seconds": p.add_cap_s}, p.add_cap_s + 120)
        status = "ok" if res["n"] >= p.s2_n else "partial"
        return {"jobs_per_s": res["n"] / res["seconds"], "jobs": res["n"],
                "client_cpu_us_per_job": self._per_job_us(res.get("cpu_s", 0), res["n"]),
                "server_cpu_us_per_job": self._per_job_us(self.server_cpu() - server0,
                                                          res["n"])}, status

    def s3(self, lib: Lib, case: Case) -> tuple[dict[str, Any], str]:
        concurrency = case.concurrency if lib.concurrent else 1
        expected = self.snapshot(lib, case.pad)
        workers = self._start_workers(lib, {"url": self.url, "concurrency": concurrency,
                                            "sleep_ms": case.sleep_ms}, case.processes)
        client0 = sum(w.cpu() for w in workers)
        server0 = self.server_cpu()
        t0 = time.monotonic()
        for w in workers:
            w.go()
        try:
            done = self._wait_done(lib, expected, self.params.s3_cap_s, workers)
            elapsed = time.monotonic() - t0
            client_cpu = sum(w.cpu() for w in workers) - client0
            server_cpu = self.server_cpu() - server0
        finally:
            results = self._stop_all(workers)
        processed = sum(int(r["processed"]) for r in results)
        metrics = {"jobs_per_s": done / elapsed, "jobs": done, "expected": expected,
                   "seconds": elapsed, "processed": processed,
                   "rss_peak_mb": max(w.rss_peak for w in workers) / 2**20,
                   "concurrency": concurrency, "processes": case.processes,
                   "client_cpu_us_per_job": self._per_job_us(client_cpu, done),
                   "server_cpu_us_per_job": self._per_job_us(server_cpu, done),
                   **self._close_info(results)}
        return metrics, ("ok" if done >= expected else "partial")

    def _steady(self, lib: Lib, mode: str, n: int, rate: float,
                extra: dict[str, Any], settle_s: float) -> tuple[dict[str, Any], str]:
        concurrency = DEFAULT_CONCURRENCY.get(lib.key, 1)
        self.server.reset()
        [worker] = self._start_workers(lib, {"url": self.url, "concurrency": concurrency,
                                             "mode": mode}, 1)
        try:
            worker.go()
            time.sleep(self.params.idle_s)
            prod = one_shot(lib, "produce", {"url": self.url, "n": n, "rate": rate,
                                             "mode": mode, **extra}, n / rate + 60)
            done = self._wait_done(lib, int(prod["n"]), settle_s, [worker])
        finally:
            [res] = self._stop_all([worker])
        samples = [float(x) for x in res["samples"]][self.params.warmup_jobs:]
        if not samples:
            raise ChildError(f"{lib.key}: no {mode} samples")
        metrics = {"p50_ms": percentile(samples, 50), "p99_ms": percentile(samples, 99),
                   "mean_ms": statistics.fmean(samples), "max_ms": max(samples),
                   "samples": len(samples), "jobs": done,
                   "producer_behind_ms": float(prod.get("behind_ms", 0.0)),
                   "concurrency": concurrency, **self._close_info([res])}
        return metrics, ("ok" if done >= int(prod["n"]) else "partial")

    def s4(self, lib: Lib, case: Case) -> tuple[dict[str, Any], str]:
        p = self.params
        return self._steady(lib, "latency", p.s4_n, p.s4_rate, {}, settle_s=15)

    def s5(self, lib: Lib, case: Case) -> tuple[dict[str, Any], str]:
        p = self.params
        rnd = random.Random(8)
        delays = [rnd.randint(p.s5_delay_min_ms, p.s5_delay_max_ms) for _ in range(p.s5_n)]
        return self._steady(lib, "lateness", p.s5_n, p.s5_rate, {"delays": delays},
                            settle_s=p.s5_delay_max_ms / 1000 + 15)

    def s6(self, lib: Lib, case: Case) -> tuple[dict[str, Any], str]:
        concurrency = case.concurrency if lib.concurrent else 1
        self.server.reset()
        [worker] = self._start_workers(lib, {"url": self.url, "concurrency": concurrency}, 1)
        try:
            worker.go()
            time.sleep(self.params.idle_s)
            samples = []
            for _ in range(5):
                samples.append(worker.rss())
                time.sleep(0.1)
        finally:
            results = self._stop_all([worker])
        return {"idle_rss_mb": statistics.median(samples) / 2**20,
                "concurrency": concurrency, **self._close_info(results)}, "ok"

    def run_case(self, lib: Lib, case: Case, round_no: int) -> dict[str, Any]:
        record: dict[str, Any] = {"scenario": case.scenario, "variant": case.variant,
                                  "lib": lib.key, "round": round_no,
                                  "loadavg_before": list(_loadavg())}
        if case.scenario == "S3" and case.concurrency > 1 and case.processes == 1 \
                and not lib.concurrent:
            record.update(status="n/a", note="no in-process concurrency")
            return record
        runner: Callable[[Lib, Case], tuple[dict[str, Any], str]] = getattr(
            self, case.scenario.lower())
        t0 = time.monotonic()
        try:
            metrics, status = runner(lib, case)
            record.update(status=status, metrics=metrics)
        except ChildTimeout as exc:
            record.update(status="timeout", error=str(exc))
        except (ChildError, redis.RedisError, OSError, ValueError, KeyError) as exc:
            record.update(status="error", error=f"{type(exc).__name__}: {exc}")
        record["wall_s"] = time.monotonic() - t0
        return record


def _loadavg() -> tuple[float, float, float]:
    try:
        with open("/proc/loadavg", encoding="ascii") as fh:
            a, b, c = fh.read().split()[:3]
        return float(a), float(b), float(c)
    except OSError:
        return (0.0, 0.0, 0.0)


def describe(record: dict[str, Any]) -> str:
    m = record.get("metrics") or {}
    if "jobs_per_s" in m:
        value = f"{m['jobs_per_s']:,.0f} jobs/s"
    elif "p50_ms" in m:
        value = f"p50 {m['p50_ms']:.2f} ms, p99 {m['p99_ms']:.2f} ms"
    elif "idle_rss_mb" in m:
        value = f"idle RSS {m['idle_rss_mb']:.1f} MiB"
    else:
        value = record.get("note") or record.get("error", "")[:300]
    return f"{value} [{record['status']}, {record.get('wall_s', 0):.1f} s]"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="1 round, small N")
    parser.add_argument("--rounds", type=int, help="override the number of rounds")
    parser.add_argument("--libs", default=",".join(LIBS), help="comma-separated library keys")
    parser.add_argument("--scenarios", default="S1,S2,S3,S4,S5,S6")
    parser.add_argument("--variants", default="",
                        help="comma-separated variants to keep (e.g. c1,c50), default all")
    parser.add_argument("--no-docs", action="store_true", help="do not touch docs/performance.md")
    parser.add_argument("--docs", action="store_true", help="write docs even for --quick")
    args = parser.parse_args(argv)

    params = QUICK if args.quick else FULL
    if args.rounds:
        params = Params(**{**asdict(params), "rounds": args.rounds})
    lib_keys = [k for k in args.libs.split(",") if k]
    unknown = [k for k in lib_keys if k not in LIBS]
    if unknown:
        parser.error(f"unknown libraries {unknown}; known: {list(LIBS)}")
    wanted = set(args.scenarios.split(","))
    variants = {v for v in args.variants.split(",") if v}
    cases = [c for c in CASES if c.scenario in wanted and (not variants or c.variant in variants)]

    started = time.monotonic()
    date = dt.date.today().isoformat()
    server = PrivateRedis().start()
    log(f"bench: private redis-server {server.version()} on port {server.port}")
    try:
        versions = {}
        for key in lib_keys:
            try:
                versions[key] = one_shot(LIBS[key], "versions", {}, timeout=60)
            except ChildError as exc:
                versions[key] = {"error": str(exc)}
        machine = report.machine_info(server.version())
        bench = Bench(server, params)
        runs: list[dict[str, Any]] = []
        orders: list[list[str]] = []
        for case in cases:
            keys = [k for k in lib_keys if LIBS[k].runs(case.scenario)
                    and (not (case.pad or case.sleep_ms) or k in VARIANT_LIBS)]
            for round_no in range(params.rounds):
                shift = round_no % len(keys)
                order = keys[shift:] + keys[:shift]  # each round in another order
                orders.append(order)
                for key in order:
                    record = bench.run_case(LIBS[key], case, round_no + 1)
                    runs.append(record)
                    log(f"[{case.scenario} {case.variant}] round {round_no + 1} {key}: "
                        f"{describe(record)}")
    finally:
        server.close()

    elapsed = time.monotonic() - started
    result = {
        "date": date,
        "mode": "quick" if args.quick else "full",
        "elapsed_s": elapsed,
        "params": asdict(params),
        "machine": {**machine, "loadavg_end": list(_loadavg())},
        "versions": versions,
        "libraries": {k: LIBS[k].label for k in lib_keys},
        "cases": [asdict(c) for c in cases],
        "runs": runs,
    }
    result["summary"] = report.summarize(result)
    out_dir = BENCH / "results"
    out_dir.mkdir(exist_ok=True)
    out = out_dir / (f"{date}-quick.json" if args.quick else f"{date}.json")
    out.write_text(json.dumps(result, indent=1, default=_json_default) + "\n")
    table = report.markdown(result)
    print(table)
    if (not args.quick or args.docs) and not args.no_docs:
        report.write_docs(ROOT / "docs" / "performance.md", table, result)
        log("bench: docs/performance.md updated")
    log(f"bench: wrote {out.relative_to(ROOT)} in {elapsed / 60:.1f} min")
    return 0


def _json_default(value: Any) -> Any:
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    raise TypeError(type(value).__name__)


if __name__ == "__main__":
    raise SystemExit(main())
