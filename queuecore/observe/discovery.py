"""Finding the queues under a prefix with a bounded SCAN (never KEYS)."""

from __future__ import annotations

import logging
from typing import Any

import redis.exceptions as rexc

from ..base.keys import validate_prefix, validate_queue_name
from ..transport import cluster
from ..transport.connection import ConnectionLike, async_client, sync_client
from ..transport.errors import wrap

# Suffixes every BullMQ-format queue has once used: Node and queuecore write `meta` on first
# add, and every add INCRs `id`.
_MARKERS = (":meta", ":id")
log = logging.getLogger("queuecore.discovery")


def _pattern(prefix: str) -> str:
    """One pattern for both markers, so the keyspace is walked once: it lets through any key
    with ``:me`` or ``:id`` after the queue name, and ``_name_of`` keeps the exact ones."""
    validate_prefix(prefix)  # refuses glob characters, so the pattern is exactly the prefix
    return f"{prefix}:*:[mi][ed]*"


def _name_of(key: str | bytes, prefix: str) -> str | None:
    text = key.decode("utf-8", "replace") if isinstance(key, bytes) else str(key)
    for marker in _MARKERS:
        if text.endswith(marker):
            try:
                return validate_queue_name(text[len(prefix) + 1:-len(marker)])
            except ValueError:
                return None  # a key that is not a queue's (or a name queuecore cannot open)
    return None


def _collect(keys: Any, prefix: str, names: set[str]) -> None:
    for key in keys:
        name = _name_of(key, prefix)
        if name:
            names.add(name)


def _cut_short(prefix: str, calls: int, count: int) -> None:
    log.warning("list_queues(%r): stopped after %d SCAN calls of %d keys before the end of"
                " the keyspace, so some queues may be missing; raise max_calls or name the"
                " queues", prefix, calls, count)


def list_queues(connection: ConnectionLike | Any, prefix: str = "bull", limit: int = 1000,
                max_calls: int = 1000, count: int = 5000) -> list[str]:
    """Names of up to ``limit`` queues under ``prefix``, sorted; at most ``max_calls`` SCAN
    calls of ``count`` keys each (one walk of the keyspace), so the cost is bounded on any
    keyspace. A walk cut short by ``max_calls`` logs a warning: queues may be missing."""
    nodes = cluster.masters(connection)
    if nodes is not None:  # Cluster: every master holds some queues
        found = {name for node in nodes
                 for name in list_queues(node, prefix, limit, max_calls, count)}
        return sorted(found)[:limit]
    client = sync_client(connection)
    names: set[str] = set()
    try:
        pattern, cursor = _pattern(prefix), 0
        for _ in range(max_calls):
            cursor, keys = client.scan(cursor=cursor, match=pattern, count=count)
            _collect(keys, prefix, names)
            if cursor == 0 or len(names) >= limit:
                break
        else:
            _cut_short(prefix, max_calls, count)
    except rexc.RedisError as exc:  # SCAN goes straight to redis-py, not through the runner
        raise wrap(exc) from exc
    finally:
        client.close()
    return sorted(names)[:limit]


async def alist_queues(connection: ConnectionLike | Any, prefix: str = "bull",
                       limit: int = 1000, max_calls: int = 1000, count: int = 5000) -> list[str]:
    """``list_queues`` for asyncio code."""
    nodes = cluster.masters(connection)
    if nodes is not None:
        found = {name for node in nodes
                 for name in await alist_queues(node, prefix, limit, max_calls, count)}
        return sorted(found)[:limit]
    client = async_client(connection)
    names: set[str] = set()
    try:
        pattern, cursor = _pattern(prefix), 0
        for _ in range(max_calls):
            cursor, keys = await client.scan(cursor=cursor, match=pattern, count=count)
            _collect(keys, prefix, names)
            if cursor == 0 or len(names) >= limit:
                break
        else:
            _cut_short(prefix, max_calls, count)
    except rexc.RedisError as exc:
        raise wrap(exc) from exc
    finally:
        await client.aclose()
    return sorted(names)[:limit]
