# Generated from queuecore/client/aqueries.py by scripts/unasync.py: do not edit.
# Change the asyncio source and run `python scripts/unasync.py`.
"""Queue's reads that return plain values: states, logs, positions, windows of ids,
fields, metrics, timings and counts (kept apart so that queue.py stays small)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

from ..commands import getters, metrics, ops, paging
from ..commands.metrics import Metrics, TimingSummary
from ..commands.op import Op
from .queue_base import QueueBase

T = TypeVar("T")


class QueueReads(QueueBase, ABC):
    """The plain reads of ``Queue``, which supplies ``run_op``."""

    @abstractmethod
    def run_op(self, op: Op[T]) -> T:
        """Run a command-layer op on the queue's connection (``Queue.run_op``)."""

    def get_job_state(self, job_id: str) -> str:
        return self.run_op(ops.get_state(self.keys, str(job_id)))

    def get_job_logs(self, job_id: str, start: int = 0, end: int = -1,
                     asc: bool = True) -> tuple[list[str], int]:
        self._check_range(start, end)
        return self.run_op(ops.get_logs(self.keys, str(job_id), start, end, asc))

    def get_job_log_counts(self, job_ids: Iterable[str]) -> dict[str, int]:
        """How many log lines each job has (0 for none or an unknown id), in one round trip."""
        ids = [str(j) for j in job_ids]
        return self.run_op(ops.log_counts(self.keys, ids)) if ids else {}

    def get_job_position(self, job_id: str, limit: int = 100_000) -> int | None:
        """How many queued jobs a worker takes before ``job_id`` (None: not waiting or
        prioritized, or more than ``limit`` places back)."""
        return self.run_op(getters.job_position(self.keys, str(job_id), limit))

    def get_job_lock_ttl(self, job_id: str) -> int:
        """Milliseconds left on the job's worker lock (-2: no lock, -1: no expiry)."""
        return self.run_op(getters.lock_ttl(self.keys, str(job_id)))

    def scan_job_ids(self, state: str, cursor: int = 0,
                     count: int = 1000) -> tuple[list[str], int]:
        """A window of ``count`` ids of ``state`` from position ``cursor`` (newest first) and
        the next cursor, 0 at the end: pages through a state in short calls."""
        return self.run_op(paging.scan_job_ids(self.keys, state, cursor, count))

    def get_job_fields(self, job_ids: Iterable[str],
                       fields: Sequence[str]) -> list[dict[str, str] | None]:
        """Some raw hash fields of many jobs in one round trip (None: no such job)."""
        ids = [str(j) for j in job_ids]
        return self.run_op(paging.get_job_fields(self.keys, ids, fields)) if ids else []

    def is_paused(self) -> bool:
        return self.run_op(ops.is_paused(self.keys))

    def get_workers(self) -> list[dict[str, str]]:
        return self.run_op(ops.workers(self.keys))

    def redis_info(self) -> dict[str, Any]:
        return self.run_op(ops.redis_info())

    # -- metrics and timings --

    def get_metrics(self, kind: str = "completed", start: int = 0, end: int = -1) -> Metrics:
        """Per-minute counts of ``kind`` ("completed" or "failed"), newest minute first."""
        return self.run_op(metrics.get_metrics(self.keys, kind, start, end))

    def get_timings(self, kind: str = "completed", since_ms: int | None = None,
                    percentiles: Sequence[float] = (50, 90, 99)) -> TimingSummary:
        """Wait and processing time percentiles of the recorded samples (ms)."""
        samples = self.run_op(metrics.get_timings(self.keys, kind, since_ms))
        return metrics.summarize(samples, percentiles)

    def get_timing_series(self, kind: str = "completed", since_ms: int | None = None,
                          percentiles: Sequence[float] = (50, 90, 99)
                          ) -> list[tuple[int, TimingSummary]]:
        """The same percentiles per minute (oldest first), for charts."""
        samples = self.run_op(metrics.get_timings(self.keys, kind, since_ms))
        return metrics.per_minute(samples, percentiles)

    # -- counting --

    def get_counts_per_priority(self, priorities: Iterable[int]) -> dict[str, int]:
        """Jobs queued at each priority, by the priority as a string (0 counts ``wait``)."""
        return self.run_op(getters.counts_per_priority(self.keys, priorities))

    def get_job_count_by_types(self, *types: str) -> int:
        """The number of jobs in all the states given (every state when none)."""
        return self.run_op(getters.job_count_by_types(self.keys, types))

    def get_flow_parents(self, job_ids: Iterable[str]) -> set[str]:
        """Which of the jobs are flow parents (have or had children), in one round trip."""
        ids = [str(j) for j in job_ids]
        return self.run_op(getters.flow_parents(self.keys, ids)) if ids else set()

    def get_due_times(self, job_ids: Iterable[str]) -> dict[str, int | None]:
        """When each delayed job is due (ms; None when not delayed), in one round trip."""
        ids = [str(j) for j in job_ids]
        return self.run_op(getters.due_times(self.keys, ids)) if ids else {}
