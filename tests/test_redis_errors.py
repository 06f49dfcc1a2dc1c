"""redis-py's exceptions never cross queuecore's API: every face raises queuecore's own
``RedisError`` family, with the redis-py error kept as ``__cause__``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import redis
import redis.exceptions as rexc

from queuecore import (
    AsyncQueue,
    FlowProducer,
    Queue,
    QueueCoreError,
    QueueEvents,
    RedisConnectionError,
    RedisError,
    RedisResponseError,
    RedisTimeoutError,
    check_health,
)
from queuecore.transport.errors import (
    is_connection_error,
    is_read_only,
    is_response_error,
    is_transient,
    redis_cause,
    wrap,
)

# Port 1 on loopback: nothing listens there, and it is outside the ephemeral range, so a
# client cannot end up connected to its own socket (see tests/reliability/test_not_redis.py).
DEAD = "redis://127.0.0.1:1/0"


def _check_connection_error(exc: BaseException) -> None:
    assert isinstance(exc, RedisConnectionError)
    assert isinstance(exc, QueueCoreError) and isinstance(exc, OSError)
    assert not isinstance(exc, rexc.RedisError)
    assert isinstance(exc.__cause__, rexc.ConnectionError)


SYNC_CALLS: dict[str, Callable[[Queue], Any]] = {
    "add": lambda q: q.add("j", {"n": 1}),
    "add_bulk": lambda q: q.add_bulk([{"name": "j", "data": {}}]),
    "get_job": lambda q: q.get_job("1"),
    "get_job_counts": lambda q: q.get_job_counts(),
    "pause": lambda q: q.pause(),
    "get_workers": lambda q: q.get_workers(),
    "get_metrics": lambda q: q.get_metrics(),
}


@pytest.mark.parametrize("call", list(SYNC_CALLS))
def test_sync_queue_raises_queuecore_connection_errors(call: str) -> None:
    queue = Queue("errs", DEAD)
    try:
        with pytest.raises(RedisConnectionError) as caught:
            SYNC_CALLS[call](queue)
        _check_connection_error(caught.value)
    finally:
        queue.close()


ASYNC_CALLS: dict[str, Callable[[AsyncQueue], Awaitable[Any]]] = {
    "add": lambda q: q.add("j", {"n": 1}),
    "get_job": lambda q: q.get_job("1"),
    "get_job_counts": lambda q: q.get_job_counts(),
    "resume": lambda q: q.resume(),
}


@pytest.mark.parametrize("call", list(ASYNC_CALLS))
async def test_async_queue_raises_queuecore_connection_errors(call: str) -> None:
    queue = AsyncQueue("errs", DEAD)
    try:
        with pytest.raises(RedisConnectionError) as caught:
            await ASYNC_CALLS[call](queue)
        _check_connection_error(caught.value)
    finally:
        await queue.close()


def test_flow_producer_and_events_raise_queuecore_errors() -> None:
    flows = FlowProducer(DEAD)
    try:
        with pytest.raises(RedisConnectionError) as caught:
            flows.add({"name": "parent", "queue_name": "errs",
                       "children": [{"name": "child", "queue_name": "errs"}]})
        _check_connection_error(caught.value)
    finally:
        flows.close()
    events = QueueEvents("errs", DEAD, last_event_id="0", block_ms=10)
    try:
        with pytest.raises(RedisConnectionError) as caught:
            events.read()
        _check_connection_error(caught.value)
    finally:
        events.close()


async def test_async_events_raise_queuecore_errors() -> None:
    events = QueueEvents("errs", DEAD, last_event_id="0", block_ms=10)
    try:
        with pytest.raises(RedisConnectionError) as caught:
            await events.aread()
        _check_connection_error(caught.value)
    finally:
        await events.aclose()


def test_health_reports_rather_than_raises() -> None:
    report = check_health(Queue("errs", DEAD), timeout=0.5)
    assert not report.ok
    assert report.error is not None and "ConnectionError" in report.error


def test_a_refusal_by_redis_is_a_response_error(redis_url: str, r: redis.Redis) -> None:
    r.set("bull:wrongtype:wait", "not a list")
    queue = Queue("wrongtype", redis_url)
    try:
        with pytest.raises(RedisResponseError, match="WRONGTYPE") as caught:
            queue.get_job_counts("waiting")
        assert isinstance(caught.value, RedisError) and not isinstance(caught.value, OSError)
        assert isinstance(caught.value.__cause__, rexc.ResponseError)
    finally:
        queue.close()


LINK_ERRORS = (rexc.ConnectionError, rexc.TimeoutError, rexc.InvalidResponse)


@pytest.mark.parametrize(("raw", "kind"), [
    (rexc.ConnectionError("gone"), RedisConnectionError),
    (rexc.TimeoutError("slow"), RedisTimeoutError),
    (rexc.InvalidResponse("garbage"), RedisConnectionError),
    (rexc.ReadOnlyError("READONLY"), RedisResponseError),
    (rexc.OutOfMemoryError("OOM"), RedisResponseError),
    (rexc.NoPermissionError("NOPERM"), RedisResponseError),
    (rexc.DataError("bad"), RedisError),
])
def test_wrap_maps_every_kind(raw: rexc.RedisError, kind: type[RedisError]) -> None:
    with pytest.raises(RedisError) as caught:
        raise wrap(raw) from raw
    exc = caught.value
    assert type(exc) is kind
    assert str(exc) == str(raw)
    assert redis_cause(exc) is raw
    assert is_connection_error(exc) == isinstance(raw, LINK_ERRORS)
    assert is_response_error(exc) == isinstance(raw, rexc.ResponseError)
    assert is_transient(exc) == isinstance(raw, rexc.ReadOnlyError | rexc.OutOfMemoryError)
    assert is_read_only(exc) == isinstance(raw, rexc.ReadOnlyError)
    # The predicates read raw redis-py errors too (the worker's blocking connection).
    assert is_connection_error(raw) == isinstance(raw, LINK_ERRORS)
    assert redis_cause(ValueError("x")).__class__ is ValueError
