"""Turn ``connection=`` (a URL, a redis-py client or options) into the clients queuecore uses.

queuecore always talks to Redis with ``decode_responses=True`` on clients it builds itself; a
client passed in is not modified: its pool settings are copied into a new pool (for a
Sentinel client, a new Sentinel-backed pool: see ``sentinel``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, TypeAlias
from urllib.parse import urlsplit

import redis
import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster as AsyncRedisCluster
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import NoBackoff
from redis.cluster import RedisCluster
from redis.maint_notifications import MaintNotificationsConfig
from redis.retry import Retry as SyncRetry

from . import handshake, replicas, sentinel, sentinel_pool

ConnectionLike: TypeAlias = (
    "str | redis.Redis | aioredis.Redis | RedisCluster | AsyncRedisCluster | Mapping[str, Any]"
    " | None")

DEFAULT_URL = "redis://127.0.0.1:6379/0"
_ALLOWED_SCHEMES = ("redis", "rediss", "unix", *sentinel.SCHEMES)
_POOL_ONLY = {"connection_class", "max_connections", "cluster_seeds", "sentinel"}


def connection_kwargs(connection: ConnectionLike) -> dict[str, Any]:
    """The redis-py connection options that ``connection`` stands for (URL, client or dict):
    what every client queuecore builds starts from, and what child processes are given."""
    if connection is None:
        connection = DEFAULT_URL
    if isinstance(connection, str):
        scheme = urlsplit(connection).scheme
        if scheme not in _ALLOWED_SCHEMES:
            raise ValueError(
                "connection URL must start with redis://, rediss://, unix://, redis+sentinel:// "
                f"or rediss+sentinel://, got {scheme!r}://"
            )
        if scheme in sentinel.SCHEMES:
            return sentinel.parse_url(connection)
        pool = redis.ConnectionPool.from_url(connection)
        kwargs = dict(pool.connection_kwargs)
        kwargs["connection_class"] = pool.connection_class
        return kwargs
    if isinstance(connection, redis.Redis | aioredis.Redis):
        found = sentinel.from_client(connection)
        if found is not None:
            return found
        given = connection.connection_pool
        kwargs = dict(given.connection_kwargs)
        # The class only tells plain, TLS or unix; each face picks its own twin by name.
        kwargs["connection_class"] = given.connection_class
        return kwargs
    if isinstance(connection, Mapping):
        kwargs = dict(connection)
        if "url" in kwargs:
            url = kwargs.pop("url")
            return {**connection_kwargs(str(url)), **kwargs}
        return kwargs
    raise TypeError(
        "connection must be a redis:// or rediss:// URL, a redis-py client, or a dict of options"
    )


def _clean(kwargs: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in kwargs.items() if k not in _POOL_ONLY}
    out["decode_responses"] = True
    out.setdefault("health_check_interval", 30)
    return out


def _is_ssl(kwargs: Mapping[str, Any]) -> bool:
    cls = kwargs.get("connection_class")
    return bool(kwargs.get("ssl")) or (cls is not None and "SSL" in getattr(cls, "__name__", ""))


def _is_unix(kwargs: Mapping[str, Any]) -> bool:
    cls = kwargs.get("connection_class")
    return "path" in kwargs or (cls is not None and "Unix" in getattr(cls, "__name__", ""))


# Fail fast when Redis is away: connecting may take 1.5 s at most. Commands are never retried
# behind the caller's back (a retried add could add twice); the worker retries what is safe.
CONNECT_TIMEOUT = 1.5


def _prepare(connection: ConnectionLike, extra: Mapping[str, Any],
             defaults: Mapping[str, Any] | None = None
             ) -> tuple[str, dict[str, Any], sentinel.SentinelSpec | None,
                        replicas.WaitPolicy | None]:
    """The kind of connection ("unix", "ssl" or "tcp"), the pool's keyword arguments
    (``defaults`` < what the caller's connection says < ``extra``), through Sentinel where
    the sentinels are, and the WAIT after every call asked for, if any."""
    raw = connection_kwargs(connection)
    policy = replicas.take_policy(raw)
    spec = raw.get("sentinel")
    kwargs = {"socket_connect_timeout": CONNECT_TIMEOUT, "socket_keepalive": True,
              **(defaults or {}), **_clean(raw), **extra}
    kwargs.pop("ssl", None)
    # No maintenance notifications (a Redis Enterprise feature): under redis-py's default
    # ("auto") its pools skip their check of an idle connection before handing it out, so a
    # connection the server closed (a restart, a failover) would be written to and fail with
    # the command's fate unknown, where the check reconnects before anything is sent. (A URL
    # brings redis-py's own default, and a sync handler, in the options of its pool.)
    kwargs.pop("maint_notifications_pool_handler", None)
    kwargs["maint_notifications_config"] = MaintNotificationsConfig(enabled=False)
    kind = "unix" if _is_unix(raw) else "ssl" if _is_ssl(raw) else "tcp"
    if spec is not None and not isinstance(spec, sentinel.SentinelSpec):
        raise TypeError("the 'sentinel' option is set by a redis+sentinel:// URL or a "
                        "master_for() client, not by hand")
    return kind, kwargs, spec, policy


_SYNC_CLASSES: dict[str, type[Any]] = {
    "unix": handshake.UnixDomainSocketConnection, "ssl": handshake.SSLConnection,
    "tcp": handshake.Connection}
_ASYNC_CLASSES: dict[str, type[Any]] = {
    "unix": handshake.AsyncUnixDomainSocketConnection, "ssl": handshake.AsyncSSLConnection,
    "tcp": handshake.AsyncConnection}


def sync_client(connection: ConnectionLike, *, defaults: Mapping[str, Any] | None = None,
                **extra: Any) -> redis.Redis:
    """A new sync client with its own pool."""
    kind, kwargs, spec, policy = _prepare(connection, extra, defaults)
    kwargs.setdefault("retry", SyncRetry(NoBackoff(), 0))
    pool = (sentinel_pool.sync_pool(spec, kind == "ssl", kwargs) if spec is not None
            else redis.ConnectionPool(connection_class=_SYNC_CLASSES[kind], **kwargs))
    client = redis.Redis(connection_pool=pool)
    client.auto_close_connection_pool = True  # the pool is ours: close() closes it
    replicas.attach(client, policy)
    return client


def async_client(connection: ConnectionLike, *, single_connection_client: bool = False,
                 defaults: Mapping[str, Any] | None = None, **extra: Any) -> aioredis.Redis:
    """A new asyncio client with its own pool (``single_connection_client`` for blocking)."""
    kind, kwargs, spec, policy = _prepare(connection, extra, defaults)
    kwargs.setdefault("retry", AsyncRetry(NoBackoff(), 0))
    pool = (sentinel_pool.async_pool(spec, kind == "ssl", kwargs) if spec is not None
            else aioredis.ConnectionPool(connection_class=_ASYNC_CLASSES[kind], **kwargs))
    client = aioredis.Redis(connection_pool=pool,
                            single_connection_client=single_connection_client)
    client.auto_close_connection_pool = True  # the pool is ours: aclose() closes it
    replicas.attach(client, policy)
    return client


def describe(connection: ConnectionLike) -> str:
    """host:port/db of a connection, never its password (for logs and errors)."""
    try:
        kw = connection_kwargs(connection)
    except (TypeError, ValueError):
        return "<invalid connection>"
    if "path" in kw:
        return f"unix:{kw['path']}"
    spec = kw.get("sentinel")
    if isinstance(spec, sentinel.SentinelSpec):
        return spec.describe(int(kw.get("db") or 0))
    return f"{kw.get('host', '127.0.0.1')}:{kw.get('port', 6379)}/{kw.get('db', 0)}"


_PASSWORD_IN_URL = re.compile(r"(rediss?(?:\+sentinel)?://[^:/@\s]*:)[^@\s]*@")
_PASSWORD_IN_QUERY = re.compile(r"([?&](?:sentinel_)?password=)[^&#\s]*")


def redact(text: str) -> str:
    """Text with any password inside a redis:// (or redis+sentinel://) URL replaced by ***."""
    return _PASSWORD_IN_QUERY.sub(r"\1***", _PASSWORD_IN_URL.sub(r"\1***@", text))


async def eviction_policy(client: aioredis.Redis) -> str | None:
    """Redis' maxmemory-policy (CONFIG GET, else INFO memory where ACLs forbid CONFIG);
    None when neither answers."""
    try:
        reply = await client.config_get("maxmemory-policy")
        if reply:
            return str(reply.get("maxmemory-policy"))
    except redis.RedisError:
        pass
    try:
        info = await client.info("memory")
        policy = info.get("maxmemory_policy")
        return str(policy) if policy is not None else None
    except redis.RedisError:
        return None
