"""Metrics: BullMQ's per-minute completed/failed counts, and wait/processing percentiles.

Workers record them when created with ``metrics={"max_data_points": N}`` (BullMQ's
``metrics.maxDataPoints``; 1440 keeps a day). Counts live in BullMQ's keys, so metrics
written by Node workers read the same. queuecore workers also keep the last
``timing_samples`` (wait, processing) pairs per kind for percentiles.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..base.errors import InvalidOptionsError
from ..base.keys import QueueKeys
from .op import Op, raw

KINDS = ("completed", "failed")


@dataclass(frozen=True, slots=True)
class Metrics:
    """``data[i]`` is the count of minute i before the current one (newest first)."""

    count: int
    prev_ts: int
    prev_count: int
    data: list[int]
    total_points: int


@dataclass(frozen=True, slots=True)
class Timing:
    finished_on: int
    wait_ms: int
    processing_ms: int


@dataclass(frozen=True, slots=True)
class TimingSummary:
    """Percentiles (ms) of the samples; ``None`` when there are none."""

    count: int
    wait: dict[str, float | None]
    processing: dict[str, float | None]


def percentile(values: Sequence[float], p: float) -> float | None:
    """The p-th percentile (0..100) by linear interpolation between closest ranks."""
    if not 0 <= p <= 100:
        raise ValueError("p must be between 0 and 100")
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summarize(samples: Sequence[Timing], percentiles: Sequence[float] = (50, 90, 99)
              ) -> TimingSummary:
    waits = [s.wait_ms for s in samples]
    procs = [s.processing_ms for s in samples]
    return TimingSummary(
        len(samples),
        {f"p{p:g}": percentile(waits, p) for p in percentiles},
        {f"p{p:g}": percentile(procs, p) for p in percentiles},
    )


def per_minute(samples: Sequence[Timing], percentiles: Sequence[float] = (50, 90, 99)
               ) -> list[tuple[int, TimingSummary]]:
    """Samples grouped by the minute they finished in (oldest first), for charts."""
    minutes: dict[int, list[Timing]] = {}
    for sample in samples:
        minutes.setdefault(sample.finished_on // 60_000 * 60_000, []).append(sample)
    return [(minute, summarize(group, percentiles)) for minute, group in sorted(minutes.items())]


def _kind(kind: str) -> str:
    if kind not in KINDS:
        raise InvalidOptionsError(f"metrics kind must be one of {KINDS}")
    return kind


def get_metrics(keys: QueueKeys, kind: str, start: int, end: int) -> Op[Metrics]:
    key = keys.metrics(_kind(kind))

    def decode(replies: list[Any]) -> Metrics:
        count, prev_ts, prev_count = (int(v) if v is not None else 0 for v in replies[0])
        return Metrics(count, prev_ts, prev_count, [int(v) for v in replies[1]],
                       int(replies[2]))

    return Op((raw("HMGET", key, "count", "prevTS", "prevCount"),
               raw("LRANGE", key + ":data", start, end), raw("LLEN", key + ":data")), decode)


def get_timings(keys: QueueKeys, kind: str, since_ms: int | None) -> Op[list[Timing]]:
    def decode(reply: Any) -> list[Timing]:
        out = []
        for item in reply:
            try:
                finished, wait, processing = (int(x) for x in str(item).split(":"))
            except ValueError:
                continue
            if since_ms is None or finished >= since_ms:
                out.append(Timing(finished, wait, processing))
        return out

    return Op((raw("LRANGE", keys.metrics(_kind(kind)) + ":timings", 0, -1),),
              lambda replies: decode(replies[0]))
