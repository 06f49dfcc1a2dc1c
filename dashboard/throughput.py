"""Last-hour throughput for the small chart (pure).

Two sources. Preferred: BullMQ's per-minute metrics (``Queue.get_metrics``), which workers
write when created with metrics enabled; they are exact and cost O(1) to read on any queue
size (``from_metrics``). Fallback, for queues without metrics data: the finish times of a
bounded sample of the newest completed and failed jobs, bucketed (``throughput``); when a
sample is full and its oldest job is still inside the hour, the totals are lower bounds.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

HOUR_MS = 3_600_000
MINUTE_MS = 60_000
BUCKETS = 12
CHART_HEIGHT = 40
#: Where the figures came from (shown in the chart's tooltip).
METRICS = "metrics"
SAMPLE = "sample"


@dataclass(frozen=True, slots=True)
class Bar:
    x: int
    height: int
    completed: int
    failed: int

    @property
    def y(self) -> int:
        return CHART_HEIGHT - self.height


@dataclass(frozen=True, slots=True)
class Throughput:
    completed: tuple[int, ...]
    failed: tuple[int, ...]
    lower_bound: bool
    source: str = SAMPLE
    sample_size: int = 0

    @property
    def from_metrics(self) -> bool:
        return self.source == METRICS

    @property
    def total_completed(self) -> int:
        return sum(self.completed)

    @property
    def total_failed(self) -> int:
        return sum(self.failed)

    @property
    def bars(self) -> list[Bar]:
        peak = max((c + f for c, f in zip(self.completed, self.failed, strict=True)), default=0)
        out = []
        for i, (c, f) in enumerate(zip(self.completed, self.failed, strict=True)):
            height = round(CHART_HEIGHT * (c + f) / peak) if peak else 0
            out.append(Bar(x=i * 10, height=height, completed=c, failed=f))
        return out


def bucketize(
    finished: Iterable[int | None], now_ms: int, buckets: int = BUCKETS
) -> tuple[int, ...]:
    """Counts per equal slice of the last hour, oldest slice first."""
    width = HOUR_MS / buckets
    counts = [0] * buckets
    start = now_ms - HOUR_MS
    for ms in finished:
        if ms is None or ms <= start or ms > now_ms:
            continue
        index = min(buckets - 1, int((ms - start) // width))
        counts[index] += 1
    return tuple(counts)


def is_lower_bound(finished: list[int | None], sample_size: int, now_ms: int) -> bool:
    """A full sample whose oldest finish is inside the hour may have missed older jobs."""
    if len(finished) < sample_size:
        return False
    oldest = min((ms for ms in finished if ms is not None), default=None)
    return oldest is not None and oldest > now_ms - HOUR_MS


def throughput(
    completed: list[int | None], failed: list[int | None], sample_size: int, now_ms: int
) -> Throughput:
    """The fallback: bucket the finish times of the sampled jobs."""
    return Throughput(
        completed=bucketize(completed, now_ms),
        failed=bucketize(failed, now_ms),
        lower_bound=is_lower_bound(completed, sample_size, now_ms)
        or is_lower_bound(failed, sample_size, now_ms),
        source=SAMPLE,
        sample_size=sample_size,
    )


class MetricsLike(Protocol):
    """What ``queuecore.commands.metrics.Metrics`` offers (BullMQ's ``metrics:<kind>`` keys)."""

    @property
    def count(self) -> int: ...
    @property
    def prev_ts(self) -> int: ...
    @property
    def prev_count(self) -> int: ...
    @property
    def data(self) -> list[int]: ...


def has_data(metrics: MetricsLike) -> bool:
    """A worker with metrics enabled has finished at least one job of this kind."""
    return metrics.prev_ts > 0


def per_minute(metrics: MetricsLike, now_ms: int, minutes: int = 60) -> tuple[int, ...]:
    """Counts of the last ``minutes`` minutes (the current one last) from BullMQ's layout.

    ``count - prevCount`` jobs finished in the minute of ``prevTS`` (not yet in the list);
    ``data[i]`` is the minute ``i + 1`` before it; later minutes had none (a finish in them
    would have moved ``prevTS``).
    """
    newest = metrics.prev_ts // MINUTE_MS
    current = now_ms // MINUTE_MS
    out = []
    for minute in range(current - minutes + 1, current + 1):
        if not has_data(metrics) or minute > newest:
            out.append(0)
        elif minute == newest:
            out.append(max(0, metrics.count - metrics.prev_count))
        else:
            index = newest - 1 - minute
            out.append(max(0, int(metrics.data[index])) if index < len(metrics.data) else 0)
    return tuple(out)


def regroup(minutes: Sequence[int], buckets: int = BUCKETS) -> tuple[int, ...]:
    """Sums of equal runs of minutes (oldest first)."""
    width = max(1, len(minutes) // buckets)
    return tuple(sum(minutes[i * width:(i + 1) * width]) for i in range(buckets))


def points_needed(minutes: int = 60) -> int:
    """Entries of ``metrics:<kind>:data`` the last ``minutes`` minutes can need."""
    return minutes - 1


def from_metrics(completed: MetricsLike, failed: MetricsLike, now_ms: int) -> Throughput:
    """Exact counts per 5 minutes of the last hour (minute-aligned, current minute last)."""
    return Throughput(
        completed=regroup(per_minute(completed, now_ms)),
        failed=regroup(per_minute(failed, now_ms)),
        lower_bound=False,
        source=METRICS,
    )


def metrics_current(metrics: MetricsLike, newest_finished_ms: int | None, now_ms: int) -> bool:
    """False when a job finished inside the last hour after the metrics' newest minute: a
    worker that records no metrics finished it, so the metrics would undercount."""
    if newest_finished_ms is None or newest_finished_ms <= now_ms - HOUR_MS:
        return True
    if not has_data(metrics):
        return False
    return newest_finished_ms // MINUTE_MS <= metrics.prev_ts // MINUTE_MS
