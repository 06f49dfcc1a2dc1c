"""``is_moved`` tells a Cluster redirection apart whether redis-py's error comes raw or
wrapped in queuecore's own (the runner wraps, the worker's blocking client does not)."""

from __future__ import annotations

import redis.exceptions as rexc

from queuecore.transport.cluster import is_moved
from queuecore.transport.errors import wrap


def _wrapped(exc: rexc.RedisError) -> BaseException:
    outer = wrap(exc)
    outer.__cause__ = exc
    return outer


def test_moved_and_ask_are_seen_raw_and_wrapped() -> None:
    for exc in (rexc.MovedError("3999 127.0.0.1:6381"), rexc.AskError("3999 127.0.0.1:6381"),
                rexc.ResponseError("MOVED 3999 127.0.0.1:6381")):
        assert is_moved(exc)
        assert is_moved(_wrapped(exc))


def test_other_errors_are_not_moves() -> None:
    for exc in (rexc.ResponseError("NOPERM no permissions"), rexc.ReadOnlyError("READONLY"),
                rexc.ConnectionError("MOVED is only text here")):
        assert not is_moved(exc)
        assert not is_moved(_wrapped(exc))
    assert not is_moved(ValueError("MOVED"))
