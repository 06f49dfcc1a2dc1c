"""The read side: calls queuecore and returns plain objects for templates.

Views never talk to Redis; they call these functions. Every list costs O(page size):
counts come from LLEN/ZCARD inside ``get_job_counts`` and pages from ranged reads.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import redis

import queuecore
from dashboard import conf, connections
from dashboard.formatting import (
    PrettyJson,
    clip,
    format_duration,
    ms_to_datetime,
    parse_job_key,
    parse_queue_key,
    pretty_json,
    progress_percent,
    shorten,
)
from dashboard.pagination import Page, make_page
from dashboard.throughput import (
    Throughput,
    from_metrics,
    has_data,
    metrics_current,
    points_needed,
    throughput,
)
from queuecore import Job, Queue, QueueCoreError

#: Tabs of the queue page, in BullMQ's order.
STATES: tuple[str, ...] = (
    "waiting",
    "active",
    "prioritized",
    "delayed",
    "waiting-children",
    "completed",
    "failed",
)
#: ``get_job_counts`` also reports the legacy ``paused`` list; shown only when non-empty.
COUNTED_STATES: tuple[str, ...] = (*STATES, "paused")
#: Job fields are untrusted and may be huge: names are cut to this many characters, and the
#: job page shows the newest ``MAX_TRACES`` stack traces (each cut to TEXT_PREVIEW_CHARS).
NAME_CHARS = 256
MAX_TRACES = 20
#: Errors that mean "this Redis or this data could not be read", shown instead of a crash.
READ_ERRORS: tuple[type[Exception], ...] = (redis.RedisError, QueueCoreError, OSError)


def now_ms() -> int:
    return int(time.time() * 1000)


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


@dataclass(frozen=True, slots=True)
class ConnectionOverview:
    connection: conf.ConnectionSettings
    queues: list[QueueSummary]
    error: str = ""
    discovered: bool = False


@dataclass(frozen=True, slots=True)
class JobRow:
    id: str
    name: str
    progress: float | None
    progress_text: str
    attempts_made: int
    attempts: int | None
    created: datetime | None
    processed: datetime | None
    finished: datetime | None
    failed_reason: str
    delay_until: datetime | None
    priority: int


@dataclass(frozen=True, slots=True)
class QueuePage:
    summary: QueueSummary
    state: str
    asc: bool
    page: Page
    jobs: list[JobRow]


@dataclass(frozen=True, slots=True)
class JobRef:
    connection: str
    queue: str
    id: str
    known: bool = True  # False: the key is in another prefix, shown as text only
    key: str = ""


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    at: datetime | None
    label: str
    detail: str = ""


@dataclass(frozen=True, slots=True)
class JobDetail:
    connection: str
    queue: str
    row: JobRow
    state: str
    data: PrettyJson
    opts: PrettyJson
    return_value: PrettyJson | None
    progress_json: PrettyJson
    failed_reason: str
    stacktrace: list[str]  # the newest MAX_TRACES, each cut
    stacktraces_skipped: int  # older traces not shown
    logs: list[str]
    log_page: Page
    timeline: list[TimelineEntry]
    parent: JobRef | None
    children: dict[str, list[JobRef]] | None  # None: queuecore cannot list them yet
    scheduler_id: str | None
    processed_by: str
    stalled_counter: int
    attempts_started: int
    full: frozenset[str] = frozenset()  # fields shown whole (up to JSON_FULL_CHARS)


# -- overview ---------------------------------------------------------------------------


#: A discovery SCAN slower than this is cached (DISCOVERY_CACHE_SECONDS): it walks the whole
#: keyspace, ~2 s at 1.1M keys, while on a small keyspace it costs a few ms and stays fresh.
SLOW_SCAN_SECONDS = 0.05
_DiscoveryKey = tuple[str, str, int]
_discovery_lock = threading.Lock()
_discovered: dict[_DiscoveryKey, tuple[float, list[str]]] = {}  # key -> (fresh until, names)
_refreshing: set[_DiscoveryKey] = set()
_discovery_generation = 0


def queue_names(conn: conf.ConnectionSettings) -> list[str]:
    """Configured names, or a bounded SCAN of the prefix.

    A slow SCAN's result is kept for ``DISCOVERY_CACHE_SECONDS``; after that the stale list
    is served while one background thread scans again (stale-while-revalidate).
    """
    if conn.queues is not None:
        return list(conn.queues)
    settings = conf.get_settings()
    key = (conn.url, conn.prefix, settings.scan_limit)
    with _discovery_lock:
        cached = _discovered.get(key)
        generation = _discovery_generation
        refresh = cached is not None and time.monotonic() >= cached[0] and key not in _refreshing
        if refresh:
            _refreshing.add(key)
    if cached is None:
        return _scan(key, settings.discovery_cache_seconds, generation)
    if refresh:
        threading.Thread(
            target=_background_scan,
            args=(key, settings.discovery_cache_seconds, generation),
            name="queue-dashboard-discovery",
            daemon=True,
        ).start()
    return list(cached[1])


def _scan(key: _DiscoveryKey, ttl: int, generation: int) -> list[str]:
    url, prefix, limit = key
    started = time.monotonic()
    names = sorted(queuecore.list_queues(url, prefix=prefix, limit=limit))
    took = time.monotonic() - started
    with _discovery_lock:
        if generation == _discovery_generation:
            if ttl and took >= SLOW_SCAN_SECONDS:
                _discovered[key] = (time.monotonic() + ttl, names)
            else:
                _discovered.pop(key, None)
    return list(names)


def _background_scan(key: _DiscoveryKey, ttl: int, generation: int) -> None:
    try:
        _scan(key, ttl, generation)
    except Exception:  # the next request scans in the foreground and shows the error
        with _discovery_lock:
            _discovered.pop(key, None)
    finally:
        with _discovery_lock:
            _refreshing.discard(key)


@conf.on_reset
def forget_discovered() -> None:
    global _discovery_generation
    with _discovery_lock:
        _discovered.clear()
        _discovery_generation += 1


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
        return QueueSummary(connection=connection, name=name, error=_describe(exc))


def overview(visible: Any) -> list[ConnectionOverview]:
    """Every connection with its queues that ``visible(connection, queue)`` lets through."""
    result = []
    for conn in conf.get_settings().connections:
        try:
            names = queue_names(conn)
        except READ_ERRORS as exc:
            result.append(ConnectionOverview(connection=conn, queues=[], error=_describe(exc)))
            continue
        summaries = [summarize(conn.name, n) for n in names if visible(conn.name, n)]
        result.append(
            ConnectionOverview(connection=conn, queues=summaries, discovered=conn.queues is None)
        )
    return result


def all_counts() -> list[QueueSummary]:
    """Counts, oldest waiting age and metrics totals, for the metrics endpoint: a fixed number
    of commands per queue, none of which reads more than one job (no sampling)."""
    out = []
    for conn in conf.get_settings().connections:
        try:
            names = queue_names(conn)
        except READ_ERRORS as exc:
            out.append(QueueSummary(connection=conn.name, name="", error=_describe(exc)))
            continue
        out.extend(summarize(conn.name, n, with_throughput=False, with_totals=True) for n in names)
    return out


# -- queue page -------------------------------------------------------------------------


def job_row(job: Job) -> JobRow:
    attempts = job.opts.get("attempts") if isinstance(job.opts, dict) else None
    delay_until = None
    if job.delay:
        delay_until = ms_to_datetime((job.processed_on or job.timestamp) + job.delay)
    progress = job.progress
    return JobRow(
        id=job.id,
        name=clip(job.name, NAME_CHARS),
        progress=progress_percent(progress),
        progress_text="" if progress in (0, None, "") else shorten(str(progress), 40),
        attempts_made=job.attempts_made,
        attempts=attempts if isinstance(attempts, int) else None,
        created=ms_to_datetime(job.timestamp),
        processed=ms_to_datetime(job.processed_on),
        finished=ms_to_datetime(job.finished_on),
        failed_reason=shorten(job.failed_reason),
        delay_until=delay_until,
        priority=job.priority,
    )


def queue_page(
    connection: str, name: str, state: str, raw_page: str | None, size: int, asc: bool
) -> QueuePage:
    summary = summarize(connection, name)
    total = summary.counts.get(state, 0)
    page = make_page(raw_page, size, total)
    jobs: list[JobRow] = []
    if total and not summary.error:
        queue = connections.get_queue(connection, name)
        jobs = [job_row(j) for j in queue.get_jobs(state, page.start, page.end, asc=asc)]
    return QueuePage(summary=summary, state=state, asc=asc, page=page, jobs=jobs)


# -- job page ---------------------------------------------------------------------------


def get_job(connection: str, name: str, job_id: str) -> Job | None:
    return connections.get_queue(connection, name).get_job(job_id)


def _timeline(job: Job) -> list[TimelineEntry]:
    entries = [TimelineEntry(ms_to_datetime(job.timestamp), "created")]
    if job.delay:
        due = ms_to_datetime(job.timestamp + job.delay)
        entries.append(TimelineEntry(due, "delayed until", format_duration(job.delay)))
    traces = job.stacktrace or []
    skipped = max(0, len(traces) - MAX_TRACES)
    for number, trace in enumerate(traces[skipped:], start=skipped + 1):
        entries.append(TimelineEntry(None, f"attempt {number} failed", _last_line(trace)))
    if job.stalled_counter:
        entries.append(TimelineEntry(None, "stalled", f"{job.stalled_counter} time(s)"))
    if job.processed_on:
        entries.append(
            TimelineEntry(
                ms_to_datetime(job.processed_on),
                f"attempt {max(job.attempts_started, 1)} started",
                f"by {clip(job.processed_by, NAME_CHARS)}" if job.processed_by else "",
            )
        )
    if job.finished_on:
        label = "failed" if job.failed_reason and job.return_value is None else "finished"
        took = format_duration(job.finished_on - job.processed_on) if job.processed_on else ""
        entries.append(TimelineEntry(ms_to_datetime(job.finished_on), label, took))
    return entries


def _last_line(trace: str) -> str:
    """The exception line of a stack trace (its last non-empty line)."""
    lines = [line for line in trace.splitlines() if line.strip()]
    return shorten(lines[-1] if lines else "", 200)


def _parent(connection: str, prefix: str, job: Job) -> JobRef | None:
    parent = job.parent if isinstance(job.parent, dict) else None
    if parent and parent.get("id") and parent.get("queueKey"):
        queue = parse_queue_key(str(parent["queueKey"]), prefix)
        key = f"{parent['queueKey']}:{parent['id']}"
        return JobRef(connection, queue or "", str(parent["id"]), known=queue is not None, key=key)
    if job.parent_key:
        parsed = parse_job_key(job.parent_key, prefix)
        if parsed:
            return JobRef(connection, parsed[0], parsed[1], key=job.parent_key)
        return JobRef(connection, "", "", known=False, key=job.parent_key)
    return None


def _refs(connection: str, prefix: str, keys: Iterable[str]) -> list[JobRef]:
    out = []
    for key in keys:
        parsed = parse_job_key(key, prefix)
        if parsed:
            out.append(JobRef(connection, parsed[0], parsed[1], key=key))
        else:
            out.append(JobRef(connection, "", "", known=False, key=key))
    return out


def _children(connection: str, prefix: str, job: Job) -> dict[str, list[JobRef]] | None:
    """Children by outcome when queuecore offers ``job.get_dependencies()`` (bounded there)."""
    getter = getattr(job, "get_dependencies", None)
    if getter is None:
        return None
    deps = getter()
    groups: dict[str, list[JobRef]] = {}
    for kind in ("unprocessed", "processed", "failed", "ignored"):
        keys = deps.get(kind) if isinstance(deps, dict) else getattr(deps, kind, None)
        if keys:
            groups[kind] = _refs(connection, prefix, list(keys))
    return groups


def job_detail(
    connection: str, name: str, job_id: str, raw_log_page: str | None, full: Iterable[str] = ()
) -> JobDetail | None:
    settings = conf.get_settings()
    conn = connections.connection_settings(connection)
    queue = connections.get_queue(connection, name)
    job = queue.get_job(job_id)
    if job is None:
        return None
    full = set(full)
    limit = settings.json_preview_chars

    def shown(field_name: str, value: Any) -> PrettyJson:
        return pretty_json(value, settings.json_full_chars if field_name in full else limit)

    text_limit = settings.text_preview_chars

    log_size = settings.log_page_size
    _, total_logs = queue.get_job_logs(job_id, 0, 0)
    log_page = make_page(raw_log_page, log_size, total_logs)
    logs: list[str] = []
    if total_logs:
        logs, _ = queue.get_job_logs(job_id, log_page.start, log_page.end, asc=True)
    traces = list(job.stacktrace or [])
    skipped = max(0, len(traces) - MAX_TRACES)
    state = job.get_state()
    return JobDetail(
        connection=connection,
        queue=name,
        row=job_row(job),
        state=state,
        data=shown("data", job.data),
        opts=shown("opts", job.opts),
        return_value=(
            shown("returnvalue", job.return_value)
            if state == "completed" or job.return_value is not None
            else None
        ),
        progress_json=pretty_json(job.progress, limit),
        failed_reason=clip(job.failed_reason, text_limit),
        stacktrace=[clip(str(t), text_limit) for t in traces[skipped:]],
        stacktraces_skipped=skipped,
        logs=[clip(line, text_limit) for line in logs],
        log_page=log_page,
        timeline=_timeline(job),
        parent=_parent(connection, conn.prefix, job),
        children=_children(connection, conn.prefix, job),
        scheduler_id=job.scheduler_id,
        processed_by=clip(job.processed_by, NAME_CHARS),
        stalled_counter=job.stalled_counter,
        attempts_started=job.attempts_started,
        full=frozenset(full),
    )


# -- workers, schedulers, redis ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WorkerRow:
    queue: str
    name: str
    addr: str
    age: str
    idle: str


def workers(connection: str, names: Iterable[str]) -> list[WorkerRow]:
    rows = []
    for name in names:
        for info in connections.get_queue(connection, name).get_workers():
            rows.append(
                WorkerRow(
                    queue=name,
                    name=str(info.get("name", "")),
                    addr=str(info.get("addr", "")),
                    age=format_duration(_seconds_ms(info.get("age"))),
                    idle=format_duration(_seconds_ms(info.get("idle"))),
                )
            )
    return rows


def _seconds_ms(raw: Any) -> int | None:
    try:
        return int(raw) * 1000
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True, slots=True)
class SchedulerRow:
    id: str
    name: str
    pattern: str
    every: str
    tz: str
    next_run: datetime | None
    iterations: str


def schedulers_supported(connection: str, name: str) -> bool:
    return hasattr(connections.get_queue(connection, name), "get_job_schedulers")


def _field(obj: Any, *names: str) -> Any:
    for n in names:
        value = obj.get(n) if isinstance(obj, dict) else getattr(obj, n, None)
        if value not in (None, ""):
            return value
    return None


def schedulers(connection: str, name: str, start: int, end: int) -> list[SchedulerRow] | None:
    """Job schedulers of a queue, or ``None`` while queuecore has no scheduler API."""
    queue = connections.get_queue(connection, name)
    getter = getattr(queue, "get_job_schedulers", None)
    if getter is None:
        return None
    rows = []
    for item in getter(start, end, True):
        next_ms = _field(item, "next", "next_run", "next_millis")
        rows.append(
            SchedulerRow(
                id=str(_field(item, "id", "key") or ""),
                name=str(_field(item, "name") or ""),
                pattern=str(_field(item, "pattern") or ""),
                every=format_duration(_field(item, "every")),
                tz=str(_field(item, "tz") or ""),
                next_run=ms_to_datetime(next_ms) if isinstance(next_ms, int | float) else None,
                iterations=str(_field(item, "iteration_count", "ic", "iterations") or ""),
            )
        )
    return rows


@dataclass(frozen=True, slots=True)
class RedisSummary:
    connection: str
    version: str = ""
    used_memory: str = ""
    maxmemory: str = ""
    maxmemory_policy: str = ""
    clients: str = ""
    uptime: str = ""
    mode: str = ""
    error: str = ""

    @property
    def policy_ok(self) -> bool:
        return self.maxmemory_policy == "noeviction"


def redis_summary(connection: str) -> RedisSummary:
    # Any queue object reaches the server; the name is never used to build a key here.
    queue = connections.get_queue(connection, "_")
    try:
        info = queue.redis_info()
    except READ_ERRORS as exc:
        return RedisSummary(connection=connection, error=_describe(exc))
    uptime = info.get("uptime_in_seconds")
    return RedisSummary(
        connection=connection,
        version=str(info.get("redis_version", "")),
        used_memory=str(info.get("used_memory_human", info.get("used_memory", ""))),
        maxmemory=str(info.get("maxmemory_human", info.get("maxmemory", ""))),
        maxmemory_policy=str(info.get("maxmemory_policy", "")),
        clients=str(info.get("connected_clients", "")),
        uptime=format_duration(int(uptime) * 1000)
        if isinstance(uptime, int)
        else str(uptime or ""),
        mode=str(info.get("redis_mode", "")),
    )


def ping(connection: str) -> str:
    """``""`` when the connection answers, else the reason."""
    try:
        connections.get_queue(connection, "_").redis_info()
    except READ_ERRORS as exc:
        return _describe(exc)
    return ""


def _describe(exc: Exception) -> str:
    """Exception class and message; the template escapes it."""
    return f"{type(exc).__name__}: {exc}"[:500]
