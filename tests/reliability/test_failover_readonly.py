"""A failover behind one address (a proxy, a DNS name or a virtual IP, as with Sentinel): the
old master is demoted to a replica, the address now leads to the new master, and connections
opened before still reach the old one, which answers READONLY. Producers raise ReadOnlyError
once and reach the new master on the next call; a worker drops its connections and goes on
with the new master's jobs, without a restart."""

from __future__ import annotations

import contextlib
import socket
import threading
import time

import pytest
import redis

from queuecore import AsyncJob, Queue, Worker
from tests.worker_utils import running, wait_until


class SwitchingProxy:
    """TCP proxy on loopback; each new client connection goes to the current ``upstream``."""

    def __init__(self, upstream: int) -> None:
        self.upstream = upstream
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self._sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.upstream))
            self._sockets += [client, upstream]
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self.listener.close()
        for s in self._sockets:
            s.close()


@pytest.fixture
def failover(redis_servers):
    old = redis_servers().start()
    new = redis_servers().start()
    proxy = SwitchingProxy(old.port)
    yield old, new, proxy
    proxy.close()


def demote(old, new, proxy: SwitchingProxy) -> None:
    """The old master becomes a replica of the new one; the address leads to the new one."""
    proxy.upstream = new.port
    redis.Redis(port=old.port).replicaof("127.0.0.1", new.port)
    deadline = time.monotonic() + 10
    while redis.Redis(port=old.port, decode_responses=True).info("replication").get(
            "master_link_status") != "up":
        assert time.monotonic() < deadline, "the replica did not sync"
        time.sleep(0.05)


def test_producer_raises_readonly_once_then_reaches_the_new_master(failover) -> None:
    old, new, proxy = failover
    queue = Queue("fo", f"redis://127.0.0.1:{proxy.port}/0")
    try:
        queue.add("before", {})
        demote(old, new, proxy)
        with pytest.raises(redis.ReadOnlyError):
            queue.add("during", {}, job_id="j1")
        queue.add("during", {}, job_id="j1")  # the same id again: safe, and it lands
        assert redis.Redis(port=new.port).exists("bull:fo:j1") == 1
    finally:
        queue.close()


async def test_worker_reconnects_after_readonly_and_runs_the_new_masters_jobs(failover):
    old, new, proxy = failover
    url = f"redis://127.0.0.1:{proxy.port}/0"
    done: list[str] = []

    async def work(job: AsyncJob) -> None:
        done.append(job.data["n"])

    worker = Worker("fo", work, connection=url, drain_delay=0.5)
    async with running(worker):
        with Queue("fo", f"redis://127.0.0.1:{old.port}/0") as before:
            before.add("j", {"n": "old"})
        await wait_until(lambda: done == ["old"], timeout=10)
        demote(old, new, proxy)
        with Queue("fo", f"redis://127.0.0.1:{new.port}/0") as after:
            after.add("j", {"n": "new"})
            await wait_until(lambda: after.get_job_counts("completed")["completed"] == 1,
                             timeout=15)
            assert done == ["old", "new"]
