"""The Sentinel-backed pools queuecore builds (see ``sentinel``), whose connections:

- refuse a server that is not a master at connect time (a sentinel that has not heard of a
  failover yet may still name the demoted master; another sentinel is asked next), so that a
  new connection never lands on a replica;
- check, at most once a second while in use, that the sentinels still name their server, and
  do not send to a former master (it takes writes until the sentinels demote it, which
  would lose them): the sync connection reconnects first, the asyncio one raises a
  ConnectionError saying nothing was sent (another task may be reading it);
- ask the sentinels again whenever they reconnect (redis-py's own Sentinel connection does
  so only in ``connect()``: a command sent on a dropped connection reconnects to the address
  it had, after a failover the old master);
- let READONLY through as it is (redis-py's Sentinel connection turns it into a
  ConnectionError): queuecore's runner then drops every connection of the pool at once, and
  the caller learns that the command did not run.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, cast

import redis
import redis.asyncio as aioredis
import redis.asyncio.sentinel as asentinel
import redis.sentinel as ssentinel
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import NoBackoff
from redis.retry import Retry as SyncRetry

from . import handshake
from .sentinel import SentinelSpec

# How long a new connection keeps asking the sentinels for a master that really is one (the
# sentinels learn of a failover from each other within about two seconds).
FIND_MASTER_SECONDS = 3.0
# How often a connection in use asks the sentinels whether its master is still the master.
# During a failover the old master keeps taking writes until the sentinels demote it (about
# ten seconds after the switch, seen with Redis 7.0); writes sent to it then are lost.
MASTER_CHECK_SECONDS = 1.0


class NotMasterError(redis.ConnectionError):
    """The server a sentinel named is not (or no longer) a master."""


def _role_of(reply: Any) -> str:
    first = reply[0] if isinstance(reply, list | tuple) and reply else ""
    return first.decode() if isinstance(first, bytes) else str(first)


def _check_due(pool: Any) -> bool:
    now = time.monotonic()
    if now - getattr(pool, "_qc_checked", 0.0) < MASTER_CHECK_SECONDS:
        return False
    pool._qc_checked = now
    return True


def _stale(conn: Any, address: Any) -> bool:
    return address is not None and (conn.host, int(conn.port)) != (address[0], int(address[1]))


def _next_sentinel(manager: Any) -> None:
    """Ask another sentinel first next time (redis-py asks the last one that answered)."""
    nodes = manager.sentinels
    if len(nodes) > 1:
        nodes.append(nodes.pop(0))


class _SyncMaster:
    _finding = False  # inside _connect_retry: connect to the address it found

    def connect_check_health(self, check_health: bool = True,
                             retry_socket_connect: bool = True) -> None:
        # redis-py's own Sentinel connection asks the sentinels in connect() only; a command
        # sent on a dropped connection reconnects through here, to the address it had before
        # (after a failover, the old master). Ask the sentinels on every reconnect.
        conn: Any = self
        if not self._finding and not conn._sock:
            self._connect_retry()
            return
        super().connect_check_health(  # type: ignore[misc]
            check_health=check_health, retry_socket_connect=retry_socket_connect)

    def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        # At most once a second: if the sentinels have switched to another master, close
        # this connection before sending (nothing of this command has been sent), so that
        # it goes to the new master and not to the old one, which would lose it.
        conn: Any = self
        pool = conn.connection_pool
        if conn._sock and not self._finding and _check_due(pool):
            try:
                address = pool.get_master_address()
            except (redis.ConnectionError, redis.TimeoutError):
                address = None
            if _stale(conn, address):
                conn.disconnect()
        super().send_packed_command(command, check_health)  # type: ignore[misc]

    def on_connect_check_health(self, check_health: bool = True) -> None:
        super().on_connect_check_health(check_health=check_health)  # type: ignore[misc]
        conn: Any = self
        conn.send_command("ROLE")
        try:
            role = _role_of(conn.read_response())
        except redis.ResponseError:  # ROLE not allowed by an ACL: trust the sentinels
            return
        if role != "master":
            raise NotMasterError(f"{conn.host}:{conn.port}, named master of "
                                 f"{conn.connection_pool.service_name!r}, is a {role}")

    def _connect_retry(self) -> None:
        conn: Any = self
        if conn._sock:
            return
        deadline = time.monotonic() + FIND_MASTER_SECONDS
        self._finding = True
        try:
            while True:
                try:
                    conn.connect_to(conn.connection_pool.get_master_address())
                    return
                except NotMasterError:
                    conn.disconnect()
                    _next_sentinel(conn.connection_pool.sentinel_manager)
                    if time.monotonic() >= deadline:
                        raise
                    time.sleep(0.05)
        finally:
            self._finding = False

    def read_response(self, *args: Any, **kwargs: Any) -> Any:
        # Past redis-py's Sentinel connection, which turns READONLY into a ConnectionError:
        # READONLY says the command did not run, and queuecore's runner resets the pool on it.
        return super(ssentinel.SentinelManagedConnection, self).read_response(  # type: ignore[misc]
            *args, **kwargs)


class _AsyncMaster:
    _finding = False

    async def connect_check_health(self, check_health: bool = True,
                                   retry_socket_connect: bool = True) -> None:
        conn: Any = self
        if not self._finding and not conn.is_connected:
            await self._connect_retry()
            return
        await super().connect_check_health(  # type: ignore[misc]
            check_health=check_health, retry_socket_connect=retry_socket_connect)

    async def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        conn: Any = self
        pool = conn.connection_pool
        if conn.is_connected and not self._finding and _check_due(pool):
            try:
                address = await pool.get_master_address()
            except (redis.ConnectionError, redis.TimeoutError):
                address = None
            if _stale(conn, address):
                # Not reconnected in place: another task (the worker's auto-pipeline reader)
                # may be reading this connection. Nothing was sent; the caller may send again.
                await conn.disconnect()
                raise redis.ConnectionError(
                    f"{conn.host}:{conn.port} is no longer the master of "
                    f"{pool.service_name!r}: the command was not sent")
        await super().send_packed_command(command, check_health)  # type: ignore[misc]

    async def on_connect_check_health(self, check_health: bool = True) -> None:
        await super().on_connect_check_health(check_health=check_health)  # type: ignore[misc]
        conn: Any = self
        await conn.send_command("ROLE")
        try:
            role = _role_of(await conn.read_response())
        except redis.ResponseError:
            return
        if role != "master":
            raise NotMasterError(f"{conn.host}:{conn.port}, named master of "
                                 f"{conn.connection_pool.service_name!r}, is a {role}")

    async def _connect_retry(self) -> None:
        conn: Any = self
        if conn.is_connected:
            return
        deadline = time.monotonic() + FIND_MASTER_SECONDS
        self._finding = True
        try:
            while True:
                try:
                    await conn.connect_to(await conn.connection_pool.get_master_address())
                    return
                except NotMasterError:
                    await conn.disconnect()
                    _next_sentinel(conn.connection_pool.sentinel_manager)
                    if time.monotonic() >= deadline:
                        raise
                    await asyncio.sleep(0.05)
        finally:
            self._finding = False

    async def read_response(self, *args: Any, **kwargs: Any) -> Any:
        return await super(asentinel.SentinelManagedConnection, self).read_response(  # type: ignore[misc]
            *args, **kwargs)


class SentinelConnection(_SyncMaster, handshake._SyncGuard,
                         ssentinel.SentinelManagedConnection):
    pass


class SentinelSSLConnection(_SyncMaster, handshake._SyncGuard,
                            ssentinel.SentinelManagedSSLConnection):
    pass


class AsyncSentinelConnection(_AsyncMaster, handshake._AsyncGuard,
                              asentinel.SentinelManagedConnection):
    pass


class AsyncSentinelSSLConnection(_AsyncMaster, handshake._AsyncGuard,
                                 asentinel.SentinelManagedSSLConnection):
    pass


# -- pools: closing one closes its connections to the sentinels too --

class _SyncPool(ssentinel.SentinelConnectionPool):
    def disconnect(self, inuse_connections: bool = True) -> None:
        super().disconnect(inuse_connections)
        if inuse_connections:  # closed or reset, not a master change seen at connect
            for node in self.sentinel_manager.sentinels:
                node.connection_pool.disconnect()


class _AsyncPool(asentinel.SentinelConnectionPool):
    async def disconnect(self, inuse_connections: bool = True) -> None:
        await super().disconnect(inuse_connections)
        if inuse_connections:
            for node in self.sentinel_manager.sentinels:
                await node.connection_pool.disconnect()


def _sentinel_options(spec: SentinelSpec, retry: Any) -> dict[str, Any]:
    # Sentinels are asked in turn: a dead one is skipped at once, not retried.
    return {**spec.sentinel_kwargs, "retry": retry, "decode_responses": True}


def sync_pool(spec: SentinelSpec, ssl: bool, kwargs: dict[str, Any]) -> redis.ConnectionPool:
    manager = cast(Any, ssentinel.Sentinel)(
        list(spec.sentinels), min_other_sentinels=spec.min_other_sentinels,
        sentinel_kwargs=_sentinel_options(spec, SyncRetry(NoBackoff(), 0)),
        force_master_ip=spec.force_master_ip)
    cls = SentinelSSLConnection if ssl else SentinelConnection
    pool: redis.ConnectionPool = cast(Any, _SyncPool)(spec.service_name, manager,
                                                      connection_class=cls, **kwargs)
    return pool


def async_pool(spec: SentinelSpec, ssl: bool,
               kwargs: dict[str, Any]) -> aioredis.ConnectionPool:
    manager = cast(Any, asentinel.Sentinel)(
        list(spec.sentinels), min_other_sentinels=spec.min_other_sentinels,
        sentinel_kwargs=_sentinel_options(spec, AsyncRetry(NoBackoff(), 0)),
        force_master_ip=spec.force_master_ip)
    cls = AsyncSentinelSSLConnection if ssl else AsyncSentinelConnection
    pool: aioredis.ConnectionPool = cast(Any, _AsyncPool)(spec.service_name, manager,
                                                          connection_class=cls, **kwargs)
    return pool
