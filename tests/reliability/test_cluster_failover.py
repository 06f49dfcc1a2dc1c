"""Cluster failover: the master of the queue's slot is killed (SIGKILL) and its replica is
promoted. Workers and producers find the new master by asking the remaining nodes again after
connection errors (not only after MOVED), and go on without a restart.

A local cluster of three masters with one replica each and a short cluster-node-timeout, so
that a replica takes over within a few seconds. Each test kills the current master of the
"{bull}" slot and, at the end, starts the killed node again, which rejoins as a replica."""

from __future__ import annotations

import asyncio
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from queuecore import AsyncJob, AsyncQueue, Queue, RedisConnectionError, RedisError, Worker
from tests.redisproc import RedisProcess
from tests.reliability.servers import RedisCluster
from tests.worker_utils import running, wait_until

PREFIX = "{bull}"
NODE_TIMEOUT_MS = 1500
LOCK_MS = 15_000  # longer than any failover here: the lock must survive it


@pytest.fixture(scope="module")
def cluster() -> Iterator[RedisCluster]:
    nodes = RedisCluster(replicas=1, node_timeout_ms=NODE_TIMEOUT_MS)
    try:
        yield nodes.start()
    finally:
        nodes.close()


@pytest.fixture
def doomed(cluster: RedisCluster) -> Iterator[RedisProcess]:
    """The master of the {bull} slot, to be killed by the test; started again afterwards
    (it rejoins as a replica of the node that took over)."""
    master = cluster.node_for(PREFIX)
    yield master
    if master.proc is not None and master.proc.poll() is not None:
        master.start()
        _wait(lambda: _link_up(master), 30, "the killed node rejoining as a replica")


def _wait(predicate: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s")
        time.sleep(0.05)
    return value


def _info(node: RedisProcess) -> dict[str, Any]:
    client = redis.Redis(port=node.port, decode_responses=True, socket_timeout=2)
    try:
        return dict(client.info("replication"))
    finally:
        client.close()


def _link_up(node: RedisProcess) -> bool:
    try:
        return _info(node).get("master_link_status") == "up"
    except redis.ConnectionError:
        return False


def in_sync(master: RedisProcess, replica: RedisProcess) -> None:
    """Wait until the replica has every write the master has (no writer may be running
    for this to mean that the replica holds all acknowledged adds)."""
    target = int(_info(master)["master_repl_offset"])
    _wait(lambda: int(_info(replica).get("slave_repl_offset", -1)) >= target, 10,
          "the replica catching up")


async def promoted(cluster: RedisCluster, dead: RedisProcess) -> RedisProcess:
    """Wait (without blocking the loop) until another node serves the {bull} slot."""
    def other() -> RedisProcess | None:
        try:
            owner = cluster.node_for(PREFIX)
        except RuntimeError:
            return None
        return owner if owner is not dead else None

    deadline = time.monotonic() + 30
    while (owner := await asyncio.to_thread(other)) is None:
        assert time.monotonic() < deadline, "no replica was promoted"
        await asyncio.sleep(0.1)
    return owner


def unread_by_server(server_port: int, client_port: int) -> int:
    """Bytes the (frozen) server has received from the client's connection and not read:
    the request was written."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote = fields[1].split(":")[1], fields[2].split(":")[1]
        if int(local, 16) == server_port and int(remote, 16) == client_port:
            return int(fields[4].split(":")[1], 16)
    return 0


def add_until_acknowledged(queue: Queue, job_id: str, errors: dict[str, int]) -> None:
    """One job added the way a careful producer does: on an error, again with the same id
    (never a duplicate); how many calls raised is counted."""
    while True:
        try:
            queue.add("after", {"id": job_id}, job_id=job_id)
            return
        except RedisError:
            errors[job_id] = errors.get(job_id, 0) + 1
            assert errors[job_id] < 5, "an add keeps failing"


async def test_worker_and_producers_follow_the_slot_to_the_promoted_replica(
        cluster: RedisCluster, doomed: RedisProcess) -> None:
    # The only seed is the master that dies: the nodes learned from it lead further.
    url = f"{doomed.url}?cluster=true"
    replica = cluster.replica_of(doomed)
    queue = Queue("fo", url, prefix=PREFIX, socket_timeout=None)
    aqueue = AsyncQueue("fo", url, prefix=PREFIX)
    runs: dict[str, int] = {}
    stalled: list[str] = []
    release = asyncio.Event()

    async def work(job: AsyncJob) -> None:
        runs[job.id] = runs.get(job.id, 0) + 1
        if job.name == "slow":  # active on the master when it dies
            await release.wait()

    worker = Worker("fo", work, connection=url, prefix=PREFIX, concurrency=8,
                    lock_duration=4000, stalled_interval=1000, drain_delay=1)
    worker.on("stalled", lambda jid, _prev: stalled.append(jid))
    try:
        async with running(worker, close_timeout=5):
            acknowledged = [queue.add("fast", {}, job_id=f"f{i}").id for i in range(20)]
            acknowledged += [queue.add("slow", {}, job_id=f"s{i}").id for i in range(3)]
            await wait_until(lambda: {"s0", "s1", "s2"} <= set(runs) and len(runs) == 23,
                             timeout=15)
            in_sync(doomed, replica)
            # An add written to the master, which then dies before answering: reported,
            # never sent again behind the caller's back.
            assert doomed.proc is not None
            doomed.proc.send_signal(signal.SIGSTOP)  # the request waits unanswered
            in_flight: list[BaseException] = []

            def add_in_flight() -> None:
                try:
                    queue.add("lost", {}, job_id="lost")
                except BaseException as exc:  # kept for the assertion below
                    in_flight.append(exc)

            direct = queue._runner._direct  # the connection the add is written on
            assert direct is not None and direct._conn is not None
            client_port = direct._conn._sock.getsockname()[1]
            sender = threading.Thread(target=add_in_flight)
            sender.start()
            await wait_until(lambda: unread_by_server(doomed.port, client_port) > 0,
                             timeout=10)
            doomed.kill()
            killed_at = time.monotonic()
            await asyncio.to_thread(sender.join, 30)
            assert len(in_flight) == 1 and isinstance(in_flight[0], RedisConnectionError)
            assert "may or may not have run" in str(in_flight[0])
            release.set()  # the slow jobs finish now, while their master is gone

            errors: dict[str, int] = {}
            after = [f"a{i}" for i in range(10)]
            for job_id in after[:5]:  # the blocking Queue, from a thread
                await asyncio.to_thread(add_until_acknowledged, queue, job_id, errors)
            for job_id in after[5:]:  # and the AsyncQueue
                while True:
                    try:
                        await aqueue.add("after", {"id": job_id}, job_id=job_id)
                        break
                    except RedisError:
                        errors[job_id] = errors.get(job_id, 0) + 1
                        assert errors[job_id] < 5
            assert all(count <= 1 for count in errors.values()), errors
            new_master = await promoted(cluster, doomed)
            took_over = time.monotonic() - killed_at
            assert new_master is replica

            async def all_completed() -> bool:
                counts = await aqueue.get_job_counts("completed")
                return counts["completed"] == len(acknowledged) + len(after)

            await wait_until(all_completed, timeout=40, interval=0.2)
            for job_id in acknowledged + after:  # nothing acknowledged is lost
                assert await aqueue.get_job_state(job_id) == "completed", job_id
            assert await aqueue.get_job("lost") is None  # it never ran: not sent again
            # The blocking and presence connections moved too: getWorkers on the new
            # master lists the worker.
            await wait_until(lambda: _listed(aqueue, worker), timeout=15, interval=0.2)
    finally:
        release.set()
        queue.close()
        await aqueue.close()
    print(f"\nnew master seen {took_over:.1f} s after the kill; slow jobs recovered by "
          f"the stall check: {sorted(set(stalled))}; their runs: "
          f"{[runs[f's{i}'] for i in range(3)]}; producer errors: {errors}")


async def _listed(queue: AsyncQueue, worker: Worker) -> bool:
    names = [w.get("name", "") for w in await queue.get_workers()]
    return any(worker.id in name for name in names)


async def test_locks_are_renewed_and_blocking_resumes_on_the_new_master(
        cluster: RedisCluster, doomed: RedisProcess) -> None:
    """A job longer than the failover keeps its lock (renewed on the new master), the idle
    blocking connection wakes on the new master's marker, and a call's wait for a new
    master is bounded (failover_wait)."""
    seeds = "?cluster=true"
    other = next(n for n in cluster.nodes + cluster.replicas
                 if n is not doomed and n.proc is not None and n.proc.poll() is None)
    url = f"{other.url}{seeds}"
    aqueue = AsyncQueue("renew", url, prefix=PREFIX)
    release = asyncio.Event()
    lost: list[str] = []
    stalled: list[str] = []

    async def work(job: AsyncJob) -> str:
        if job.name == "long":
            await release.wait()
        return job.name

    worker = Worker("renew", work, connection=url, prefix=PREFIX, concurrency=2,
                    lock_duration=LOCK_MS, lock_renew_time=300, stalled_interval=1000,
                    drain_delay=1)
    worker.on("lock-lost", lambda jid, _exc: lost.append(jid))
    worker.on("stalled", lambda jid, _prev: stalled.append(jid))
    impatient = Queue("renew", f"{other.url}{seeds}&failover_wait=0.3", prefix=PREFIX)
    try:
        async with running(worker, close_timeout=5):
            long = await aqueue.add("long", {})
            await wait_until(lambda: worker.active_count == 1, timeout=10)
            in_sync(doomed, cluster.replica_of(doomed))
            doomed.kill()
            # No replica can have taken over within 0.3 s (the node timeout is longer):
            # the call waits that long for one, then raises, once.
            with pytest.raises(RedisConnectionError, match=r"within 0\.3 s"):
                await asyncio.to_thread(impatient.add, "early", {}, job_id="early")
            new_master = await promoted(cluster, doomed)
            lock = redis.Redis(port=new_master.port, decode_responses=True)
            try:
                # Renewed on the new master: more time left than any lock from before the
                # kill could have (a node timeout has passed since).
                await wait_until(lambda: lock.pttl(f"{PREFIX}:renew:{long.id}:lock") >
                                 LOCK_MS - NODE_TIMEOUT_MS,
                                 timeout=15, interval=0.1)
            finally:
                lock.close()
            # The idle blocking connection follows too: a new job starts at once.
            quick = await aqueue.add("quick", {})

            async def finished(job_id: str) -> bool:
                return await aqueue.get_job_state(job_id) == "completed"

            await wait_until(lambda: finished(quick.id), timeout=10, interval=0.1)
            release.set()
            await wait_until(lambda: finished(long.id), timeout=10, interval=0.1)
            assert lost == [] and stalled == []
            # The impatient queue reaches the new master on its next call.
            await asyncio.to_thread(impatient.add, "early", {}, job_id="early")
            await wait_until(lambda: finished("early"), timeout=10, interval=0.1)
    finally:
        release.set()
        impatient.close()
        await aqueue.close()
