"""Where queuecore spends its time: py-spy profiles in S1, S3 (c1, c50) and S4, and Redis
commands per job (INFO commandstats) for queuecore, Node bullmq and Python bullmq.

    bench/.venv/bin/python -m bench.profile [--out bench/profiles] [--libs queuecore,node,...]

Writes OUT/<scenario>.speedscope.json (open in speedscope), OUT/summary.md (top functions by
own and by total time, commands per job) and OUT/summary.json. py-spy samples only threads
that are running (not waiting in epoll), so the percentages are of busy CPU time.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import redis

from .children import one_shot
from .libs import BENCH, LIBS, Lib
from .redis_server import PrivateRedis
from .run import FULL, Bench, Params

PY_SPY = str(BENCH / ".venv" / "bin" / "py-spy")
RATE = 400  # samples a second


class Spy:
    """py-spy recording one process by pid until it exits."""

    def __init__(self, pid: int, out: Path) -> None:
        self.out = out
        self.proc = subprocess.Popen(
            [PY_SPY, "record", "--pid", str(pid), "--rate", str(RATE), "--format",
             "speedscope", "--output", str(out), "--nonblocking", "--function"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(0.3)  # let it attach

    def wait(self, timeout: float = 60) -> None:
        try:
            _, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate()
        if not self.out.exists():
            raise RuntimeError(f"py-spy wrote no profile: {err.decode(errors='replace')[-500:]}")


def summarize_speedscope(path: Path, within: str | None, top: int = 25) -> dict[str, Any]:
    """Own and total share of busy samples per function (only samples under ``within``)."""
    doc = json.loads(path.read_text())
    frames = doc["shared"]["frames"]
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    count = 0
    for prof in doc["profiles"]:
        for stack, weight in zip(prof["samples"], prof["weights"], strict=True):
            names = [f"{frames[i]['name']} ({Path(frames[i].get('file', '?')).name}:"
                     f"{frames[i].get('line', '?')})" for i in stack]
            if within and not any(n.startswith(within + " ") for n in names):
                continue
            count += weight
            if names:
                own[names[-1]] += weight
            for name in set(names):
                total[name] += weight

    def share(c: Counter[str]) -> list[tuple[str, float]]:
        return [(name, 100.0 * w / count) for name, w in c.most_common(top)] if count else []
    return {"samples": count, "own": share(own), "total": share(total)}


def commandstats(client: redis.Redis) -> dict[str, tuple[int, int]]:
    """Calls and server microseconds per command since the last CONFIG RESETSTAT."""
    info = client.info("commandstats")
    return {key.removeprefix("cmdstat_"): (int(value["calls"]), int(value["usec"]))
            for key, value in info.items()}


IGNORED = ("info", "config|resetstat", "zcard", "ping", "flushall", "script|flush", "restore")


def per_job(stats: dict[str, tuple[int, int]], jobs: int) -> dict[str, float]:
    """Calls of each command per job (inside scripts too), and the time Redis spent in
    scripts per job (``script_us``: EVALSHA/EVAL, with the calls they make)."""
    jobs = max(jobs, 1)
    out: dict[str, float] = {}
    script_us = 0
    for cmd, (calls, micros) in stats.items():
        if cmd in IGNORED:
            continue
        out[cmd] = round(calls / jobs, 3)
        if cmd in ("evalsha", "eval"):
            script_us += micros
    ordered = dict(sorted(out.items(), key=lambda kv: -kv[1]))
    ordered = {k: v for k, v in ordered.items() if v >= 0.01}
    ordered["script_us"] = round(script_us / jobs, 1)
    return ordered


class Profiler:
    def __init__(self, server: PrivateRedis, params: Params, out: Path) -> None:
        self.server = server
        self.bench = Bench(server, params)
        self.client = self.bench.client
        self.out = out
        self.params = params

    def s1(self, lib: Lib, spy: bool) -> tuple[int, Path | None]:
        n = self.params.s1_n
        self.server.reset()
        argv = [*lib.argv, "add_one", json.dumps({**lib.options, "url": self.server.url,
                                                   "n": n})]
        self.client.config_resetstat()
        proc = subprocess.Popen(argv, env=lib.environ(), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        path = self.out / "S1-add-one.speedscope.json"
        watcher = Spy(proc.pid, path) if spy else None
        proc.communicate(timeout=300)
        if watcher:
            watcher.wait()
        return n, path if spy else None

    def s3(self, lib: Lib, concurrency: int, spy: bool) -> tuple[int, Path | None]:
        expected = self.bench.snapshot(lib)
        [worker] = self.bench._start_workers(lib, {"url": self.server.url,
                                                   "concurrency": concurrency}, 1)
        path = self.out / f"S3-c{concurrency}.speedscope.json"
        watcher = Spy(worker.proc.pid, path) if spy else None
        self.client.config_resetstat()
        worker.go()
        try:
            done = self.bench._wait_done(lib, expected, 120, [worker])
        finally:
            worker.stop()
        if watcher:
            watcher.wait()
        return done, path if spy else None

    def s4(self, lib: Lib, spy: bool) -> tuple[int, Path | None]:
        p = self.params
        self.server.reset()
        [worker] = self.bench._start_workers(lib, {"url": self.server.url, "concurrency": 1,
                                                   "mode": "latency"}, 1)
        path = self.out / "S4-worker.speedscope.json"
        watcher = Spy(worker.proc.pid, path) if spy else None
        self.client.config_resetstat()
        worker.go()
        time.sleep(1)
        try:
            res = one_shot(lib, "produce", {"url": self.server.url, "n": p.s4_n,
                                            "rate": p.s4_rate, "mode": "latency"}, 120)
            done = self.bench._wait_done(lib, int(res["n"]), 15, [worker])
        finally:
            worker.stop()
        if watcher:
            watcher.wait()
        return done, path if spy else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=str(BENCH / "profiles"))
    parser.add_argument("--libs", default="queuecore,node,pybullmq",
                        help="libraries whose Redis commands per job are counted")
    parser.add_argument("--n", type=int, default=20_000, help="jobs in S3")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    params = Params(**{**FULL.__dict__, "s3_n": args.n})
    if not Path(PY_SPY).exists() or not shutil.which("node"):
        print("run bench/setup.sh first", file=sys.stderr)
        return 1
    server = PrivateRedis().start()
    summary: dict[str, Any] = {"commands_per_job": {}, "profiles": {}}
    try:
        prof = Profiler(server, params, out)
        scenarios = {
            "S1 add one at a time": (lambda lib, spy: prof.s1(lib, spy), "add_one"),
            # asyncio runs the worker's tasks from the loop, not under _work: all samples
            "S3 concurrency 1": (lambda lib, spy: prof.s3(lib, 1, spy), None),
            "S3 concurrency 50": (lambda lib, spy: prof.s3(lib, 50, spy), None),
            "S4 worker at 200 jobs/s": (lambda lib, spy: prof.s4(lib, spy), None),
        }
        for name, (run_it, within) in scenarios.items():
            for key in args.libs.split(","):
                lib = LIBS[key]
                jobs, _ = run_it(lib, False)  # each run resets the stats when it starts
                summary["commands_per_job"].setdefault(name, {})[key] = per_job(
                    commandstats(prof.client), jobs)
                print(f"{name} {key}: {summary['commands_per_job'][name][key]}",
                      file=sys.stderr)
            _, path = run_it(LIBS["queuecore"], True)
            assert path is not None
            summary["profiles"][name] = {"file": path.name,
                                         **summarize_speedscope(path, within)}
            print(f"{name}: profile in {path}", file=sys.stderr)
    finally:
        server.close()
    (out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    (out / "summary.md").write_text(render(summary))
    print(render(summary))
    return 0


def render(summary: dict[str, Any]) -> str:
    lines = ["# queuecore profile summary (generated by bench/profile.py)", ""]
    lines += ["## Redis commands per job", ""]
    for name, by_lib in summary["commands_per_job"].items():
        lines.append(f"- {name}: " + "; ".join(
            f"**{lib}** " + ", ".join(f"{cmd} {n:g}" for cmd, n in cmds.items())
            for lib, cmds in by_lib.items()))
    for name, prof in summary["profiles"].items():
        lines += ["", f"## {name} ({prof['samples']:.1f} s of busy samples, {prof['file']})", "",
                  "| own % | function |", "|---:|---|"]
        lines += [f"| {pct:.1f} | `{fn}` |" for fn, pct in prof["own"][:15]]
        lines += ["", "| total % | function |", "|---:|---|"]
        lines += [f"| {pct:.1f} | `{fn}` |" for fn, pct in prof["total"][:25]]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
