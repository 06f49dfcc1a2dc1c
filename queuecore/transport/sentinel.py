"""Redis Sentinel: the master of a monitored service, found through its sentinels.

Asked for with a ``redis+sentinel://`` URL (``rediss+sentinel://`` for TLS), or with a
redis-py ``Sentinel(...).master_for(name)`` client (sync or asyncio) as ``connection=``.
Either way queuecore builds its own Sentinel-backed pools (each client asks the sentinels
itself, so a worker's blocking and presence connections follow a failover too), with
connection classes that:

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

URL form (the one of the redis-sentinel-url package)::

    redis+sentinel://[[username]:password@]host[:port][,host[:port]...]/service_name[/db][?options]

The user and password are the master's. Options: see ``QUERY_OPTIONS``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast
from urllib.parse import parse_qsl, unquote, urlsplit

import redis
import redis.asyncio as aioredis
import redis.asyncio.sentinel as asentinel
import redis.sentinel as ssentinel
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import NoBackoff
from redis.retry import Retry as SyncRetry

from . import handshake

SCHEMES = ("redis+sentinel", "rediss+sentinel")
DEFAULT_SENTINEL_PORT = 26379
# How long a new connection keeps asking the sentinels for a master that really is one (the
# sentinels learn of a failover from each other within about two seconds).
FIND_MASTER_SECONDS = 3.0
SENTINEL_TIMEOUT = 1.5
# How often a connection in use asks the sentinels whether its master is still the master.
# During a failover the old master keeps taking writes until the sentinels demote it (about
# ten seconds after the switch, seen with Redis 7.0); writes sent to it then are lost.
MASTER_CHECK_SECONDS = 1.0


def _flag(value: str) -> bool:
    lowered = value.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"expected true or false, got {value!r}")


def _seconds(value: str) -> float | None:
    return None if value.lower() in ("", "none") else float(value)


_MASTER_QUERY: dict[str, Callable[[str], Any]] = {
    "db": int, "username": str, "password": str, "client_name": str,
    "socket_timeout": _seconds, "socket_connect_timeout": _seconds,
    "health_check_interval": int, "wait_replicas": int, "wait_timeout_ms": int}
_TLS_QUERY: dict[str, Callable[[str], Any]] = {
    "ssl_ca_certs": str, "ssl_certfile": str, "ssl_keyfile": str, "ssl_cert_reqs": str,
    "ssl_check_hostname": _flag}
_SENTINEL_QUERY: dict[str, Callable[[str], Any]] = {
    "sentinel_username": str, "sentinel_password": str, "sentinel_socket_timeout": _seconds,
    "sentinel_socket_connect_timeout": _seconds, "sentinel_ssl": _flag,
    "min_other_sentinels": int}
QUERY_OPTIONS = (*_MASTER_QUERY, *_TLS_QUERY, *_SENTINEL_QUERY)

# Options of a sentinel connection copied from a given Sentinel client (not redis-py's
# internals, nor anything tied to sync or asyncio such as its retry object).
_SENTINEL_OPTIONS = ("username", "password", "socket_timeout", "socket_connect_timeout",
                     "socket_keepalive", "ssl_ca_certs", "ssl_certfile", "ssl_keyfile",
                     "ssl_cert_reqs", "ssl_check_hostname", "ssl_ca_data", "ssl_password")
# Options of a master connection copied from a given master_for() client.
_MASTER_OPTIONS = ("db", "username", "password", "credential_provider", "socket_timeout",
                   "socket_connect_timeout", "socket_keepalive", "socket_keepalive_options",
                   "health_check_interval", "client_name", "ssl_ca_certs", "ssl_certfile",
                   "ssl_keyfile", "ssl_cert_reqs", "ssl_check_hostname", "ssl_ca_data",
                   "ssl_password")


@dataclass(frozen=True)
class SentinelSpec:
    """Where the sentinels are and how to talk to them."""

    sentinels: tuple[tuple[str, int], ...]
    service_name: str
    sentinel_kwargs: Mapping[str, Any] = field(default_factory=dict)
    min_other_sentinels: int = 0
    force_master_ip: str | None = None

    def describe(self, db: int = 0) -> str:
        hosts = ",".join(f"{h}:{p}" for h, p in self.sentinels)
        return f"sentinel {hosts}/{self.service_name}/{db}"


def is_sentinel_url(url: str) -> bool:
    return urlsplit(url).scheme in SCHEMES


def is_sentinel_pool(pool: Any) -> bool:
    return isinstance(pool, ssentinel.SentinelConnectionPool | asentinel.SentinelConnectionPool)


def _hosts(text: str) -> tuple[tuple[str, int], ...]:
    out: list[tuple[str, int]] = []
    for item in text.split(","):
        item = item.strip()
        if not item:
            raise ValueError("a sentinel URL lists an empty sentinel address")
        if item.startswith("["):  # [IPv6]:port
            host, _, rest = item[1:].partition("]")
            port = rest[1:] if rest.startswith(":") else ""
        else:
            host, _, port = item.rpartition(":") if ":" in item else (item, "", "")
        if not host:
            raise ValueError(f"a sentinel address has no host: {item!r}")
        try:
            out.append((host, int(port) if port else DEFAULT_SENTINEL_PORT))
        except ValueError:
            raise ValueError(f"a sentinel address has a bad port: {item!r}") from None
    return tuple(out)


def parse_url(url: str) -> dict[str, Any]:
    """The master's connection options of a ``redis+sentinel://`` URL, with the sentinels
    under ``"sentinel"`` (a ``SentinelSpec``) and ``"ssl"`` for TLS."""
    parts = urlsplit(url)
    tls = parts.scheme == "rediss+sentinel"
    userinfo, _, hosts = parts.netloc.rpartition("@")
    kwargs: dict[str, Any] = {"ssl": tls}
    if userinfo:
        user, has_password, password = userinfo.partition(":")
        if user:
            kwargs["username"] = unquote(user)
        if has_password:
            kwargs["password"] = unquote(password)
    path = [unquote(p) for p in parts.path.split("/") if p]
    if not path or len(path) > 2:
        raise ValueError("a sentinel URL needs the service name as its path: "
                         "redis+sentinel://host:port[,host:port...]/service_name[/db]")
    service = path[0]
    if len(path) == 2:
        try:
            kwargs["db"] = int(path[1])
        except ValueError:
            raise ValueError(f"the database of a sentinel URL must be a number, got "
                             f"{path[1]!r}") from None
    sentinel_kwargs: dict[str, Any] = {
        "socket_connect_timeout": SENTINEL_TIMEOUT, "socket_timeout": SENTINEL_TIMEOUT,
        "ssl": tls}
    min_other = 0
    allowed = {**_MASTER_QUERY, **_SENTINEL_QUERY, **(_TLS_QUERY if tls else {})}
    for key, raw in parse_qsl(parts.query, keep_blank_values=True):
        parse = allowed.get(key)
        if parse is None:
            hint = " (TLS options need rediss+sentinel://)" if key in _TLS_QUERY else ""
            raise ValueError(f"unknown option {key!r} in a sentinel URL{hint}; known: "
                             f"{', '.join(sorted(allowed))}")
        try:
            value = parse(raw)
        except ValueError as exc:
            raise ValueError(f"bad value for {key!r} in a sentinel URL: {exc}") from None
        if key == "min_other_sentinels":
            min_other = int(value)
        elif key.startswith("sentinel_"):
            sentinel_kwargs[key.removeprefix("sentinel_")] = value
        else:
            if key == "db" and "db" in kwargs and kwargs["db"] != value:
                raise ValueError("a sentinel URL gives two different databases")
            kwargs[key] = value
    if sentinel_kwargs["ssl"]:
        # The sentinels of a TLS deployment speak TLS with the same certificates.
        sentinel_kwargs.update({k: v for k, v in kwargs.items() if k.startswith("ssl_")})
    kwargs["sentinel"] = SentinelSpec(_hosts(hosts), service, sentinel_kwargs, min_other)
    return kwargs


def from_client(client: redis.Redis | aioredis.Redis) -> dict[str, Any] | None:
    """The options of a ``master_for()`` client (sync or asyncio), as ``parse_url`` gives
    them; None when the client is not Sentinel-backed."""
    pool: Any = client.connection_pool
    if not is_sentinel_pool(pool):
        return None
    if not pool.is_master:
        raise ValueError("a slave_for() client reaches a replica, which refuses queuecore's "
                         "writes: pass sentinel.master_for(service_name)")
    manager = pool.sentinel_manager
    sentinels: list[tuple[str, int]] = []
    sentinel_kwargs: dict[str, Any] = {}
    for node in manager.sentinels:
        options = node.connection_pool.connection_kwargs
        sentinels.append((str(options["host"]), int(options["port"])))
        if not sentinel_kwargs:
            sentinel_kwargs = {k: options[k] for k in _SENTINEL_OPTIONS if k in options}
            sentinel_kwargs["ssl"] = "SSL" in node.connection_pool.connection_class.__name__
    sentinel_kwargs.setdefault("socket_connect_timeout", SENTINEL_TIMEOUT)
    if sentinel_kwargs.get("socket_timeout") is None:
        sentinel_kwargs["socket_timeout"] = SENTINEL_TIMEOUT
    given = pool.connection_kwargs
    kwargs = {k: given[k] for k in _MASTER_OPTIONS if k in given}
    kwargs["ssl"] = "SSL" in pool.connection_class.__name__
    kwargs["sentinel"] = SentinelSpec(
        tuple(sentinels), str(pool.service_name), sentinel_kwargs,
        int(manager.min_other_sentinels), getattr(manager, "_force_master_ip", None))
    return kwargs


# -- connections --

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
