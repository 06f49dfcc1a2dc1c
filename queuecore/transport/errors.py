"""redis-py's exceptions turned into queuecore's own at the boundary.

Callers of queuecore catch ``RedisError`` and its subclasses (queuecore/base/errors.py), never
redis-py's; the redis-py exception stays reachable as ``__cause__``. Code inside queuecore
that must tell kinds of Redis trouble apart (retry, reroute, give up) asks the predicates here,
which accept either form.
"""

from __future__ import annotations

import redis.exceptions as rexc

from ..base.errors import (
    RedisConnectionError,
    RedisError,
    RedisResponseError,
    RedisTimeoutError,
)

#: redis-py errors a retry can cure: the server is out of memory, a read-only replica (a
#: failover in progress) or still loading its data.
_TRANSIENT = (rexc.OutOfMemoryError, rexc.ReadOnlyError, rexc.BusyLoadingError)
#: What a dropped or unreachable connection raises (redis-py's, ours, and the OS's).
CONNECTION_ERRORS = (
    rexc.ConnectionError, rexc.TimeoutError, rexc.InvalidResponse, OSError)


def wrap(exc: rexc.RedisError) -> RedisError:
    """queuecore's error for a redis-py error (raise it ``from exc``)."""
    message = str(exc) or type(exc).__name__
    if isinstance(exc, rexc.TimeoutError):
        return RedisTimeoutError(message)
    if isinstance(exc, rexc.ConnectionError | rexc.InvalidResponse):
        return RedisConnectionError(message)
    if isinstance(exc, rexc.ResponseError):
        return RedisResponseError(message)
    return RedisError(message)


def redis_cause(exc: BaseException) -> BaseException:
    """The redis-py error behind a wrapped one; any other exception as it is."""
    if isinstance(exc, RedisError) and isinstance(exc.__cause__, rexc.RedisError):
        return exc.__cause__
    return exc


def is_connection_error(exc: BaseException) -> bool:
    """The connection dropped or could not be made (a reply may have been lost)."""
    return isinstance(redis_cause(exc), CONNECTION_ERRORS) or isinstance(exc, OSError)


#: Set on a redis-py error raised while connecting (the socket or the handshake): the command
#: that needed the connection was never written, so sending it elsewhere cannot run it twice.
_NOT_SENT = "_queuecore_not_sent"


def mark_not_sent(exc: BaseException) -> None:
    setattr(exc, _NOT_SENT, True)


def not_sent(exc: BaseException) -> bool:
    """The connection could not be made: the command was not written (it did not run)."""
    return bool(getattr(redis_cause(exc), _NOT_SENT, False))


def is_transient(exc: BaseException) -> bool:
    """OOM, READONLY or LOADING: the command did not run, and may later."""
    return isinstance(redis_cause(exc), _TRANSIENT)


def is_response_error(exc: BaseException) -> bool:
    """Redis answered with an error (the connection itself is fine)."""
    return isinstance(redis_cause(exc), rexc.ResponseError)


def is_read_only(exc: BaseException) -> bool:
    """READONLY: the connection reaches a replica (a demoted master after a failover)."""
    return isinstance(redis_cause(exc), rexc.ReadOnlyError)


def public_error(exc: BaseException) -> BaseException:
    """``exc`` as a caller of queuecore may see it (a worker's "error" event): a redis-py
    error becomes queuecore's, with the original as ``__cause__``; anything else as it is."""
    if isinstance(exc, rexc.RedisError):
        wrapped = wrap(exc)
        wrapped.__cause__ = exc
        return wrapped
    return exc
