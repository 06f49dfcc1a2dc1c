# Generated from queuecore/observe/adiscovery.py by scripts/unasync.py: do not edit.
# Change the asyncio source and run `python scripts/unasync.py`.
"""Finding the queues under a prefix with a bounded SCAN (never KEYS), from blocking code."""

from __future__ import annotations

from typing import Any

import redis

from ..transport import cluster
from ..transport.connection import ConnectionLike, sync_client
from ..transport.errors import wrap
from .discovery_base import collect, cut_short, pattern


def list_queues(connection: ConnectionLike | Any, prefix: str = "bull",
                limit: int = 1000, max_calls: int = 1000, count: int = 5000) -> list[str]:
    """Names of up to ``limit`` queues under ``prefix``, sorted; at most ``max_calls`` SCAN
    calls of ``count`` keys each (one walk of the keyspace), so the cost is bounded on any
    keyspace. A walk cut short by ``max_calls`` logs a warning: queues may be missing."""
    nodes = cluster.masters(connection)
    if nodes is not None:  # Cluster: every master holds some queues
        found = {name for node in nodes
                 for name in list_queues(node, prefix, limit, max_calls, count)}
        return sorted(found)[:limit]
    match = pattern(prefix)
    client = sync_client(connection)
    names: set[str] = set()
    try:
        cursor = 0
        for _ in range(max_calls):
            cursor, keys = client.scan(cursor=cursor, match=match, count=count)
            collect(keys, prefix, names)
            if cursor == 0 or len(names) >= limit:
                break
        else:
            cut_short(prefix, max_calls, count)
    except redis.RedisError as exc:  # SCAN goes straight to redis-py: its errors become ours
        raise wrap(exc) from exc
    finally:
        client.close()
    return sorted(names)[:limit]
