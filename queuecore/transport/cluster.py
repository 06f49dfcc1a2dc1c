"""Redis Cluster: one queue, one slot, one master.

Every key of a queue carries the queue's hash tag (in the prefix, ``{bull}``, or the queue
name), so all of them, and all of a flow's, live in one slot served by one master. queuecore
therefore talks to that master over a plain connection, found with CLUSTER SLOTS from any
node, and looks again when Redis answers MOVED (a command that got MOVED did not run).

Cluster mode is asked for with a ``redis.cluster.RedisCluster`` (or asyncio) client as
``connection=``, with ``{"url": ..., "cluster": True}``, or with ``?cluster=true`` on the URL.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, cast
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import redis
import redis.asyncio.cluster as acluster
import redis.cluster as scluster
from redis.crc import key_slot

from ..base.errors import InvalidOptionsError, RedisConnectionError
from .errors import redis_cause

_TRUE = {"1", "true", "yes", "on"}
_HASH_TAG = re.compile(r"\{[^{}]+\}")


def _strip_cluster_query(url: str) -> tuple[str, bool]:
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    flag = any(k == "cluster" and v.lower() in _TRUE for k, v in query)
    rest = [(k, v) for k, v in query if k != "cluster"]
    return urlunsplit(parts._replace(query=urlencode(rest))), flag


def seeds_of(connection: Any) -> tuple[list[tuple[str, int]], dict[str, Any]] | None:
    """(seed nodes, connection options) when ``connection`` asks for Cluster, else None."""
    if isinstance(connection, scluster.RedisCluster | acluster.RedisCluster):
        nodes = [(n.host, int(n.port)) for n in connection.get_nodes()]
        kwargs = dict(connection.nodes_manager.connection_kwargs)
        # Only plain connection options: not the cluster client's own hooks and handlers.
        return nodes, {k: v for k, v in kwargs.items()
                       if k in _PROBE_OPTIONS or k.startswith("socket_")}
    url: str | None = None
    options: dict[str, Any] = {}
    if isinstance(connection, str):
        url, flag = _strip_cluster_query(connection)
        if not flag:
            return None
    elif isinstance(connection, Mapping) and connection.get("cluster"):
        options = {k: v for k, v in connection.items() if k not in ("cluster", "url")}
        if connection.get("url"):
            url, _ = _strip_cluster_query(str(connection["url"]))
    else:
        return None
    if url is not None:
        pool = redis.ConnectionPool.from_url(url)
        options = {**pool.connection_kwargs, **options}
        if pool.connection_class is redis.SSLConnection:
            options["ssl"] = True
    host = str(options.pop("host", "127.0.0.1"))
    port = int(options.pop("port", 6379))
    options.pop("db", None)  # Cluster has database 0 only
    return [(host, port)], options


_PROBE_OPTIONS = ("username", "password", "ssl", "ssl_ca_certs", "ssl_certfile", "ssl_keyfile",
                  "ssl_cert_reqs", "ssl_check_hostname")


def _probe(host: str, port: int, options: Mapping[str, Any]) -> redis.Redis:
    """A short-lived client to one node, to ask it about the cluster's slots."""
    return redis.Redis(host=host, port=port, decode_responses=True, socket_connect_timeout=1.5,
                       socket_timeout=1.5,
                       **{k: v for k, v in options.items() if k in _PROBE_OPTIONS})


def require_hash_tag(base: str) -> None:
    if not _HASH_TAG.search(base):
        raise InvalidOptionsError(
            f"Redis Cluster needs a hash tag in the prefix or queue name (e.g. prefix "
            f"'{{bull}}'), so that all keys of {base!r} live in one slot")


def slot_owner(seeds: list[tuple[str, int]], options: Mapping[str, Any],
               key: str) -> tuple[str, int]:
    """Host and port of the master that serves ``key``'s slot, asked from the seeds in turn."""
    slot = key_slot(key.encode("utf-8"))
    problems = []
    for host, port in seeds:
        client = _probe(host, port, options)
        try:
            slots = cast(Any, client).execute_command("CLUSTER", "SLOTS")
            for start, end, master, *_replicas in slots:
                if int(start) <= slot <= int(end):
                    owner_host = str(master[0]) or host
                    return owner_host, int(master[1])
            problems.append(f"{host}:{port} serves no node for slot {slot}")
        except redis.RedisError as exc:
            problems.append(f"{host}:{port}: {type(exc).__name__}")
        finally:
            client.close()
    raise RedisConnectionError("no cluster node answered for slot "
                               f"{slot}: {'; '.join(problems)}")


def resolve(connection: Any, base: str) -> Any:
    """The connection to use for the queue whose keys start with ``base``: unchanged outside
    Cluster, else options for the master of the queue's slot."""
    found = seeds_of(connection)
    if found is None:
        return connection
    seeds, options = found
    require_hash_tag(base)
    host, port = slot_owner(seeds, options, base)
    return {**options, "host": host, "port": port, "cluster_seeds": seeds}


def masters(connection: Any) -> list[Any] | None:
    """Connections to every master of the cluster (for SCAN), or None outside Cluster."""
    found = seeds_of(connection)
    if found is None:
        return None
    seeds, options = found
    out: list[Any] = []
    seen: set[tuple[str, int]] = set()
    for host, port in seeds:
        client = _probe(host, port, options)
        try:
            for _start, _end, master, *_ in cast(Any, client).execute_command("CLUSTER",
                                                                               "SLOTS"):
                node = (str(master[0]) or host, int(master[1]))
                if node not in seen:
                    seen.add(node)
                    out.append({**options, "host": node[0], "port": node[1]})
            break
        except redis.RedisError:
            continue
        finally:
            client.close()
    return out


def is_moved(exc: BaseException) -> bool:
    """MOVED or ASK: the slot is served elsewhere (the command did not run). Sees through
    queuecore's wrapping (the redis-py error is the ``__cause__``)."""
    exc = redis_cause(exc)
    return isinstance(exc, redis.exceptions.MovedError | redis.exceptions.AskError) or (
        isinstance(exc, redis.ResponseError) and str(exc).startswith(("MOVED", "ASK")))
