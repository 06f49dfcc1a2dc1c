"""Finding the queues under a prefix with a bounded SCAN (never KEYS)."""

from __future__ import annotations

from typing import Any

from . import cluster
from .connection import ConnectionLike, async_client, sync_client
from .keys import validate_prefix, validate_queue_name

# Suffixes every BullMQ-format queue has once used: Node and queuecore write `meta` on first
# add, and every add INCRs `id`.
_MARKERS = ("meta", "id")


def _patterns(prefix: str) -> list[str]:
    validate_prefix(prefix)  # refuses glob characters, so the pattern is exactly the prefix
    return [f"{prefix}:*:{suffix}" for suffix in _MARKERS]


def _name_of(key: str, prefix: str) -> str | None:
    rest = key[len(prefix) + 1:]
    name = rest.rsplit(":", 1)[0]
    try:
        return validate_queue_name(name)
    except ValueError:
        return None  # a key that is not a queue's (or a name queuecore cannot open)


def _collect(keys: Any, prefix: str, names: set[str]) -> None:
    for key in keys:
        name = _name_of(str(key), prefix)
        if name:
            names.add(name)


def list_queues(connection: ConnectionLike | Any, prefix: str = "bull", limit: int = 1000,
                max_calls: int = 200, count: int = 5000) -> list[str]:
    """Names of up to ``limit`` queues under ``prefix``, sorted; at most ``max_calls`` SCAN
    calls of ``count`` keys each per pattern, so the cost is bounded on any keyspace."""
    nodes = cluster.masters(connection)
    if nodes is not None:  # Cluster: every master holds some queues
        found = {name for node in nodes
                 for name in list_queues(node, prefix, limit, max_calls, count)}
        return sorted(found)[:limit]
    client = sync_client(connection)
    names: set[str] = set()
    try:
        for pattern in _patterns(prefix):
            cursor = 0
            for _ in range(max_calls):
                cursor, keys = client.scan(cursor=cursor, match=pattern, count=count)
                _collect(keys, prefix, names)
                if cursor == 0 or len(names) >= limit:
                    break
    finally:
        client.close()
    return sorted(names)[:limit]


async def alist_queues(connection: ConnectionLike | Any, prefix: str = "bull",
                       limit: int = 1000, max_calls: int = 200, count: int = 5000) -> list[str]:
    """``list_queues`` for asyncio code."""
    nodes = cluster.masters(connection)
    if nodes is not None:
        found = {name for node in nodes
                 for name in await alist_queues(node, prefix, limit, max_calls, count)}
        return sorted(found)[:limit]
    client = async_client(connection)
    names: set[str] = set()
    try:
        for pattern in _patterns(prefix):
            cursor = 0
            for _ in range(max_calls):
                cursor, keys = await client.scan(cursor=cursor, match=pattern, count=count)
                _collect(keys, prefix, names)
                if cursor == 0 or len(names) >= limit:
                    break
    finally:
        await client.aclose()
    return sorted(names)[:limit]
