"""The Worker's constructor options, checked once into one frozen settings object."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..base.backoff import BackoffStrategy
from ..base.errors import InvalidOptionsError
from ..base.keys import QueueKeys
from ..base.validation import (
    non_negative_number,
    optional_positive_int,
    positive_int,
    positive_number,
)
from .targets import target_path

KeepOption = bool | int | dict[str, int] | None


@dataclass(frozen=True, slots=True)
class WorkerSettings:
    """What a Worker was asked to do, validated; times in ms unless the name says seconds."""

    concurrency: int
    processes: int | None
    process_initializer: str | None  # "module:function" run in each child first
    is_async: bool  # the processor is a coroutine function (it runs on the loop)
    takes_signal: bool  # it takes a CancelSignal second (with processes=: the child decides)
    worker_name: str | None
    lock_duration: int
    lock_renew_time: int
    stalled_interval: int
    max_stalled_count: int
    drain_delay: float  # seconds
    backoff_strategy: BackoffStrategy | None
    limiter_max: int  # 0: no rate limit
    limiter_duration: int
    metrics_points: int  # 0: no metrics
    remove_on_complete: KeepOption
    remove_on_fail: KeepOption
    skip_stalled_check: bool
    shutdown_timeout: float | None  # seconds
    dead_letter_keys: QueueKeys | None


def worker_settings(
    processor: Any,
    *,
    prefix: str,
    concurrency: int,
    name: str | None,
    lock_duration: int,
    lock_renew_time: int | None,
    stalled_interval: int,
    max_stalled_count: int,
    drain_delay: float,
    backoff_strategy: BackoffStrategy | None,
    limiter: dict[str, int] | None,
    metrics: dict[str, int] | None,
    remove_on_complete: KeepOption,
    remove_on_fail: KeepOption,
    skip_stalled_check: bool,
    shutdown_timeout: float | None,
    dead_letter_queue: str | None,
    processes: int | None,
    process_initializer: str | Callable[[], object] | None = None,
) -> WorkerSettings:
    """Check every option (``InvalidOptionsError`` on the first wrong one) before the worker
    builds anything that connects."""
    processes = optional_positive_int("processes", processes)
    if processor is not None and not callable(processor) and not (
            processes and isinstance(processor, str)):
        raise InvalidOptionsError(
            "processor must be a function, a coroutine function, (with processes=)"
            " a 'package.module:function' path, or None (manual processing)")
    if processor is None and processes:
        raise InvalidOptionsError("processes= needs a processor (not manual processing)")
    positive_int("concurrency", concurrency)
    lock_ms = int(positive_number("lock_duration", lock_duration))
    limiter_max, limiter_duration = _limiter(limiter)
    return WorkerSettings(
        concurrency=concurrency,
        processes=processes,
        # Validated here (its import happens in each child, before the processor's).
        process_initializer=(target_path(process_initializer)
                             if process_initializer is not None else None),
        is_async=inspect.iscoroutinefunction(processor) or inspect.iscoroutinefunction(
            getattr(processor, "__call__", None)),  # noqa: B004
        takes_signal=not processes and takes_cancel_signal(processor),
        worker_name=name,
        lock_duration=lock_ms,
        lock_renew_time=int(positive_number("lock_renew_time", lock_renew_time or lock_ms / 2)),
        stalled_interval=int(positive_number("stalled_interval", stalled_interval)),
        max_stalled_count=int(non_negative_number("max_stalled_count", max_stalled_count)),
        drain_delay=float(positive_number("drain_delay", drain_delay)),
        backoff_strategy=backoff_strategy,
        limiter_max=limiter_max,
        limiter_duration=limiter_duration,
        metrics_points=int((metrics or {}).get("max_data_points", 0)),
        remove_on_complete=remove_on_complete,
        remove_on_fail=remove_on_fail,
        skip_stalled_check=skip_stalled_check,
        shutdown_timeout=shutdown_timeout,
        dead_letter_keys=(QueueKeys.of(dead_letter_queue, prefix)
                          if dead_letter_queue is not None else None),
    )


def takes_cancel_signal(processor: Any) -> bool:
    """Whether a processor opts in to cancellation: it takes a second positional parameter
    (``def process(job, signal)``), as a Node processor takes a third (the AbortSignal)."""
    if not callable(processor):
        return False
    try:
        params = inspect.signature(processor).parameters.values()
    except (TypeError, ValueError):  # no signature to read (a builtin): job only
        return False
    positional = 0
    for param in params:
        if param.kind is inspect.Parameter.VAR_POSITIONAL:
            return True
        if param.kind in (inspect.Parameter.POSITIONAL_ONLY,
                          inspect.Parameter.POSITIONAL_OR_KEYWORD):
            positional += 1
    return positional >= 2


def _limiter(limiter: dict[str, int] | None) -> tuple[int, int]:
    if not limiter:
        return 0, 0
    max_jobs = limiter.get("max")
    duration = limiter.get("duration")
    if not isinstance(max_jobs, int) or not isinstance(duration, int) or max_jobs < 1 or (
        duration < 1
    ):
        raise InvalidOptionsError("limiter needs {'max': jobs >= 1, 'duration': ms >= 1}")
    return max_jobs, duration
