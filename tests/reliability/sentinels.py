"""A private Sentinel deployment on loopback: a master, one replica and three sentinels
(``redis-server --sentinel``, which is what Debian's redis-sentinel runs), all started and
stopped by the test that makes it; with ``certs``, every one of them speaks TLS only."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable

import redis

from tests.redisproc import RedisProcess, find_redis_server
from tests.reliability.servers import Certs, TLSRedisProcess

SERVICE = "qcmaster"
# Fast failure detection for tests; production keeps its own (the default is 30 s).
DOWN_AFTER_MS = 1000
FAILOVER_TIMEOUT_MS = 10_000


class SentinelProcess(RedisProcess):
    """One sentinel, monitoring ``SERVICE`` (quorum 2) from a config file it may rewrite."""

    def __init__(self, master_port: int, certs: Certs | None = None) -> None:
        super().__init__({})
        self.master_port = master_port
        self.certs = certs

    def start(self) -> SentinelProcess:
        conf = self.dir / "sentinel.conf"
        if self.certs is None:
            listen = [f"port {self.port}"]
        else:  # TLS to its clients and, with tls-replication, to the servers it watches
            listen = ["port 0", f"tls-port {self.port}", f"tls-cert-file {self.certs.cert}",
                      f"tls-key-file {self.certs.key}", f"tls-ca-cert-file {self.certs.ca}",
                      "tls-auth-clients no", "tls-replication yes"]
        conf.write_text("\n".join([
            *listen, "bind 127.0.0.1", f"dir {self.dir}",
            f"sentinel monitor {SERVICE} 127.0.0.1 {self.master_port} 2",
            f"sentinel down-after-milliseconds {SERVICE} {DOWN_AFTER_MS}",
            f"sentinel failover-timeout {SERVICE} {FAILOVER_TIMEOUT_MS}",
            f"sentinel parallel-syncs {SERVICE} 1", ""]))
        self.proc = subprocess.Popen([find_redis_server(), str(conf), "--sentinel"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait(lambda: self._answers(), 10, f"sentinel on {self.port}",
             lambda: self.proc is not None and self.proc.poll() is not None)
        return self

    def _answers(self) -> bool:
        client = self.client()
        try:
            return bool(client.ping())
        except redis.ConnectionError:
            return False
        finally:
            client.close()

    def client(self) -> redis.Redis:
        return connect(self.port, self.certs)


def connect(port: int, certs: Certs | None) -> redis.Redis:
    tls = {} if certs is None else {"ssl": True, "ssl_ca_certs": str(certs.ca)}
    return redis.Redis(port=port, decode_responses=True, socket_timeout=2, **tls)


def wait(predicate: Callable[[], object], timeout: float, what: str,
         gave_up: Callable[[], bool] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if gave_up is not None and gave_up():
            raise RuntimeError(f"{what}: the process exited")
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s")
        time.sleep(0.05)


class SentinelSetup:
    """Master, replica and three sentinels that all see each other."""

    def __init__(self, certs: Certs | None = None) -> None:
        self.certs = certs
        self.master = self._server()
        self.replica = self._server()
        self.sentinels: list[SentinelProcess] = []

    def _server(self) -> RedisProcess:
        # No delay before a full sync (Redis waits 5 s by default for more replicas).
        if self.certs is None:
            return RedisProcess({"repl-diskless-sync-delay": "0"})
        server = TLSRedisProcess(self.certs)
        server.config.update({"repl-diskless-sync-delay": "0", "tls-replication": "yes"})
        return server

    def client(self, port: int) -> redis.Redis:
        return connect(port, self.certs)

    @property
    def servers(self) -> list[RedisProcess]:
        return [self.master, self.replica]

    def url(self, db: int = 0) -> str:
        hosts = ",".join(f"127.0.0.1:{s.port}" for s in self.sentinels)
        if self.certs is None:
            return f"redis+sentinel://{hosts}/{SERVICE}/{db}"
        return f"rediss+sentinel://{hosts}/{SERVICE}/{db}?ssl_ca_certs={self.certs.ca}"

    @property
    def addresses(self) -> list[tuple[str, int]]:
        return [("127.0.0.1", s.port) for s in self.sentinels]

    def start(self) -> SentinelSetup:
        self.master.start()
        self.replica.start()
        replica = self.client(self.replica.port)
        try:
            replica.replicaof("127.0.0.1", self.master.port)
        finally:
            replica.close()
        self.wait_in_sync()
        self.sentinels = [SentinelProcess(self.master.port, self.certs) for _ in range(3)]
        for node in self.sentinels:
            node.start()
        wait(self._all_see_each_other, 20, "sentinels see the replica and each other")
        return self

    def _all_see_each_other(self) -> bool:
        for node in self.sentinels:
            client = node.client()
            try:
                state = client.sentinel_master(SERVICE)
                if int(state["num-other-sentinels"]) < 2 or int(state["num-slaves"]) < 1:
                    return False
                replicas = client.sentinel_slaves(SERVICE)
                if not any(not r["is_sdown"] and r.get("master-link-status") == "ok"
                           for r in replicas):
                    return False
            except redis.RedisError:
                return False
            finally:
                client.close()
        return True

    def master_port(self) -> int:
        """The port the sentinels agree is the master's (waits until they agree)."""
        seen: set[int] = set()

        def agreed() -> bool:
            seen.clear()
            for node in self.sentinels:
                client = node.client()
                try:
                    seen.add(int(client.sentinel_get_master_addr_by_name(SERVICE)[1]))
                except redis.RedisError:
                    return False
                finally:
                    client.close()
            return len(seen) == 1
        wait(agreed, 20, "sentinels agree on the master")
        return seen.pop()

    def server(self, port: int) -> RedisProcess:
        return next(s for s in self.servers if s.port == port)

    def wait_in_sync(self, master_port: int | None = None, caught_up: bool = True) -> None:
        """A replica is connected (``caught_up``: and has everything the master wrote)."""
        def in_sync() -> bool:
            master = self.client(master_port or self.master.port)
            try:
                info = master.info("replication")
                offset = int(info["master_repl_offset"])
                replica = info.get("slave0")
                return isinstance(replica, dict) and replica.get("state") == "online" and \
                    (not caught_up or int(replica["offset"]) >= offset)
            except redis.RedisError:
                return False
            finally:
                master.close()
        wait(in_sync, 20, "the replica is in sync")

    def failover_done(self, old_port: int) -> int:
        """Wait until every sentinel names a new master that says it is one; its port."""
        def moved() -> bool:
            return all(self._named(node) not in (None, old_port) for node in self.sentinels)
        wait(moved, 30, "the failover")
        port = self.master_port()
        client = self.client(port)
        try:
            wait(lambda: client.role()[0] == "master", 10, "the new master takes writes")
        finally:
            client.close()
        return port

    @staticmethod
    def _named(node: SentinelProcess) -> int | None:
        client = node.client()
        try:
            return int(client.sentinel_get_master_addr_by_name(SERVICE)[1])
        except redis.RedisError:
            return None
        finally:
            client.close()

    def close(self) -> None:
        for node in self.sentinels:
            node.close()
        for server in self.servers:
            server.close()
