"""The job page: fields (cut to the preview limits), logs, timeline, parent and children."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from dashboard import conf, connections
from dashboard.formatting import (
    PrettyJson,
    clip,
    parse_job_key,
    parse_queue_key,
    pretty_json,
)
from dashboard.jobtext import reason_with_type
from dashboard.jsontree import JsonTree, json_tree
from dashboard.pagination import Page, make_page
from dashboard.services.common import NAME_CHARS
from dashboard.services.flow_view import FlowView, flow_view
from dashboard.services.job_rows import JobRow
from dashboard.services.row_extras import rows_of
from dashboard.services.timeline import TimelineEntry, build_timeline
from queuecore import Dependencies, Job

#: The job page shows the newest ``MAX_TRACES`` stack traces (each cut to TEXT_PREVIEW_CHARS).
MAX_TRACES = 20


@dataclass(frozen=True, slots=True)
class JobRef:
    connection: str
    queue: str
    id: str
    known: bool = True  # False: the key is in another prefix, shown as text only
    key: str = ""


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
    children: dict[str, list[JobRef]]  # kind -> children; only the kinds that have some
    scheduler_id: str | None
    processed_by: str
    stalled_counter: int
    attempts_started: int
    full: frozenset[str] = frozenset()  # fields shown whole (up to JSON_FULL_CHARS)
    trees: dict[str, JsonTree] = field(default_factory=dict)  # data, opts, returnvalue
    flow: FlowView | None = None  # parents up to the root and the job's children's tree


def _parent(connection: str, prefix: str, job: Job) -> JobRef | None:
    parent = job.parent  # untrusted JSON object: its values may be of any type
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


def _children(connection: str, prefix: str, deps: Dependencies) -> dict[str, list[JobRef]]:
    """Children by kind: still pending, completed (with a result), and failed without
    failing the parent (the ``failed`` hash of ignore/continue policies)."""
    kinds: tuple[tuple[str, Iterable[str]], ...] = (
        ("unprocessed", deps.unprocessed),
        ("processed", deps.processed),
        ("failed", deps.failed),
    )
    return {kind: _refs(connection, prefix, keys) for kind, keys in kinds if keys}


def job_detail(
    connection: str, name: str, job_id: str, raw_log_page: str | None, full: Iterable[str] = ()
) -> JobDetail | None:
    settings = conf.get_settings()
    conn = connections.connection_settings(connection)
    queue = connections.get_queue(connection, name)
    job = queue.get_job(job_id)
    if job is None:
        return None
    shown_whole = set(full)
    limit = settings.json_preview_chars

    def budget(field_name: str) -> int:
        return settings.json_full_chars if field_name in shown_whole else limit

    def shown(field_name: str, value: Any) -> PrettyJson:
        return pretty_json(value, budget(field_name))

    text_limit = settings.text_preview_chars

    log_size = settings.log_page_size
    _, total_logs = queue.get_job_logs(job_id, 0, 0)
    log_page = make_page(raw_log_page, log_size, total_logs)
    logs: list[str] = []
    if total_logs:
        logs, _ = queue.get_job_logs(job_id, log_page.start, log_page.end, asc=True)
    traces = job.stacktrace
    skipped = max(0, len(traces) - MAX_TRACES)
    state = job.get_state()
    return JobDetail(
        connection=connection,
        queue=name,
        row=rows_of(queue, [job], state)[0],
        state=state,
        data=shown("data", job.data),
        opts=shown("opts", job.opts),
        return_value=(
            shown("returnvalue", job.return_value)
            if state == "completed" or job.return_value is not None
            else None
        ),
        progress_json=pretty_json(job.progress, limit),
        failed_reason=clip(reason_with_type(job.failed_reason, traces), text_limit),
        stacktrace=[clip(t, text_limit) for t in traces[skipped:]],
        stacktraces_skipped=skipped,
        logs=[clip(line, text_limit) for line in logs],
        log_page=log_page,
        timeline=build_timeline(job, MAX_TRACES),
        parent=_parent(connection, conn.prefix, job),
        children=_children(connection, conn.prefix, job.get_dependencies()),
        scheduler_id=job.scheduler_id,
        processed_by=clip(job.processed_by, NAME_CHARS),
        stalled_counter=job.stalled_counter,
        attempts_started=job.attempts_started,
        full=frozenset(shown_whole),
        flow=flow_view(connection, job),
        trees={
            name: json_tree(value, budget(name))
            for name, value in (("data", job.data), ("opts", job.opts),
                                ("returnvalue", job.return_value))
        },
    )
