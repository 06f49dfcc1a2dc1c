"""Job options: Python names in, BullMQ 6's ``opts`` JSON out, validated before any write."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypedDict

from .backoff import Backoff, parse_backoff
from .errors import InvalidOptionsError
from .validation import int_between

MAX_PRIORITY = 2**21 - 1
_INT_RE = re.compile(r"^-?\d+$")


class KeepJobs(TypedDict, total=False):
    """``remove_on_complete`` / ``remove_on_fail`` as a dict: age in seconds, count, limit."""

    age: int
    count: int
    limit: int


RemoveOption = bool | int | KeepJobs


class JobOptionsDict(TypedDict, total=False):
    """Options accepted by ``Queue.add`` (and as queue-level ``default_job_options``)."""

    job_id: str
    priority: int
    delay: int | timedelta
    run_at: datetime
    attempts: int
    backoff: int | dict[str, Any] | Backoff
    lifo: bool
    remove_on_complete: RemoveOption
    remove_on_fail: RemoveOption
    stack_trace_limit: int
    keep_logs: int
    timestamp: int
    timeout: int
    deduplication: Deduplication
    parent: ParentRef
    fail_parent_on_failure: bool
    continue_parent_on_failure: bool
    ignore_dependency_on_failure: bool
    remove_dependency_on_failure: bool
    telemetry: TelemetryOptions


class TelemetryOptions(TypedDict, total=False):
    """BullMQ's per-job telemetry: ``metadata``, a trace context to store (as ``opts.tm``)
    instead of the adding span's; ``omit_context``: store none (``opts.omc``), so the job's
    processing starts a trace of its own."""

    metadata: str
    omit_context: bool


class Deduplication(TypedDict, total=False):
    """``id`` (required); ``ttl`` ms (else until the job finishes); ``extend`` the ttl on
    each duplicate; ``replace`` the owner while it is still delayed."""

    id: str
    ttl: int
    extend: bool
    replace: bool


class ParentRef(TypedDict, total=False):
    """The parent of a child job: its ``id`` and ``queue`` name (``prefix`` defaults to the
    child's)."""

    id: str
    queue: str
    prefix: str


# Failure policies of a child towards its parent: option name -> short key in opts/parent.
PARENT_POLICIES = {
    "fail_parent_on_failure": "fpof",
    "continue_parent_on_failure": "cpof",
    "ignore_dependency_on_failure": "idof",
    "remove_dependency_on_failure": "rdof",
}


_KNOWN = frozenset(JobOptionsDict.__annotations__)


def _bool(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise InvalidOptionsError(f"{name} must be True or False, got {type(value).__name__}")
    return value


def _keep(name: str, value: Any) -> bool | int | dict[str, int]:
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return int_between(name, value, 0)
    if isinstance(value, Mapping):
        unknown = set(value) - {"age", "count", "limit"}
        if unknown:
            raise InvalidOptionsError(f"{name} has unknown keys {sorted(unknown)}")
        return {k: int_between(f"{name}.{k}", v, 0) for k, v in value.items()}
    raise InvalidOptionsError(f"{name} must be True, a count or {{'age', 'count', 'limit'}}")


def _dedup(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping) or not isinstance(value.get("id"), str) or not value["id"]:
        raise InvalidOptionsError("deduplication needs {'id': a non-empty string, ...}")
    unknown = set(value) - {"id", "ttl", "extend", "replace"}
    if unknown:
        raise InvalidOptionsError(f"deduplication has unknown keys {sorted(unknown)}")
    if len(value["id"]) > 512 or any(ord(c) < 32 for c in value["id"]):
        raise InvalidOptionsError("deduplication id must be at most 512 printable characters")
    out: dict[str, Any] = {"id": value["id"]}
    if value.get("ttl") is not None:
        out["ttl"] = int_between("deduplication.ttl", value["ttl"], 1)
    for flag in ("extend", "replace"):
        if value.get(flag):
            out[flag] = _bool(f"deduplication.{flag}", value[flag])
    if out.get("extend") and out.get("replace"):
        raise InvalidOptionsError("deduplication: choose extend or replace, not both")
    return out


MAX_TELEMETRY_METADATA = 8192  # a trace context is tens of bytes; this bounds a mistake


def _telemetry(value: Any) -> dict[str, Any]:
    """``telemetry`` as BullMQ stores it: ``tm`` (the metadata) and ``omc`` (omit)."""
    if not isinstance(value, Mapping):
        raise InvalidOptionsError("telemetry must be {'metadata': str, 'omit_context': bool}")
    unknown = set(value) - {"metadata", "omit_context"}
    if unknown:
        raise InvalidOptionsError(f"telemetry has unknown keys {sorted(unknown)}")
    out: dict[str, Any] = {}
    metadata = value.get("metadata")
    if metadata is not None:
        if not isinstance(metadata, str) or len(metadata) > MAX_TELEMETRY_METADATA:
            raise InvalidOptionsError(
                f"telemetry.metadata must be a string of at most {MAX_TELEMETRY_METADATA}"
                " characters")
        out["tm"] = metadata
    if _bool("telemetry.omit_context", value.get("omit_context", False)):
        out["omc"] = True
    return out


def _parent(value: Any) -> dict[str, str]:
    from .keys import validate_prefix, validate_queue_name

    if not isinstance(value, Mapping) or not value.get("id") or not value.get("queue"):
        raise InvalidOptionsError("parent needs {'id': ..., 'queue': ...}")
    unknown = set(value) - {"id", "queue", "prefix"}
    if unknown:
        raise InvalidOptionsError(f"parent has unknown keys {sorted(unknown)}")
    try:
        out = {"id": str(value["id"]), "queue": validate_queue_name(str(value["queue"]))}
        if value.get("prefix") is not None:
            out["prefix"] = validate_prefix(str(value["prefix"]))
    except ValueError as exc:
        raise InvalidOptionsError(f"parent: {exc}") from exc
    return out


def validate_job_id(job_id: Any) -> str:
    if not isinstance(job_id, str) or not job_id:
        raise InvalidOptionsError("job_id must be a non-empty string")
    if len(job_id) > 512:
        raise InvalidOptionsError("job_id must be at most 512 characters")
    if _INT_RE.match(job_id):
        raise InvalidOptionsError("custom job ids cannot be integers (they collide with auto ids)")
    if ":" in job_id and len(job_id.split(":")) != 3:
        raise InvalidOptionsError("custom job ids may contain ':' only as exactly three parts")
    if any(ord(c) < 32 for c in job_id):
        raise InvalidOptionsError("job_id may not contain control characters")
    return job_id


def _delay_ms(value: Any) -> int:
    if isinstance(value, timedelta):
        value = int(value.total_seconds() * 1000)
    return int_between("delay", value, 0)


@dataclass(frozen=True, slots=True)
class JobOptions:
    """Validated options of one job."""

    job_id: str | None = None
    priority: int = 0
    delay: int = 0
    attempts: int = 0
    backoff: Backoff | None = None
    lifo: bool = False
    remove_on_complete: bool | int | dict[str, int] | None = None
    remove_on_fail: bool | int | dict[str, int] | None = None
    stack_trace_limit: int | None = None
    keep_logs: int | None = None
    timestamp: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The ``opts`` object stored in the job hash, with BullMQ's key names."""
        out: dict[str, Any] = {"attempts": self.attempts}  # as Node writes: attempts always
        if self.delay:
            out["delay"] = self.delay
        if self.priority:
            out["priority"] = self.priority
        if self.job_id is not None:
            out["jobId"] = self.job_id
        if self.backoff is not None:
            out["backoff"] = self.backoff.to_json()
        if self.lifo:
            out["lifo"] = True
        if self.remove_on_complete is not None:
            out["removeOnComplete"] = self.remove_on_complete
        if self.remove_on_fail is not None:
            out["removeOnFail"] = self.remove_on_fail
        if self.stack_trace_limit is not None:
            out["stackTraceLimit"] = self.stack_trace_limit
        if self.keep_logs is not None:
            out["kl"] = self.keep_logs
        out.update(self.extra)
        return out


def validate_job_options(options: Mapping[str, Any]) -> None:
    """Raise ``InvalidOptionsError`` when ``Queue.add`` would refuse ``options`` (checked
    before any write: an import's dry run, a form)."""
    try:
        build_options(None, options, now_ms=0)
    except (ValueError, TypeError, OverflowError) as exc:
        if isinstance(exc, InvalidOptionsError):
            raise
        raise InvalidOptionsError(str(exc)) from exc


def build_options(
    defaults: Mapping[str, Any] | None, options: Mapping[str, Any], *, now_ms: int
) -> JobOptions:
    """Merge queue defaults with per-job options and validate everything."""
    merged: dict[str, Any] = {**(defaults or {}), **options}
    unknown = set(merged) - _KNOWN
    if unknown:
        raise InvalidOptionsError(f"unknown job options: {sorted(unknown)}")
    if "delay" in options and "run_at" in options:
        raise InvalidOptionsError("give delay or run_at, not both")
    timestamp = int_between("timestamp", merged["timestamp"], 0) \
        if merged.get("timestamp") is not None else None
    delay = 0
    if merged.get("run_at") is not None and "delay" not in options:
        run_at = merged["run_at"]
        if not isinstance(run_at, datetime) or run_at.tzinfo is None:
            raise InvalidOptionsError("run_at must be a timezone-aware datetime")
        due = int(run_at.astimezone(UTC).timestamp() * 1000)
        if due < now_ms:
            raise InvalidOptionsError(f"run_at {run_at.isoformat()} is in the past")
        # The due time is timestamp + delay, so count the delay from the job's timestamp.
        delay = due - (timestamp if timestamp is not None else now_ms)
        if delay < 0:
            raise InvalidOptionsError("run_at is before the job's timestamp")
    elif merged.get("delay") is not None:
        delay = _delay_ms(merged["delay"])
    job_id = merged.get("job_id")
    try:
        backoff = parse_backoff(merged.get("backoff"))
    except (ValueError, TypeError, OverflowError) as exc:
        raise InvalidOptionsError(f"backoff: {exc}") from exc
    extra: dict[str, Any] = {}
    if merged.get("timeout") is not None:
        extra["timeout"] = int_between("timeout", merged["timeout"], 1)
    dedup = _dedup(merged.get("deduplication"))
    if dedup is not None:
        extra["de"] = dedup
    policies = [short for name, short in PARENT_POLICIES.items()
                if _bool(name, merged.get(name, False))]
    if len(policies) > 1:
        raise InvalidOptionsError("choose at most one of " + ", ".join(PARENT_POLICIES))
    for short in policies:
        extra[short] = True
    parent = merged.get("parent")
    if parent is not None:
        extra["parent"] = _parent(parent)
    if merged.get("telemetry") is not None:
        extra.update(_telemetry(merged["telemetry"]))
    opts = JobOptions(
        extra=extra,
        job_id=validate_job_id(job_id) if job_id is not None else None,
        priority=int_between("priority", merged.get("priority") or 0, 0, MAX_PRIORITY),
        delay=delay,
        attempts=int_between("attempts", merged.get("attempts", 0), 0),
        backoff=backoff,
        lifo=_bool("lifo", merged.get("lifo", False)),
        remove_on_complete=_keep("remove_on_complete", merged["remove_on_complete"])
        if merged.get("remove_on_complete") is not None else None,
        remove_on_fail=_keep("remove_on_fail", merged["remove_on_fail"])
        if merged.get("remove_on_fail") is not None else None,
        stack_trace_limit=int_between("stack_trace_limit", merged["stack_trace_limit"], 0)
        if merged.get("stack_trace_limit") is not None else None,
        keep_logs=int_between("keep_logs", merged["keep_logs"], 0)
        if merged.get("keep_logs") is not None else None,
        timestamp=timestamp,
    )
    return opts


def keep_jobs(value: Any) -> tuple[int, int, int]:
    """(count, age seconds, limit) for the finish script from a stored remove option.

    count -1 keeps every job, 0 keeps none; age 0 means no age limit.
    """
    if value is None or value is False:
        return -1, 0, 0
    if value is True:
        return 0, 0, 0
    if isinstance(value, int):
        return max(value, 0), 0, 0
    if isinstance(value, dict):
        count = value.get("count")
        return (
            int(count) if isinstance(count, int) else -1,
            int(value.get("age") or 0),
            int(value.get("limit") or 0),
        )
    return -1, 0, 0
