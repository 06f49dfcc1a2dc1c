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
    connects: int = 0  # connections opened (each costs a handshake's round trips too)


@contextmanager
def counted() -> Iterator[RoundTrips]:
    """Count every connection's writes (this process, sync connections) while the block
    runs. Open the connections first: a connection's handshake is counted too."""
    cls = redis.connection.AbstractConnection
    send, on_connect = cls.send_packed_command, cls.on_connect_check_health
    seen = RoundTrips()

    def counted_send(conn: Any, *args: Any, **kwargs: Any) -> Any:
        seen.count += 1
        return send(conn, *args, **kwargs)

    def counted_connect(conn: Any, *args: Any, **kwargs: Any) -> Any:
        seen.connects += 1
        return on_connect(conn, *args, **kwargs)

    cls.send_packed_command = counted_send  # type: ignore[method-assign]
    cls.on_connect_check_health = counted_connect  # type: ignore[method-assign]
    try:
        yield seen
    finally:
        cls.send_packed_command = send  # type: ignore[method-assign]
        cls.on_connect_check_health = on_connect  # type: ignore[method-assign]
