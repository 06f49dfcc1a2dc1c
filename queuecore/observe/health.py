"""A queue's health at a glance: is Redis there, how full is the queue, who works on it.

The checks are built once as ops (pure) and run by either face: ``check_health(queue)`` for a
``Queue``, ``await acheck_health(queue)`` for an ``AsyncQueue``. Each check uses its own
short-timeout connection, so a Redis that is down answers in about ``timeout`` seconds, never
hangs, and the error text never holds a password.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from redis.backoff import NoBackoff
from redis.exceptions import RedisError as _RedisPyError
from redis.retry import Retry

from ..base.clock import now_ms
from ..base.errors import RedisError, RedisResponseError
from ..base.keys import ALL_STATES, QueueKeys
from ..commands import ops
from ..commands.op import Op, raw
from ..transport.connection import async_client, connection_kwargs, describe, sync_client
from ..transport.errors import is_connection_error, redis_cause
from ..transport.runner import AsyncRunner, SyncRunner

if TYPE_CHECKING:
    from ..client.aqueue import AsyncQueue
    from ..client.queue import Queue

DEFAULT_TIMEOUT = 2.0
_TAIL = 10  # ids read from the old end of a list: enough to step over stray markers


@dataclass(frozen=True, slots=True)
class HealthReport:
    """``ok`` means Redis answered; the rest describes the queue (None when unknown)."""

    queue: str
    prefix: str
    redis: str
    ok: bool
    error: str | None = None
    redis_version: str | None = None
    ping_ms: float | None = None
    paused: bool | None = None
    counts: Mapping[str, int] = field(default_factory=dict)
    workers: int | None = None
    oldest_waiting_age_ms: int | None = None
    oldest_prioritized_age_ms: int | None = None
    checked_at: int = 0

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values."""
        return {
            "queue": self.queue,
            "prefix": self.prefix,
            "redis": self.redis,
            "ok": self.ok,
            "error": self.error,
            "redis_version": self.redis_version,
            "ping_ms": self.ping_ms,
            "paused": self.paused,
            "counts": dict(self.counts),
            "workers": self.workers,
            "oldest_waiting_age_ms": self.oldest_waiting_age_ms,
            "oldest_prioritized_age_ms": self.oldest_prioritized_age_ms,
            "checked_at": self.checked_at,
        }


# -- the ops (pure) ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Probe:
    version: str | None
    paused: bool
    counts: dict[str, int]
    waiting_ids: list[str]
    prioritized_id: str | None


def _probe_op(keys: QueueKeys) -> Op[_Probe]:
    """One round trip: server version, paused flag, counts and the oldest job ids."""
    counts = ops.job_counts(keys, ALL_STATES)
    calls = (
        raw("INFO", "server"),
        raw("HEXISTS", keys.meta, "paused"),
        raw("LRANGE", keys.wait, -_TAIL, -1),
        raw("LRANGE", keys.paused, -_TAIL, -1),
        raw("ZRANGE", keys.prioritized, 0, 0),
        *counts.calls,
    )

    def decode(replies: list[Any]) -> _Probe:
        info, paused, wait_tail, paused_tail, prioritized = replies[:5]
        version = info.get("redis_version") if isinstance(info, Mapping) else None
        # The right end of a list is its oldest job; "0:..." entries are old-style markers.
        waiting = [_oldest(wait_tail), _oldest(paused_tail)]
        return _Probe(
            version=str(version) if version is not None else None,
            paused=bool(int(paused)),
            counts=counts.decode(replies[5:]),
            waiting_ids=[i for i in waiting if i is not None],
            prioritized_id=str(prioritized[0]) if prioritized else None,
        )

    return Op(calls, decode)


def _oldest(tail: list[Any]) -> str | None:
    for job_id in reversed(tail):
        if not str(job_id).startswith("0:"):
            return str(job_id)
    return None


def _ready_since_op(keys: QueueKeys, ids: list[str]) -> Op[list[int | None]]:
    """When each job became ready to run: its timestamp plus its delay (ms)."""

    def since(reply: Any) -> int | None:
        timestamp, delay = reply
        try:
            return int(float(timestamp)) + int(float(delay or 0))
        except (TypeError, ValueError):
            return None

    calls = tuple(raw("HMGET", keys.job(i), "timestamp", "delay") for i in ids)
    return Op(calls, lambda replies: [since(r) for r in replies])


def _age(now: int, since: int | None) -> int | None:
    return None if since is None else max(0, now - since)


def _scrub(text: str, connection: Any) -> str:
    """Error text without the password (whatever redis-py or the OS put in it)."""
    text = re.sub(r"(://[^:/@\s]*:)[^@\s]*@", r"\1***@", text)
    try:
        password = connection_kwargs(connection).get("password")
    except (TypeError, ValueError):
        password = None
    if password:
        text = text.replace(str(password), "***")
    return text


def _failed(queue: Queue | AsyncQueue, exc: BaseException, ping_ms: float | None,
            now: int) -> HealthReport:
    """Redis did not answer (``ok`` False), or answered PING and refused a later command
    (an ACL without the queue's keys: ``ok`` stays True, ``error`` tells what failed)."""
    detail = _scrub(f"{type(redis_cause(exc)).__name__}: {exc}", queue.connection)
    answered = ping_ms is not None and not is_connection_error(exc)
    return HealthReport(queue=queue.name, prefix=queue.prefix,
                        redis=describe(queue.connection), ok=answered, error=detail,
                        ping_ms=round(ping_ms, 3) if ping_ms is not None else None,
                        checked_at=now)


def _report(queue: Queue | AsyncQueue, probe: _Probe, ping_ms: float | None,
            ages: list[int | None], workers: int | None, now: int) -> HealthReport:
    waiting = [_age(now, since) for since in ages[:len(probe.waiting_ids)]]
    known = [a for a in waiting if a is not None]
    prioritized = _age(now, ages[-1]) if probe.prioritized_id is not None else None
    return HealthReport(
        queue=queue.name, prefix=queue.prefix, redis=describe(queue.connection), ok=True,
        redis_version=probe.version,
        ping_ms=round(ping_ms, 3) if ping_ms is not None else None, paused=probe.paused,
        counts=probe.counts, workers=workers,
        oldest_waiting_age_ms=max(known) if known else None,
        oldest_prioritized_age_ms=prioritized, checked_at=now)


def _client_options(timeout: float) -> dict[str, Any]:
    return {"socket_timeout": timeout, "socket_connect_timeout": timeout,
            "retry": Retry(NoBackoff(), 0), "health_check_interval": 0}


# -- the two faces ----------------------------------------------------------------------------


def check_health(queue: Queue, timeout: float = DEFAULT_TIMEOUT) -> HealthReport:
    """Check Redis and the queue from blocking code; never raises for a Redis that is away."""
    client = sync_client(queue.connection, **_client_options(timeout))
    runner = SyncRunner(client)
    ping_ms = None
    try:
        started = time.perf_counter()
        client.ping()
        ping_ms = (time.perf_counter() - started) * 1000
        probe = runner.run(_probe_op(queue.keys))
        ids = [*probe.waiting_ids, *([probe.prioritized_id] if probe.prioritized_id else [])]
        ages = runner.run(_ready_since_op(queue.keys, ids)) if ids else []
        try:
            workers: int | None = len(runner.run(ops.workers(queue.keys)))
        except RedisResponseError:  # CLIENT LIST not allowed for this ACL user
            workers = None
        return _report(queue, probe, ping_ms, ages, workers, now_ms())
    except (_RedisPyError, RedisError, OSError) as exc:
        return _failed(queue, exc, ping_ms, now_ms())
    finally:
        client.close()


async def acheck_health(queue: AsyncQueue, timeout: float = DEFAULT_TIMEOUT) -> HealthReport:
    """Check Redis and the queue from asyncio code; never raises for a Redis that is away."""
    client = async_client(queue.connection, **_client_options(timeout))
    runner = AsyncRunner(client)
    ping_ms = None
    try:
        started = time.perf_counter()
        await client.ping()
        ping_ms = (time.perf_counter() - started) * 1000
        probe = await runner.run(_probe_op(queue.keys))
        ids = [*probe.waiting_ids, *([probe.prioritized_id] if probe.prioritized_id else [])]
        ages = await runner.run(_ready_since_op(queue.keys, ids)) if ids else []
        try:
            rows = await runner.run(ops.workers(queue.keys))
            workers: int | None = len(rows)
        except RedisResponseError:
            workers = None
        return _report(queue, probe, ping_ms, ages, workers, now_ms())
    except (_RedisPyError, RedisError, OSError) as exc:
        return _failed(queue, exc, ping_ms, now_ms())
    finally:
        await client.aclose()
