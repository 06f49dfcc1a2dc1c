"""Connection classes whose handshake fails with a clear ConnectionError when the peer is not
Redis, instead of whatever redis-py trips over (an AttributeError on a HELLO reply that is
not a map, a ValueError later on a garbled reply).

Two peers do that. A different service on the port. And the socket itself: a client that
keeps retrying a loopback port in the ephemeral range where nothing listens can be handed
that very port as its own, connect to itself (TCP simultaneous open), and read its own
commands back as replies. That one is refused before the first byte is sent.
"""

from __future__ import annotations

import socket
from typing import Any

import redis
import redis.asyncio as aioredis

from .errors import mark_not_sent

# What a handshake may raise as it is: Redis's own answers and network trouble.
_HANDSHAKE_ERRORS = (redis.ConnectionError, redis.TimeoutError, redis.ResponseError, OSError)


def _where(conn: Any) -> str:
    path = getattr(conn, "path", None)
    return f"unix:{path}" if path else f"{getattr(conn, 'host', '?')}:{getattr(conn, 'port', '?')}"


def _refuse_self(conn: Any, sock: Any) -> None:
    if sock is None or sock.family not in (socket.AF_INET, socket.AF_INET6):
        return
    try:
        mine, theirs = sock.getsockname(), sock.getpeername()
    except OSError:
        return
    if mine == theirs:
        raise redis.ConnectionError(
            f"connecting to {_where(conn)} reached this client's own socket: nothing "
            "listens on that port")


def _not_redis(conn: Any, exc: Exception) -> redis.ConnectionError:
    return redis.ConnectionError(
        f"the server at {_where(conn)} did not answer the handshake like Redis "
        f"({type(exc).__name__}: {exc})")


class _SyncGuard:
    def connect_check_health(self, check_health: bool = True,
                             retry_socket_connect: bool = True) -> None:
        try:
            super().connect_check_health(  # type: ignore[misc]
                check_health=check_health, retry_socket_connect=retry_socket_connect)
        except redis.RedisError as exc:
            mark_not_sent(exc)  # no command was written on this connection yet
            raise

    def on_connect_check_health(self, check_health: bool = True) -> None:
        _refuse_self(self, getattr(self, "_sock", None))
        try:
            super().on_connect_check_health(check_health=check_health)  # type: ignore[misc]
        except _HANDSHAKE_ERRORS:
            raise
        except Exception as exc:
            raise _not_redis(self, exc) from exc
        # redis-py's sync client takes any reply to HELLO 3; Redis answers it with a map.
        hello = getattr(self, "handshake_metadata", None)
        if hello is not None and not isinstance(hello, dict):
            raise _not_redis(self, TypeError(f"HELLO answered with {type(hello).__name__}"))


class _AsyncGuard:
    async def connect_check_health(self, check_health: bool = True,
                                   retry_socket_connect: bool = True) -> None:
        try:
            await super().connect_check_health(  # type: ignore[misc]
                check_health=check_health, retry_socket_connect=retry_socket_connect)
        except redis.RedisError as exc:
            mark_not_sent(exc)
            raise

    async def on_connect_check_health(self, check_health: bool = True) -> None:
        writer = getattr(self, "_writer", None)
        _refuse_self(self, writer.get_extra_info("socket") if writer is not None else None)
        try:
            await super().on_connect_check_health(check_health=check_health)  # type: ignore[misc]
        except _HANDSHAKE_ERRORS:
            raise
        except Exception as exc:
            raise _not_redis(self, exc) from exc


class Connection(_SyncGuard, redis.Connection):
    pass


class SSLConnection(_SyncGuard, redis.SSLConnection):
    pass


class UnixDomainSocketConnection(_SyncGuard, redis.UnixDomainSocketConnection):
    pass


class AsyncConnection(_AsyncGuard, aioredis.Connection):
    pass


class AsyncSSLConnection(_AsyncGuard, aioredis.SSLConnection):
    pass


class AsyncUnixDomainSocketConnection(_AsyncGuard, aioredis.UnixDomainSocketConnection):
    pass
