"""Redis Sentinel: a master, a replica and three sentinels on loopback (tests/reliability/
sentinels.py). Queues, workers, QueueEvents and the standalone dashboard reach the master
through a ``redis+sentinel://`` URL or a redis-py ``master_for()`` client, and go on through
a failover (SENTINEL FAILOVER, and the master killed) without a restart: a producer's call
raises at most once once the sentinels name the new master, an add confirmed by WAIT is never
lost, and every job that reached the new master is run."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis
import redis.asyncio.sentinel as asentinel
import redis.sentinel as ssentinel

from queuecore import AsyncJob, AsyncQueue, Queue, QueueEvents, RedisTimeoutError, Worker
from tests.reliability.conftest import ROOT
from tests.reliability.sentinels import SERVICE, SentinelSetup
from tests.reliability.servers import make_certs
from tests.waiting import wait_for
from tests.worker_utils import running, wait_until


@pytest.fixture
def deployment() -> Iterator[SentinelSetup]:
    setup = SentinelSetup()
    try:
        yield setup.start()
    finally:
        setup.close()


def _redis(port: int) -> redis.Redis:
    return redis.Redis(port=port, decode_responses=True, socket_timeout=5)


async def test_queues_through_a_sentinel_url_and_master_for_clients(deployment) -> None:
    url = deployment.url()
    sync_sentinel = ssentinel.Sentinel(deployment.addresses)
    async_sentinel = asentinel.Sentinel(deployment.addresses)
    sync_master = sync_sentinel.master_for(SERVICE)
    async_master = async_sentinel.master_for(SERVICE)
    try:
        with Queue("sq", url) as by_url:
            by_url.add("a", {"n": 1}, job_id="u1")
        with Queue("sq", sync_master) as by_client:
            by_client.add("a", {"n": 2}, job_id="c1")
            assert by_client.get_job_counts("waiting") == {"waiting": 2}
        async with AsyncQueue("sq", async_master) as aq:
            await aq.add("a", {"n": 3}, job_id="c2")
        async with AsyncQueue("sq", {"url": url}) as aq:
            await aq.add("a", {"n": 4}, job_id="u2")
            assert (await aq.get_job_counts("waiting")) == {"waiting": 4}
        # Every add landed on the master the sentinels name; the given clients are the
        # caller's and still work (queuecore copied them, never closed them).
        assert _redis(deployment.master.port).llen("bull:sq:wait") == 4
        assert sync_master.ping() and await async_master.ping()
    finally:
        sync_master.close()
        sync_sentinel.close()
        await async_master.aclose()
        await async_sentinel.aclose()


async def test_worker_and_queue_events_through_sentinel(deployment) -> None:
    url = deployment.url()
    sync_sentinel = ssentinel.Sentinel(deployment.addresses)
    async_sentinel = asentinel.Sentinel(deployment.addresses)
    sync_master = sync_sentinel.master_for(SERVICE)
    async_master = async_sentinel.master_for(SERVICE)
    done: list[str] = []

    async def work(job: AsyncJob) -> str:
        done.append(str(job.id))
        return "ok"

    events = QueueEvents("sw", sync_master, last_event_id="0", block_ms=200)
    try:
        for n, connection in enumerate((url, async_master)):
            done.clear()
            worker = Worker("sw", work, connection=connection, drain_delay=0.5)
            async with running(worker), AsyncQueue("sw", url) as queue:
                await queue.add("j", {}, job_id=f"j{n}")
                await wait_until(lambda: len(done) == 1, timeout=10)
                # The blocking and presence connections are the master's too.
                workers = await queue.get_workers()
                assert len(workers) == 1
        seen = {(e.event, e.job_id) for e in await asyncio.to_thread(events.read, 500)}
        assert {name for name, _ in seen} >= {"added", "active", "completed"}
        by_url = QueueEvents("sw", url, last_event_id="0")
        try:
            assert {(e.event, e.job_id) for e in await by_url.aread(500)} == seen
        finally:
            await by_url.aclose()
    finally:
        events.close()
        sync_master.close()
        sync_sentinel.close()
        await async_master.aclose()
        await async_sentinel.aclose()


async def test_tls_through_rediss_sentinel_url_and_master_for(tmp_path: Path) -> None:
    certs = make_certs(tmp_path / "certs")
    deployment = SentinelSetup(certs)
    tls = {"ssl": True, "ssl_ca_certs": str(certs.ca)}
    done: list[str] = []

    async def work(job: AsyncJob) -> None:
        done.append(str(job.id))

    try:
        deployment.start()
        url = deployment.url()
        assert url.startswith("rediss+sentinel://")
        sentinel = asentinel.Sentinel(deployment.addresses, sentinel_kwargs=tls, **tls)
        given = sentinel.master_for(SERVICE)
        try:
            async with AsyncQueue("tq", given) as queue:
                await queue.add("a", {}, job_id="t1")
            worker = Worker("tq", work, connection=url, drain_delay=0.5)
            async with running(worker):
                with Queue("tq", url) as queue:
                    queue.add("a", {}, job_id="t2")
                    await wait_until(lambda: sorted(done) == ["t1", "t2"], timeout=10)
                    assert queue.get_job_counts("completed") == {"completed": 2}
        finally:
            await given.aclose()
            await sentinel.aclose()
    finally:
        deployment.close()


@dataclass
class Attempts:
    """What a producer saw: (start time, job id, error or None) per call."""

    calls: list[tuple[float, str, BaseException | None]] = field(default_factory=list)
    stop: bool = False

    @property
    def acked(self) -> list[str]:
        return [job_id for _, job_id, error in self.calls if error is None]

    def failures_since(self, moment: float) -> list[BaseException]:
        return [e for start, _, e in self.calls if start >= moment and e is not None]

    def acked_since(self, moment: float) -> int:
        return sum(1 for start, _, e in self.calls if start >= moment and e is None)


def produce_sync(queue: Queue, tag: str, seen: Attempts) -> None:
    """Adds with explicit ids (a retried add is idempotent), again after a failure."""
    n = 0
    while not seen.stop:
        job_id = f"{tag}{n}"
        start = time.monotonic()
        try:
            queue.add("p", {}, job_id=job_id)
        except Exception as exc:
            seen.calls.append((start, job_id, exc))
            time.sleep(0.05)
            continue
        seen.calls.append((start, job_id, None))
        n += 1
        time.sleep(0.01)


async def produce_async(queue: AsyncQueue, tag: str, seen: Attempts) -> None:
    n = 0
    while not seen.stop:
        job_id = f"{tag}{n}"
        start = time.monotonic()
        try:
            await queue.add("p", {}, job_id=job_id)
        except Exception as exc:
            seen.calls.append((start, job_id, exc))
            await asyncio.sleep(0.05)
            continue
        seen.calls.append((start, job_id, None))
        n += 1
        await asyncio.sleep(0.01)


def follow_events(events: QueueEvents, out: list[tuple[str, str | None]],
                  errors: list[BaseException], stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            out.extend((e.event, e.job_id) for e in events.read(200))
        except Exception as exc:
            errors.append(exc)
            time.sleep(0.1)


class Dashboard:
    """The standalone site in a child process (tests/reliability/proc_dashboard.py)."""

    def __init__(self, url: str, directory: Path) -> None:
        env = {**os.environ, "QUEUE_DASHBOARD_REDIS_URL": url,
               "DJANGO_DB_PATH": str(directory / "dash.sqlite3"),
               "DJANGO_SECRET_KEY": "sentinel-test-" + "k" * 40,
               "DJANGO_ALLOWED_HOSTS": "testserver"}
        self.err = (directory / "dashboard.err").open("w")
        self.proc = subprocess.Popen([sys.executable, "-m", "tests.reliability.proc_dashboard"],
                                     cwd=ROOT, env=env, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self.err, text=True)
        assert self.proc.stdout is not None
        assert self.proc.stdout.readline().strip() == "ready"

    def get(self, path: str) -> tuple[int, str]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(path + "\n")
        self.proc.stdin.flush()
        answer = json.loads(self.proc.stdout.readline())
        return int(answer["status"]), str(answer["body"])

    def counts(self, queue: str) -> dict[str, int] | None:
        """The counts the overview page shows for ``queue`` (None on an error page)."""
        status, body = self.get("/queues/")
        row = re.search(rf'data-queue="{queue}"[^>]*>.*?</tr>', body, re.S)
        if status != 200 or row is None:
            return None
        return {state: int(n) for state, n in
                re.findall(r'id="q[0-9a-f]+-([a-z-]+)"[^>]*>(\d+)</span>', row.group(0))}

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self.err.close()


def _job_ids(port: int, queue: str) -> set[str]:
    client = _redis(port)
    try:
        prefix = f"bull:{queue}:"
        return {key[len(prefix):] for key in client.scan_iter(f"{prefix}*", count=1000)
                if re.fullmatch(r"[sa]\d+", key[len(prefix):])}
    finally:
        client.close()


def _failover(deployment: SentinelSetup, how: str) -> Callable[[], int]:
    """Start a failover; the returned call waits for it to end and gives the new port."""
    old = deployment.master_port()
    if how == "command":
        client = deployment.sentinels[0].client()
        try:
            assert client.sentinel_failover(SERVICE)
        finally:
            client.close()
    else:
        deployment.server(old).kill()

    def finish() -> int:
        new = deployment.failover_done(old)
        if how == "kill":
            # Back with no data; the sentinels make it a replica of the new master, so that
            # WAIT can be confirmed again.
            deployment.server(old).start()
        deployment.wait_in_sync(new, caught_up=False)
        return new
    return finish


@pytest.mark.parametrize("how", ["command", "kill"])
async def test_failover_loses_no_confirmed_add_and_nobody_restarts(
        deployment: SentinelSetup, how: str, tmp_path: Path) -> None:
    url = deployment.url()
    # The sync producer confirms each add with WAIT; the async one does not.
    confirmed = Queue("fo", {"url": url, "wait_replicas": 1, "wait_timeout_ms": 2000})
    unconfirmed = AsyncQueue("fo", url)
    dashboard = Dashboard(url, tmp_path)
    sync_sentinel = ssentinel.Sentinel(deployment.addresses)
    given = sync_sentinel.master_for(SERVICE)
    events = QueueEvents("fo", given, last_event_id="0")
    seen_events: list[tuple[str, str | None]] = []
    event_errors: list[BaseException] = []
    stop_events = threading.Event()
    reader = threading.Thread(target=follow_events,
                              args=(events, seen_events, event_errors, stop_events))
    done: list[str] = []

    async def work(job: AsyncJob) -> None:
        done.append(str(job.id))

    # Short locks and stall checks: a job whose completion the old master took with it is
    # run again soon (at least once, as after any crash).
    worker = Worker("fo", work, connection=url, drain_delay=0.5, lock_duration=3000,
                    stalled_interval=1000, max_stalled_count=10)
    sync_seen, async_seen = Attempts(), Attempts()
    sync_thread = threading.Thread(target=produce_sync, args=(confirmed, "s", sync_seen))
    try:
        reader.start()
        async with running(worker):
            sync_thread.start()
            producer = asyncio.ensure_future(produce_async(unconfirmed, "a", async_seen))
            await wait_until(lambda: len(done) >= 20 and len(async_seen.acked) >= 10,
                             timeout=20)
            before = await asyncio.to_thread(dashboard.counts, "fo")
            assert before is not None and before.get("completed", 0) >= 1, before

            finish = await asyncio.to_thread(_failover, deployment, how)
            new = await asyncio.to_thread(finish)
            settled = time.monotonic()
            await wait_until(lambda: sync_seen.acked_since(settled) >= 10 and
                             async_seen.acked_since(settled) >= 10, timeout=20)
            sync_seen.stop = async_seen.stop = True
            await producer
            await asyncio.to_thread(sync_thread.join, 10)
            assert not sync_thread.is_alive()

            # Once the sentinels name the new master, a call raises at most once.
            assert len(sync_seen.failures_since(settled)) <= 1, sync_seen.failures_since(settled)
            assert len(async_seen.failures_since(settled)) <= 1
            # WAIT refused to confirm while no replica was there, and said so.
            for _start, _, error in sync_seen.calls:
                assert error is None or isinstance(error, ConnectionError | RedisTimeoutError)

            # No add confirmed by WAIT is lost.
            on_new = _job_ids(new, "fo")
            assert set(sync_seen.acked) <= on_new
            # Adds without WAIT reach the new master once the failover is over.
            assert {job_id for start, job_id, e in async_seen.calls
                    if start >= settled and e is None} <= on_new
            # The worker (never restarted) runs every job the new master has.
            with Queue("fo", f"redis://127.0.0.1:{new}/0") as direct:
                await wait_until(lambda: direct.get_job_counts("completed")["completed"]
                                 == len(on_new), timeout=30, interval=0.1)
                counts = direct.get_job_counts()
        # QueueEvents (given a master_for client) follows too: it reports the completion
        # of a job added after the failover.
        last = f"s{len(sync_seen.acked) - 1}"
        await asyncio.to_thread(wait_for, lambda: ("completed", last) in seen_events, 15)
        # The dashboard, a process that never restarted, shows the new master's counts.
        def shows_counts() -> bool:
            shown = dashboard.counts("fo")
            return shown is not None and shown == {k: counts[k] for k in shown}

        await asyncio.to_thread(wait_for, shows_counts, 15, 0.2, "the dashboard's counts")
    finally:
        sync_seen.stop = async_seen.stop = True
        stop_events.set()
        reader.join(10)
        events.close()
        given.close()
        sync_sentinel.close()
        confirmed.close()
        await unconfirmed.close()
        dashboard.close()
