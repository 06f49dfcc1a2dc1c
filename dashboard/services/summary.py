"""One queue at a glance: counts, paused, workers, oldest waiting age and throughput.

Shared by the overview (a row per queue), the queue page (its header) and the metrics
endpoint (counts and totals only).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from dashboard import conf, connections
from dashboard.formatting import format_duration
from dashboard.services.common import COUNTED_STATES, READ_ERRORS, describe, now_ms
from dashboard.throughput import (
    Throughput,
    from_metrics,
    has_data,
    metrics_current,
    points_needed,
    throughput,
)
from queuecore import Queue


@dataclass(frozen=True, slots=True)
class QueueSummary:
    connection: str
    name: str
    counts: Mapping[str, int] = field(default_factory=dict)
    paused: bool = False
    workers: int = 0
    oldest_waiting_ms: int | None = None
    throughput: Throughput | None = None
    error: str = ""
    #: BullMQ's running totals ``{"completed": n, "failed": n}`` (the ``count`` field of
    #: ``metrics:<kind>``); None unless asked for, or when no worker records metrics.
    finished_totals: Mapping[str, int] | None = None

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def oldest_waiting_age(self) -> str:
        return format_duration(self.oldest_waiting_ms)


def _oldest_waiting(queue: Queue, now: int) -> int | None:
    oldest = queue.get_jobs("waiting", 0, 0, asc=True)
    if not oldest or not oldest[0].timestamp:
        return None
    return max(0, now - oldest[0].timestamp)


def _newest_finish(queue: Queue, state: str) -> int | None:
    newest = queue.get_jobs(state, 0, 0)
    return newest[0].finished_on if newest else None


def _throughput(queue: Queue, now: int) -> Throughput:
    """BullMQ's per-minute metrics when workers record them (O(1) on any queue size), else
    the finish times of the newest ``THROUGHPUT_SAMPLE`` completed and failed jobs."""
    points = points_needed()
    completed = queue.get_metrics("completed", 0, points - 1)
    failed = queue.get_metrics("failed", 0, points - 1)
    if (has_data(completed) or has_data(failed)) and all(
        metrics_current(m, _newest_finish(queue, state), now)
        for m, state in ((completed, "completed"), (failed, "failed"))
    ):
        return from_metrics(completed, failed, now)
    sample = conf.get_settings().throughput_sample
    completed_on = [j.finished_on for j in queue.get_jobs("completed", 0, sample - 1)]
    failed_on = [j.finished_on for j in queue.get_jobs("failed", 0, sample - 1)]
    return throughput(completed_on, failed_on, sample, now)


def _finished_totals(queue: Queue) -> dict[str, int] | None:
    """The ``count`` of BullMQ's ``metrics:completed`` and ``metrics:failed`` hashes (O(1):
    an HMGET and a one-item LRANGE each), or None when no worker of the queue records them."""
    totals = {kind: queue.get_metrics(kind, 0, 0).count for kind in ("completed", "failed")}
    return totals if any(totals.values()) else None


def summarize(
    connection: str, name: str, *, with_throughput: bool = True, with_totals: bool = False
) -> QueueSummary:
    queue = connections.get_queue(connection, name)
    now = now_ms()
    try:
        counts = queue.get_job_counts(*COUNTED_STATES)
        return QueueSummary(
            connection=connection,
            name=name,
            counts={s: int(counts.get(s, 0)) for s in COUNTED_STATES},
            paused=queue.is_paused(),
            workers=len(queue.get_workers()),
            oldest_waiting_ms=_oldest_waiting(queue, now),
            throughput=_throughput(queue, now) if with_throughput else None,
            finished_totals=_finished_totals(queue) if with_totals else None,
        )
    except READ_ERRORS as exc:
        return QueueSummary(connection=connection, name=name, error=describe(exc))
