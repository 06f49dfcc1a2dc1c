"""Cases 4 and 5: Redis crashes (SIGKILL, AOF with appendfsync everysec) and outages, with
worker and producer processes that are never restarted.

4. redis-server is killed mid-run and started again after 5 s on the same port: workers and
   producers live on, resume (how soon is printed, not asserted: a figure), and every add
   acknowledged more than 1 s before the kill is processed.
5. Redis is down when the processes start, and again mid-run (5 s in `make test`, 30 s in
   `make soak-reliability`): they stay up, log at most one connection error a second, use
   little CPU, and resume."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import redis

from queuecore import Queue
from tests.redisproc import RedisProcess
from tests.reliability.conftest import (
    Child,
    cpu_seconds,
    read_timed_ledgers,
    scale,
    worker_args,
)
from tests.reliability.invariants import check_invariants
from tests.waiting import wait_for

QUEUE = "crash"
BASE = f"bull:{QUEUE}:"
AOF = {"appendonly": "yes", "appendfsync": "everysec"}
CPU_SHARE = 0.05  # of one core, while Redis is away


def acks(path: Path) -> dict[str, float]:
    out = {}
    for line in path.read_text().splitlines() if path.exists() else []:
        if line.startswith("ack "):
            _, job_id, t = line.split()
            out[job_id] = float(t)
    return out


def starts_after(ledgers: Path, t: float) -> list[str]:
    return [line.split()[1] for lines in read_timed_ledgers(ledgers).values() for line in lines
            if line.startswith("start ") and float(line.split()[2]) > t]


def completed(url: str, ids: list[str]) -> set[str]:
    r = redis.Redis.from_url(url, decode_responses=True)
    try:
        pipe = r.pipeline(transaction=False)
        for job_id in ids:
            pipe.zscore(BASE + "completed", job_id)
        return {job_id for job_id, score in zip(ids, pipe.execute(), strict=True)
                if score is not None}
    finally:
        r.close()


class Fleet:
    """Two worker processes and a producer process on one queue."""

    def __init__(self, spawn, url: str, tmp_path: Path) -> None:
        self.ledgers = tmp_path / "ledgers"
        self.ledgers.mkdir()
        self.ack_file = tmp_path / "acks.txt"
        self.workers: list[Child] = [
            spawn("tests.reliability.proc_worker", *worker_args(
                url, QUEUE, self.ledgers, concurrency=4, lock_duration=2000,
                stalled_interval=1000, drain_delay=1))
            for _ in range(2)]
        self.producer: Child = spawn("tests.reliability.proc_producer", url, QUEUE,
                                     str(self.ack_file), "--rate", "100", "--sleep", "0.02")
        self.all = [*self.workers, self.producer]

    def ready(self) -> bool:
        ledgers = read_timed_ledgers(self.ledgers)
        return len(ledgers) == 2 and all(lines and lines[0].startswith("ready")
                                         for lines in ledgers.values()) and \
            self.ack_file.exists() and self.ack_file.read_text().startswith("ready")

    def assert_alive(self) -> None:
        for child in self.all:
            assert child.alive(), f"process {child.pid} died:\n{child.stderr()[-3000:]}"

    def cpu(self) -> list[float]:
        return [cpu_seconds(child.pid) for child in self.all]

    def resumed(self, url: str, since: float) -> float:
        """Seconds from ``since`` until an add acknowledged after it was completed."""
        def done() -> bool:
            new = [j for j, t in acks(self.ack_file).items() if t > since]
            return bool(new) and bool(completed(url, new[:20])) and \
                bool(starts_after(self.ledgers, since))
        wait_for(done, what="producers and workers resumed")
        return time.time() - since

    def stop(self) -> None:
        for child in self.all:
            child.terminate()
        for child in self.all:
            assert child.proc.wait(30) == 0, child.stderr()[-3000:]

    def error_lines(self, child: Child, start: float, end: float) -> list[float]:
        """Times of the warnings and errors ``child`` logged in [start, end]."""
        out = []
        for line in child.stderr().splitlines():
            head = line.split(" ", 2)
            try:
                t = float(head[0])
            except (ValueError, IndexError):
                out.append(-1.0)  # a line without our timestamp: a traceback or a print
                continue
            if start <= t <= end and head[1] in ("WARNING", "ERROR", "CRITICAL"):
                out.append(t)
        return [t for t in out if t < 0 or start <= t <= end]


def wait_for_acks(fleet: Fleet, n: int) -> None:
    wait_for(lambda: len(acks(fleet.ack_file)) >= n, what=f"{n} acknowledged adds")


def check_everything_processed(url: str, fleet: Fleet, must: list[str]) -> None:
    wait_for(lambda: len(completed(url, must)) == len(must), 60, interval=0.25,
             what=f"{len(must)} acknowledged jobs completed")
    r = redis.Redis.from_url(url, decode_responses=True)
    check_invariants(r, BASE)
    r.close()


@pytest.mark.timeout(scale(90, 180))
def test_redis_sigkill_and_restart_loses_no_acknowledged_job(redis_servers, tmp_path: Path,
                                                             spawn):
    server: RedisProcess = redis_servers(AOF)
    server.start()
    url = server.url
    fleet = Fleet(spawn, url, tmp_path)
    wait_for(fleet.ready, what="processes ready")
    wait_for_acks(fleet, 150)
    pids = [child.pid for child in fleet.all]

    t_kill = time.time()
    server.kill()
    time.sleep(5)
    fleet.assert_alive()
    server.start()
    t_up = time.time()
    took = fleet.resumed(url, t_up)
    print(f"\nresumed {took:.2f} s after the restart")
    time.sleep(2)
    fleet.assert_alive()
    assert [child.pid for child in fleet.all] == pids  # nobody was restarted
    fleet.producer.terminate()
    assert fleet.producer.proc.wait(20) == 0, fleet.producer.stderr()

    acked = acks(fleet.ack_file)
    must = [j for j, t in acked.items() if t < t_kill - 1.0 or t > t_up]
    check_everything_processed(url, fleet, must)
    lost = [j for j, t in acked.items() if j not in completed(url, list(acked))]
    print(f"{len(acked)} adds acknowledged, {len(must)} required, "
          f"{len(lost)} acknowledged in the last second before the kill lost: {lost}")
    fleet.stop()


@pytest.mark.timeout(scale(90, 240))
def test_redis_down_at_start_and_mid_run(redis_servers, tmp_path: Path, spawn):
    down_at_start = scale(3.0, 10.0)
    outage = scale(5.0, 30.0)
    server: RedisProcess = redis_servers(AOF)  # not started yet
    url = server.url
    fleet = Fleet(spawn, url, tmp_path)
    wait_for(fleet.ready, what="processes up without Redis")

    def away(seconds: float) -> tuple[float, float]:
        t0, cpu0 = time.time(), fleet.cpu()
        time.sleep(seconds)
        fleet.assert_alive()
        used = [b - a for a, b in zip(cpu0, fleet.cpu(), strict=True)]
        t1 = time.time()
        print(f"CPU used while Redis was away for {seconds} s: "
              + ", ".join(f"{u:.3f} s" for u in used))
        for child, u in zip(fleet.all, used, strict=True):
            assert u < CPU_SHARE * seconds + 0.05, f"process {child.pid} used {u:.2f} s CPU"
        for child in fleet.all:
            lines = fleet.error_lines(child, t0, t1)
            assert -1.0 not in lines, child.stderr()[-3000:]
            assert len(lines) <= (t1 - t0) + 1, f"{len(lines)} error lines in {t1 - t0:.1f} s"
        return t0, t1

    away(down_at_start)
    server.start()
    took = fleet.resumed(url, time.time())
    print(f"resumed {took:.2f} s after Redis came up")
    wait_for_acks(fleet, 150)

    t_kill = time.time()
    server.kill()
    away(outage)
    server.start()
    t_up = time.time()
    took = fleet.resumed(url, t_up)
    print(f"resumed {took:.2f} s after the {outage} s outage")
    time.sleep(2)
    fleet.producer.terminate()
    assert fleet.producer.proc.wait(20) == 0, fleet.producer.stderr()
    acked = acks(fleet.ack_file)
    must = [j for j, t in acked.items() if t < t_kill - 1.0 or t > t_up]
    check_everything_processed(url, fleet, must)
    fleet.stop()
    queue = Queue(QUEUE, url)
    assert queue.get_job_counts("active", "waiting")["active"] == 0
    queue.close()
