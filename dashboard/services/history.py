"""History of a queue, or of a connection's queues summed: finished jobs per slot and wait
and processing percentiles, over 1 h (per minute), 24 h or 7 d (per hour).

Counts: BullMQ's per-minute metrics (``metrics:completed``/``:failed``, written by workers
with metrics enabled, Node's too), else the retained finished jobs counted per slot by
their finish time (a lower bound when retention removed some). Percentiles: queuecore's
timing histograms (``qc:timings``, written once a minute by queuecore workers with metrics
enabled), else, for a single queue, the newest finished jobs' own times (``processedOn -
timestamp``, ``finishedOn - processedOn``). Each figure says where it came from.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from dashboard import charts, connections
from dashboard.services.common import READ_ERRORS, describe, now_ms
from dashboard.throughput import has_data, per_minute
from queuecore import Queue, TimingHistograms, finished_per_slot, history_reads

#: Newest finished jobs read when no timings were recorded (completed, failed).
SAMPLE = (200, 50)
#: A connection's history sums at most this many queues (read together).
MAX_QUEUES = 100
MEASURES = ("wait", "processing")
COUNTS_METRICS = "metrics"
COUNTS_RETAINED = "retained"
COUNTS_MIXED = "mixed"  # a connection's queues: metrics where recorded, else retained jobs
TIMINGS = "timings"
TIMINGS_JOBS = "jobs"


@dataclass(frozen=True, slots=True)
class TableRow:
    label: str
    completed: int
    failed: int
    wait: tuple[str, ...]
    processing: tuple[str, ...]


@dataclass(slots=True)
class History:
    range_key: str
    starts: list[int]
    completed: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    counts_source: str = COUNTS_METRICS
    wait: dict[str, list[float | None]] = field(default_factory=dict)
    processing: dict[str, list[float | None]] = field(default_factory=dict)
    timings_source: str = ""
    sample: int = 0  # jobs read for the ``jobs`` fallback
    overall: dict[str, dict[str, float | None]] = field(default_factory=dict)
    queues: int = 1
    capped: bool = False
    error: str = ""

    @property
    def throughput_chart(self) -> charts.BarChart:
        return charts.bar_chart(self.starts, self.completed, self.range_key)

    @property
    def failures_chart(self) -> charts.BarChart:
        return charts.bar_chart(self.starts, self.failed, self.range_key)

    @property
    def wait_chart(self) -> charts.LineChart:
        return charts.line_chart(self.starts, self.wait, self.range_key)

    @property
    def processing_chart(self) -> charts.LineChart:
        return charts.line_chart(self.starts, self.processing, self.range_key)

    @property
    def overall_labels(self) -> dict[str, list[tuple[str, str]]]:
        return {m: [(f"p{p}", charts.ms_label(self.overall.get(m, {}).get(f"p{p}")) or "\u2013")
                    for p in charts.PERCENTILES] for m in MEASURES}

    @property
    def rows(self) -> list[TableRow]:
        """The figures behind the charts, one row per slot (the table for screen readers)."""
        out = []
        for i, start in enumerate(self.starts):
            out.append(TableRow(charts.time_label(start, self.range_key), self.completed[i],
                                self.failed[i], _cells(self.wait, i), _cells(self.processing, i)))
        return out


def _cells(series: dict[str, list[float | None]], index: int) -> tuple[str, ...]:
    return tuple(charts.ms_label(series[f"p{p}"][index]) if f"p{p}" in series else ""
                 for p in charts.PERCENTILES)


@dataclass(frozen=True, slots=True)
class _QueueReads:
    completed: list[int]
    failed: list[int]
    source: str
    timings: list[TimingHistograms]


def _groups(connection: str, names: list[str]) -> list[tuple[Queue, list[str]]]:
    """The queues read together: all of them through the first one's connection, or on a
    Cluster (where they may live on different nodes) each through its own."""
    if not names:
        return []
    first = connections.get_queue(connection, names[0])
    if first.route is None:
        return [(first, names)]
    return [(connections.get_queue(connection, n), [n]) for n in names]


def _read(queue: Queue, names: list[str], resolution: str, starts: list[int], width: int,
          now: int) -> list[_QueueReads]:
    """Each queue's counts per slot (BullMQ's metrics, else its retained finished jobs) and
    timing histograms: one round trip for the metrics and timings of all of them, and one
    for the retained jobs of those without metrics."""
    minutes = now // charts.MINUTE_MS - starts[0] // charts.MINUTE_MS + 1
    reads = history_reads(queue, names, minutes - 1, resolution, starts)
    per = width // charts.MINUTE_MS
    bare = [r.name for r in reads if not (has_data(r.completed) or has_data(r.failed))]
    retained = finished_per_slot(queue, bare, starts[0], width, len(starts)) if bare else {}
    out = []
    for r in reads:
        if r.name in retained:
            got = retained[r.name]
            out.append(_QueueReads(got["completed"], got["failed"], COUNTS_RETAINED,
                                   r.timings))
            continue
        out.append(_QueueReads(
            charts.regroup(per_minute(r.completed, now, minutes), per)[:len(starts)],
            charts.regroup(per_minute(r.failed, now, minutes), per)[:len(starts)],
            COUNTS_METRICS, r.timings))
    return out


def _combined(h: TimingHistograms, measure: str) -> TimingHistograms:
    """Both kinds (completed and failed) of one measure, under ``completed``."""
    out = TimingHistograms()
    for kind in ("completed", "failed"):
        for bucket, n in h.get(kind, measure).items():
            out.add("completed", measure, bucket, n)
    return out


def _from_histograms(history: History, slots: Sequence[TimingHistograms]) -> None:
    total = TimingHistograms()
    for h in slots:
        total.merge(h)
    for measure in MEASURES:
        series: dict[str, list[float | None]] = {}
        per_slot = [_combined(h, measure) for h in slots]
        for p in charts.PERCENTILES:
            series[f"p{p}"] = [h.percentile("completed", measure, p) for h in per_slot]
        getattr(history, measure).update(series)
        whole = _combined(total, measure)
        history.overall[measure] = {f"p{p}": whole.percentile("completed", measure, p)
                                    for p in charts.PERCENTILES}
    history.timings_source = TIMINGS


def _from_jobs(history: History, queue: Queue, width: int) -> None:
    """Exact percentiles of the newest finished jobs, per slot of their finish time."""
    jobs = (queue.get_jobs("completed", 0, SAMPLE[0] - 1)
            + queue.get_jobs("failed", 0, SAMPLE[1] - 1))
    first = history.starts[0]
    values: dict[str, list[list[float]]] = {m: [[] for _ in history.starts] for m in MEASURES}
    every: dict[str, list[float]] = {m: [] for m in MEASURES}
    for job in jobs:
        if not job.finished_on or not job.processed_on:
            continue
        index = (job.finished_on - first) // width
        if not 0 <= index < len(history.starts):
            continue
        pairs = (("processing", job.finished_on - job.processed_on),
                 ("wait", job.processed_on - job.timestamp if job.timestamp else None))
        for measure, value in pairs:
            if value is not None:
                values[measure][index].append(max(0, value))
                every[measure].append(max(0, value))
    for measure in MEASURES:
        getattr(history, measure).update({
            f"p{p}": [charts.nearest_rank(v, p) for v in values[measure]]
            for p in charts.PERCENTILES})
        history.overall[measure] = {f"p{p}": charts.nearest_rank(every[measure], p)
                                    for p in charts.PERCENTILES}
    history.timings_source = TIMINGS_JOBS
    history.sample = len(jobs)


def queue_history(connection: str, name: str, range_key: str) -> History:
    return _history(connection, [name], range_key, fallback_jobs=True)


def connection_history(connection: str, names: list[str], range_key: str) -> History:
    """The connection's queues summed (the first ``MAX_QUEUES`` by name)."""
    chosen = sorted(names)[:MAX_QUEUES]
    history = _history(connection, chosen, range_key, fallback_jobs=False)
    history.capped = len(names) > MAX_QUEUES
    return history


def _history(connection: str, names: list[str], range_key: str, *,
             fallback_jobs: bool) -> History:
    now = now_ms()
    count, resolution, width = charts.RANGES[range_key]
    starts = charts.slot_starts(now, range_key)
    history = History(range_key, starts, [0] * count, [0] * count, queues=len(names))
    hists = [TimingHistograms() for _ in starts]
    sources = set()
    try:
        for queue, group in _groups(connection, names):
            for got in _read(queue, group, resolution, starts, width, now):
                sources.add(got.source)
                history.completed = [a + b for a, b in
                                     zip(history.completed, got.completed, strict=True)]
                history.failed = [a + b for a, b in
                                  zip(history.failed, got.failed, strict=True)]
                for total, part in zip(hists, got.timings, strict=True):
                    total.merge(part)
        history.counts_source = (COUNTS_MIXED if len(sources) > 1
                                 else sources.pop() if sources else COUNTS_METRICS)
        if any(h.count("completed") or h.count("failed") for h in hists):
            _from_histograms(history, hists)
        elif fallback_jobs and names:
            _from_jobs(history, connections.get_queue(connection, names[0]), width)
    except READ_ERRORS as exc:
        history.error = describe(exc)
    return history
