"""What a rule measures on one queue, read through queuecore's public API (a few O(1) or
bounded commands per queue): the value compared with the rule's threshold."""

from __future__ import annotations

from collections.abc import Callable

from dashboard import conf
from dashboard.alerts.models import AlertKind, AlertRule
from queuecore import Queue

MINUTE_MS = 60_000
#: Depth rules without a chosen state count the jobs that wait for a worker.
WAITING_STATES = ("waiting", "prioritized")


def depth(rule: AlertRule, queue: Queue, now: int) -> float:
    states = (rule.state,) if rule.state else WAITING_STATES
    counts = queue.get_job_counts(*states)
    return float(sum(int(counts.get(s, 0)) for s in states))


def oldest_waiting(rule: AlertRule, queue: Queue, now: int) -> float:
    """Seconds the oldest waiting job has waited (0 with none)."""
    oldest = queue.get_jobs("waiting", 0, 0, asc=True)
    if not oldest or not oldest[0].timestamp:
        return 0.0
    return max(0.0, (now - oldest[0].timestamp) / 1000)


def _finished_in_window(queue: Queue, state: str, since: int) -> int:
    """Jobs of ``state`` among the newest ``THROUGHPUT_SAMPLE`` finished since ``since``."""
    sample = conf.get_settings().throughput_sample
    jobs = queue.get_jobs(state, 0, sample - 1)
    return sum(1 for j in jobs if (j.finished_on or 0) >= since)


def _recorded(queue: Queue, kind: str, first: int, last: int) -> int | None:
    """Jobs of ``kind`` finished in the minutes ``first`` to ``last`` (minutes since the
    epoch) by BullMQ's per-minute metrics; None when no worker records them.

    The metrics hash's ``prevTS`` is the minute still open (``count - prevCount`` jobs so
    far); ``data[i]`` is the minute ``i + 1`` before it. A series moves on only when a job of
    its own kind finishes, so it is placed by its ``prevTS``, never by the clock: a failure an
    hour ago is not counted as one in the last minute."""
    head = queue.get_metrics(kind, 0, 0)  # the hash; the newest point comes along
    if not head.count:
        return None
    opened = head.prev_ts // MINUTE_MS
    total = head.count - head.prev_count if first <= opened <= last else 0
    start, end = max(0, opened - 1 - last), opened - 1 - first
    if end >= start:
        total += sum(queue.get_metrics(kind, start, end).data)
    return total


def failure_rate(rule: AlertRule, queue: Queue, now: int) -> float:
    """Failed share (%) of the jobs finished in the window: BullMQ's per-minute metrics when
    workers record them (the whole minutes before the current one), else the finish times of
    the newest ``THROUGHPUT_SAMPLE`` completed and failed jobs."""
    minutes = max(1, -(-rule.window_seconds * 1000 // MINUTE_MS))
    current = now // MINUTE_MS
    completed_m = _recorded(queue, "completed", current - minutes, current - 1)
    failed_m = _recorded(queue, "failed", current - minutes, current - 1)
    if completed_m is not None or failed_m is not None:
        completed, failed = completed_m or 0, failed_m or 0
    else:
        since = now - rule.window_seconds * 1000
        completed = _finished_in_window(queue, "completed", since)
        failed = _finished_in_window(queue, "failed", since)
    total = completed + failed
    return 100.0 * failed / total if total else 0.0


def no_workers(rule: AlertRule, queue: Queue, now: int) -> float:
    """Jobs waiting while no worker is connected (0 while a worker is, nothing waits, or the
    queue is paused: then nobody is meant to take them)."""
    if queue.is_paused() or queue.get_workers():
        return 0.0
    counts = queue.get_job_counts(*WAITING_STATES)
    return float(sum(int(counts.get(s, 0)) for s in WAITING_STATES))


def scheduler_missed(rule: AlertRule, queue: Queue, now: int) -> float:
    """Seconds past its slot of the most overdue job scheduler (0 when none is overdue): the
    schedulers are ordered by next run, so the first one is the most overdue."""
    first = queue.get_job_schedulers(0, 0, asc=True)
    if not first or first[0].next is None:
        return 0.0
    return max(0.0, (now - first[0].next) / 1000)


MEASURES: dict[str, Callable[[AlertRule, Queue, int], float]] = {
    AlertKind.DEPTH: depth,
    AlertKind.OLDEST_WAITING: oldest_waiting,
    AlertKind.FAILURE_RATE: failure_rate,
    AlertKind.NO_WORKERS: no_workers,
    AlertKind.SCHEDULER_MISSED: scheduler_missed,
}


def measure(rule: AlertRule, queue: Queue, now: int) -> float:
    return MEASURES[rule.kind](rule, queue, now)
