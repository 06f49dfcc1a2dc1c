"""Counting the round trips redis-py connections make: every write of a request (a command
alone, a pipeline however many commands it packs, a lone script call on queuecore's held
connection) is one. Tests compare counts, never times."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import redis.connection


@dataclass
class RoundTrips:
    count: int = 0


@contextmanager
def counted() -> Iterator[RoundTrips]:
    """Count every connection's writes (this process, sync connections) while the block
    runs. Open the connections first: a connection's handshake is counted too."""
    cls = redis.connection.AbstractConnection
    send = cls.send_packed_command
    seen = RoundTrips()

    def counted_send(conn: Any, *args: Any, **kwargs: Any) -> Any:
        seen.count += 1
        return send(conn, *args, **kwargs)

    cls.send_packed_command = counted_send  # type: ignore[method-assign]
    try:
        yield seen
    finally:
        cls.send_packed_command = send  # type: ignore[method-assign]
