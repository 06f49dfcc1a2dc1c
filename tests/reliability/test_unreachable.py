"""Case 6: a producer whose Redis is unreachable raises (rather than hangs), and afterwards
the jobs in Redis are the adds that succeeded. Case 7: a worker whose blocked connection is
killed (CLIENT KILL) starts a job added afterwards. How soon is printed: a figure for bench/,
not a limit asserted here."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import time
from collections.abc import Iterator

import redis

from queuecore import AsyncJob, Queue, RedisConnectionError, Worker
from tests.redisproc import RedisProcess
from tests.reliability.invariants import check_invariants
from tests.waiting import wait_for
from tests.worker_utils import running, wait_until

BASE = "bull:prod:"


def timed_add(queue: Queue, job_id: str) -> tuple[BaseException | None, float]:
    t0 = time.monotonic()
    try:
        queue.add("p", {}, job_id=job_id)
    except Exception as exc:
        return exc, time.monotonic() - t0
    return None, time.monotonic() - t0


@contextlib.contextmanager
def blackhole() -> Iterator[int]:
    """A loopback port that accepts no connection: a listener whose backlog is full, so the
    kernel drops further SYNs and a connect() hangs (as for a firewalled host)."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers: list[socket.socket] = []
    try:
        while True:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.settimeout(0.3)
            fillers.append(s)
            try:
                s.connect(("127.0.0.1", port))
            except TimeoutError:
                break
        yield port
    finally:
        for s in fillers:
            s.close()
        listener.close()


def test_producer_raises_at_once_when_redis_refuses_and_keeps_only_acked_adds(
        redis_servers, tmp_path):
    server: RedisProcess = redis_servers({"appendonly": "yes", "appendfsync": "everysec"})
    server.start()
    queue = Queue("prod", server.url)
    acked = [queue.add("p", {}, job_id=f"a{n}").id for n in range(50)]
    server.kill()
    failures = [timed_add(queue, f"b{n}") for n in range(20)]
    for exc, _took in failures:  # how soon is a figure: printed, not asserted
        assert isinstance(exc, RedisConnectionError), exc
    print("add() raised after " + ", ".join(f"{took:.2f}" for _, took in failures) + " s")
    server.start()
    acked += [queue.add("p", {}, job_id=f"c{n}").id for n in range(5)]
    r = redis.Redis.from_url(server.url, decode_responses=True)
    where = check_invariants(r, BASE)
    assert set(where) == set(acked)
    assert r.lrange(BASE + "wait", 0, -1) == list(reversed(acked))
    r.close()
    queue.close()


def test_producer_raises_when_redis_host_drops_packets():
    with blackhole() as port:
        queue = Queue("prod", f"redis://127.0.0.1:{port}/0")
        exc, took = timed_add(queue, "x")
        queue.close()
    assert isinstance(exc, RedisConnectionError), exc
    print(f"add() raised after {took:.1f} s")


def frozen_add(server: RedisProcess, acked: list[str]) -> tuple[BaseException | None, float]:
    queue = Queue("prod", server.url)
    acked += [queue.add("p", {}, job_id=f"a{n}").id for n in range(20)]
    assert server.proc is not None
    os.kill(server.proc.pid, signal.SIGSTOP)
    try:
        return timed_add(queue, "lost-in-flight")
    finally:
        os.kill(server.proc.pid, signal.SIGCONT)
        queue.close()


def test_producer_raises_when_redis_stops_answering(redis_servers):
    server = redis_servers()
    server.start()
    exc, took = frozen_add(server, [])
    assert isinstance(exc, RedisConnectionError), exc
    print(f"add() raised after {took:.1f} s")


def test_add_that_timed_out_is_at_most_the_one_in_flight(redis_servers):
    """A timed-out add is unknown, not failed: Redis may still run the command it received
    (so a producer retries with the same job_id). Everything acknowledged is there, and
    nothing but the add in flight appears besides."""
    server = redis_servers()
    server.start()
    acked: list[str] = []
    exc, _took = frozen_add(server, acked)
    assert isinstance(exc, RedisConnectionError), exc
    r = redis.Redis.from_url(server.url, decode_responses=True)
    where = wait_for(lambda: check_invariants(r, BASE))
    assert set(acked) <= set(where) <= {*acked, "lost-in-flight"}
    queue = Queue("prod", server.url)
    assert queue.add("p", {}, job_id="lost-in-flight").id == "lost-in-flight"  # idempotent
    assert set(check_invariants(r, BASE)) == {*acked, "lost-in-flight"}
    queue.close()
    r.close()


def blocked_client(r: redis.Redis, name: str) -> dict | None:
    for client in r.client_list():
        if client.get("name") == name and client.get("cmd") == "bzpopmin" and \
                "b" in client.get("flags", ""):
            return client
    return None


async def test_killed_blocking_connection_of_idle_worker_is_replaced(redis_url: str,
                                                                     r: redis.Redis):
    queue = Queue("idle", redis_url)
    started: dict[str, float] = {}

    async def process(job: AsyncJob) -> None:
        started[job.id] = time.monotonic()

    worker = Worker("idle", process, connection=redis_url, drain_delay=30)
    errors: list[BaseException] = []
    worker.on("error", errors.append)
    async with running(worker):
        for round_ in range(3):
            client = await asyncio.to_thread(
                wait_for, lambda: blocked_client(r, worker.client_name), 10)
            assert r.client_kill_filter(_id=client["id"]) == 1
            if round_ == 1:  # the worker is idle again (on a new connection) before the add
                await asyncio.to_thread(wait_for, lambda c=client: (
                    (now := blocked_client(r, worker.client_name)) and now["id"] != c["id"]))
            t0 = time.monotonic()
            job = queue.add("after-kill", {})
            await wait_until(lambda j=job: j.id in started)
            print(f"round {round_}: started {started[job.id] - t0:.3f} s after the add")
    assert len(errors) <= 3
    queue.close()
