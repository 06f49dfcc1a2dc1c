"""Last-hour throughput from the finish times of a bounded sample of jobs (pure).

queuecore has no metrics API yet, so the service samples the newest completed and failed
jobs (a bounded number) and this module buckets their ``finished_on``. When a sample is full
and its oldest job is still inside the hour, the totals are lower bounds.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

HOUR_MS = 3_600_000
BUCKETS = 12
CHART_HEIGHT = 40


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
    return Throughput(
        completed=bucketize(completed, now_ms),
        failed=bucketize(failed, now_ms),
        lower_bound=is_lower_bound(completed, sample_size, now_ms)
        or is_lower_bound(failed, sample_size, now_ms),
    )
