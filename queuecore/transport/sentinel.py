"""Redis Sentinel: the master of a monitored service, found through its sentinels.

Asked for with a ``redis+sentinel://`` URL (``rediss+sentinel://`` for TLS), or with a
redis-py ``Sentinel(...).master_for(name)`` client (sync or asyncio) as ``connection=``.
Either way queuecore builds its own Sentinel-backed pools (``sentinel_pool``): each client
asks the sentinels itself, so a worker's blocking and presence connections follow a failover
too. This module reads the URL or the given client into connection options.

URL form (the one of the redis-sentinel-url package)::

    redis+sentinel://[[username]:password@]host[:port][,host[:port]...]/service_name[/db][?options]

The user and password are the master's. Options: see ``QUERY_OPTIONS``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import redis
import redis.asyncio as aioredis
import redis.asyncio.sentinel as asentinel
import redis.sentinel as ssentinel

SCHEMES = ("redis+sentinel", "rediss+sentinel")
DEFAULT_SENTINEL_PORT = 26379
SENTINEL_TIMEOUT = 1.5


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
