"""A stored job as a portable record (an NDJSON line of an export) and back into the
options ``Queue.add`` takes: what export, import and copy/move share.

Options are mapped from BullMQ's stored names to queuecore's; links to other structures
(flow parents, schedulers, deduplication, trace context) are not carried over, since a copy
is a new, independent job."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from dashboard.search.matcher import attempts_of

#: Raw hash fields read for an exported or copied job.
EXPORT_FIELDS = ("name", "data", "opts", "timestamp", "processedOn", "finishedOn", "atm",
                 "attemptsMade", "failedReason", "returnvalue", "progress", "delay",
                 "priority")
#: BullMQ's stored option name -> queuecore's ``add`` option.
OPTION_NAMES = {
    "jobId": "job_id",
    "attempts": "attempts",
    "delay": "delay",
    "priority": "priority",
    "backoff": "backoff",
    "lifo": "lifo",
    "removeOnComplete": "remove_on_complete",
    "removeOnFail": "remove_on_fail",
    "stackTraceLimit": "stack_trace_limit",
    "kl": "keep_logs",
    "timeout": "timeout",
}


def _json(raw: str | None, default: Any = None) -> Any:
    """A stored JSON field; text that is not JSON is kept as text (never evaluated)."""
    if raw is None or raw == "":
        return default
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        return raw


def _int(raw: str | None) -> int | None:
    try:
        return int(float(raw)) if raw else None
    except ValueError:
        return None


def export_record(job_id: str, state: str, fields: Mapping[str, str],
                  logs: list[str] | None = None) -> dict[str, Any]:
    opts = _json(fields.get("opts"), {})
    record: dict[str, Any] = {
        "id": job_id,
        "name": fields.get("name", ""),
        "data": _json(fields.get("data"), {}),
        "opts": opts if isinstance(opts, dict) else {},
        "state": state,
        "timestamp": _int(fields.get("timestamp")),
        "processedOn": _int(fields.get("processedOn")),
        "finishedOn": _int(fields.get("finishedOn")),
        "attemptsMade": attempts_of(fields),
        "failedReason": fields.get("failedReason"),
        "returnvalue": _json(fields.get("returnvalue")),
        "progress": _json(fields.get("progress"), 0),
    }
    if logs is not None:
        record["logs"] = logs
    return record


def ndjson_line(record: Mapping[str, Any]) -> str:
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"


def add_options(opts: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """queuecore ``add`` options for stored BullMQ ``opts``, and the keys left out."""
    options: dict[str, Any] = {}
    dropped: list[str] = []
    for key, value in opts.items():
        name = OPTION_NAMES.get(key)
        if name is None or value is None:
            dropped.append(str(key))
        elif name == "delay" and not value:
            continue
        else:
            options[name] = value
    return options, dropped


def bulk_entry(fields: Mapping[str, str]) -> tuple[dict[str, Any], list[str]]:
    """An ``add_bulk`` entry repeating a stored job's name, data and options."""
    opts = _json(fields.get("opts"), {})
    options, dropped = add_options(opts if isinstance(opts, dict) else {})
    return {"name": fields.get("name", ""), "data": _json(fields.get("data"), {}),
            "opts": options}, dropped
