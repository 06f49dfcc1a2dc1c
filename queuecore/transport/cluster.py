"""Redis Cluster: one queue, one slot, one master.

Every key of a queue carries the queue's hash tag (in the prefix, ``{bull}``, or the queue
name), so all of them, and all of a flow's, live in one slot served by one master. queuecore
therefore talks to that master over a plain connection, found with CLUSTER SLOTS from any
node, and looks again when Redis answers MOVED (a command that got MOVED did not run) or when
the master cannot be reached (a failover: ``SlotRoute`` waits, with backoff and for at most
``failover_wait`` seconds, until another node names a reachable master for the slot).

Cluster mode is asked for with a ``redis.cluster.RedisCluster`` (or asyncio) client as
``connection=``, with ``{"url": ..., "cluster": True}``, or with ``?cluster=true`` on the URL.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Mapping
from typing import Any, cast
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import redis
import redis.asyncio.cluster as acluster
import redis.cluster as scluster
from redis.backoff import NoBackoff
from redis.crc import key_slot
from redis.retry import Retry

from ..base.errors import InvalidOptionsError, RedisConnectionError
from .errors import redis_cause

_TRUE = {"1", "true", "yes", "on"}
_HASH_TAG = re.compile(r"\{[^{}]+\}")
Address = tuple[str, int]

#: Seconds a call waits for the cluster to name a reachable master for its slot after the
#: master could not be reached: Redis' default cluster-node-timeout (15 s) plus the replica's
#: election. ``failover_wait`` in the connection options or URL changes it.
FAILOVER_WAIT = 20.0
#: Our own keys among the connection options (never passed to redis-py).
_OWN_OPTIONS = ("cluster", "url", "cluster_seeds", "failover_wait")


def _strip_cluster_query(url: str) -> tuple[str, bool, float | None]:
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    flag = any(k == "cluster" and v.lower() in _TRUE for k, v in query)
    waits = [v for k, v in query if k == "failover_wait"]
    rest = [(k, v) for k, v in query if k not in ("cluster", "failover_wait")]
    return (urlunsplit(parts._replace(query=urlencode(rest))), flag,
            _wait_of(waits[-1]) if waits else None)


def _wait_of(value: Any) -> float:
    try:
        wait = float(value)
    except (TypeError, ValueError):
        wait = -1.0
    if not wait >= 0:
        raise InvalidOptionsError(f"failover_wait must be a number of seconds >= 0, "
                                  f"got {value!r}")
    return wait


def seeds_of(connection: Any) -> tuple[list[Address], dict[str, Any]] | None:
    """(seed nodes, connection options) when ``connection`` asks for Cluster, else None.
    The options may hold ``failover_wait`` (not a redis-py option: ``SlotRoute`` takes it)."""
    if isinstance(connection, scluster.RedisCluster | acluster.RedisCluster):
        nodes = [(n.host, int(n.port)) for n in connection.get_nodes()]
        kwargs = dict(connection.nodes_manager.connection_kwargs)
        # Only plain connection options: not the cluster client's own hooks and handlers.
        return nodes, {k: v for k, v in kwargs.items()
                       if k in _PROBE_OPTIONS or k.startswith("socket_")}
    url: str | None = None
    options: dict[str, Any] = {}
    wait: float | None = None
    seeds: list[Address] = []
    if isinstance(connection, str):
        url, flag, wait = _strip_cluster_query(connection)
        if not flag:
            return None
    elif isinstance(connection, Mapping) and connection.get("cluster"):
        options = {k: v for k, v in connection.items() if k not in _OWN_OPTIONS}
        # The nodes a route learned (``SlotRoute.spec``), or given by hand.
        seeds = [(str(h), int(p)) for h, p in connection.get("cluster_seeds") or ()]
        if connection.get("url"):
            url, _, wait = _strip_cluster_query(str(connection["url"]))
        if connection.get("failover_wait") is not None:
            wait = _wait_of(connection["failover_wait"])
    else:
        return None
    if url is not None:
        pool = redis.ConnectionPool.from_url(url)
        options = {**pool.connection_kwargs, **options}
        if pool.connection_class is redis.SSLConnection:
            options["ssl"] = True
    if url is not None or "host" in options or "port" in options or not seeds:
        seeds.insert(0, (str(options.get("host", "127.0.0.1")), int(options.get("port", 6379))))
    for key in ("host", "port", "db"):  # Cluster has database 0 only
        options.pop(key, None)
    if wait is not None:
        options["failover_wait"] = wait
    return list(dict.fromkeys(seeds)), options


_PROBE_OPTIONS = ("username", "password", "ssl", "ssl_ca_certs", "ssl_certfile", "ssl_keyfile",
                  "ssl_cert_reqs", "ssl_check_hostname")


def _probe(host: str, port: int, options: Mapping[str, Any]) -> redis.Redis:
    """A short-lived client to one node, to ask it about the cluster's slots."""
    # Asked once: redis-py's default retries (with backoff) would hold a failover's search
    # for seconds on the node that died.
    return redis.Redis(host=host, port=port, decode_responses=True, socket_connect_timeout=1.5,
                       socket_timeout=1.5, retry=Retry(NoBackoff(), 0),
                       **{k: v for k, v in options.items() if k in _PROBE_OPTIONS})


def require_hash_tag(base: str) -> None:
    if not _HASH_TAG.search(base):
        raise InvalidOptionsError(
            f"Redis Cluster needs a hash tag in the prefix or queue name (e.g. prefix "
            f"'{{bull}}'), so that all keys of {base!r} live in one slot")


def _slots_of(host: str, port: int, options: Mapping[str, Any]) -> list[Any]:
    client = _probe(host, port, options)
    try:
        return list(cast(Any, client).execute_command("CLUSTER", "SLOTS"))
    finally:
        client.close()


def _node(entry: Any, asked: str) -> Address:
    return str(entry[0]) or asked, int(entry[1])  # "" names the node that was asked


class SlotRoute:
    """Where a queue's slot is served: its master, found with CLUSTER SLOTS; every node
    the answers named (masters and replicas), so that the slot is found again when the seed
    itself died; and how long to wait for a failover. One route serves all connections of a
    queue (a worker's command, blocking, presence and renewal connections): when one of them
    finds the new master, the others move there before their next command."""

    def __init__(self, seeds: list[Address], options: Mapping[str, Any], key: str) -> None:
        opts = dict(options)
        wait = opts.pop("failover_wait", None)
        self.wait = FAILOVER_WAIT if wait is None else float(wait)
        self.options = opts
        self.slot = key_slot(key.encode("utf-8"))
        self._nodes: list[Address] = list(dict.fromkeys(seeds))
        owner, problems = self._round(None)
        if owner is None:
            raise RedisConnectionError(f"no cluster node answered for slot {self.slot}: "
                                       f"{'; '.join(problems)}")
        self.owner: Address = owner

    def connection(self, owner: Address | None = None) -> dict[str, Any]:
        """Options of a connection to the slot's master (or to ``owner``)."""
        host, port = owner or self.owner
        return {**self.options, "host": host, "port": port, "cluster_seeds": list(self._nodes)}

    def spec(self) -> dict[str, Any]:
        """A ``connection=`` for another client of the same cluster, seeded with every node
        this route knows (the seed it was given may be the node that died)."""
        return {**self.options, "cluster": True, "cluster_seeds": list(self._nodes),
                "failover_wait": self.wait}

    def locate(self, failed: Address | None = None) -> Address:
        """The slot's master, asked again. ``failed``: the master a connection could not
        reach; then wait (backoff, at most ``wait`` s) until a node names another master
        that answers, or the failed one answers again. Raises redis-py's ConnectionError
        when the wait is over."""
        if failed is not None and self.owner != failed:
            return self.owner  # another connection of this route found it already
        deadline = time.monotonic() + (self.wait if failed is not None else 0.0)
        delay = 0.05
        while True:
            owner, problems = self._round(failed)
            if owner is not None:
                self.owner = owner
                return owner
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise self._gone(failed, problems)
            time.sleep(min(delay, remaining))  # the last round at the deadline
            delay = min(delay * 2, 1.0)

    async def alocate(self, failed: Address | None = None) -> Address:
        """``locate`` for asyncio: each round of questions runs in a thread, the waits on
        the loop (so that closing cancels them)."""
        if failed is not None and self.owner != failed:
            return self.owner
        deadline = time.monotonic() + (self.wait if failed is not None else 0.0)
        delay = 0.05
        while True:
            owner, problems = await asyncio.to_thread(self._round, failed)
            if owner is not None:
                self.owner = owner
                return owner
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise self._gone(failed, problems)
            await asyncio.sleep(min(delay, remaining))  # the last round at the deadline
            delay = min(delay * 2, 1.0)

    def _gone(self, failed: Address | None, problems: list[str]) -> redis.ConnectionError:
        where = f" ({failed[0]}:{failed[1]})" if failed is not None else ""
        return redis.ConnectionError(
            f"the master of cluster slot {self.slot}{where} is unreachable and no other node "
            f"took the slot over within {self.wait:g} s: {'; '.join(problems)}")

    def _round(self, failed: Address | None) -> tuple[Address | None, list[str]]:
        """Ask the known nodes in turn (the failed master last). Without ``failed``: the
        first owner named. With it: a different owner that confirms it serves the slot, or
        the failed master itself when it answers and still serves it."""
        nodes = self._nodes
        if failed is not None:
            nodes = [n for n in nodes if n != failed] + [failed]
        problems: list[str] = []
        failed_down = False  # asked once per round: every node may still name it
        for host, port in nodes:
            if (host, port) == failed and failed_down:
                continue
            try:
                slots = _slots_of(host, port, self.options)
            except redis.RedisError as exc:
                problems.append(f"{host}:{port}: {type(exc).__name__}")
                continue
            self._learn(host, slots)
            owner = next((_node(master, host) for start, end, master, *_ in slots
                          if int(start) <= self.slot <= int(end)), None)
            if owner is None:
                problems.append(f"{host}:{port} names no master for slot {self.slot}")
            elif failed is None or owner == (host, port):
                return owner, problems  # a node that says it serves the slot itself
            elif owner != failed or not failed_down:
                # A newly promoted master, or the failed one back (a dropped connection):
                # either answers and says so itself.
                if self._claims(owner):
                    return owner, problems
                failed_down = failed_down or owner == failed
                problems.append(f"{host}:{port} names {owner[0]}:{owner[1]}, which does "
                                "not answer for the slot")
        return None, problems

    def _claims(self, node: Address) -> bool:
        """Whether ``node`` answers and says it serves the slot (a newly promoted master)."""
        try:
            slots = _slots_of(node[0], node[1], self.options)
        except redis.RedisError:
            return False
        return any(int(start) <= self.slot <= int(end) and _node(master, node[0]) == node
                   for start, end, master, *_ in slots)

    def _learn(self, asked: str, slots: list[Any]) -> None:
        found = [_node(entry, asked) for _s, _e, *entries in slots for entry in entries]
        known = list(dict.fromkeys([*self._nodes, *found]))
        if len(known) != len(self._nodes):
            self._nodes = known  # a new list: a reader on another thread sees one or the other


def route_for(connection: Any, base: str) -> SlotRoute | None:
    """The route to the slot of the queue whose keys start with ``base``, or None outside
    Cluster."""
    found = seeds_of(connection)
    if found is None:
        return None
    seeds, options = found
    require_hash_tag(base)
    return SlotRoute(seeds, options, base)


def resolve(connection: Any, base: str) -> Any:
    """The connection to use for the queue whose keys start with ``base``: unchanged outside
    Cluster, else options for the master of the queue's slot."""
    route = route_for(connection, base)
    return connection if route is None else route.connection()


def masters(connection: Any) -> list[Any] | None:
    """Connections to every master of the cluster (for SCAN), or None outside Cluster."""
    found = seeds_of(connection)
    if found is None:
        return None
    seeds, options = found
    options.pop("failover_wait", None)
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
