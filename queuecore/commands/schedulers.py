"""Job schedulers (repeatable jobs) in BullMQ 6's format: ops for ``Queue``/``AsyncQueue`` and
for the worker's hook that creates each next run (queuecore/worker/scheduling.py).

A scheduler lives in the ``repeat`` zset (id -> next run, ms) and the ``repeat:<id>`` hash.
Its runs are ordinary jobs with the id ``repeat:<id>:<dueMillis>`` and ``rjk`` = id; the run
after the current one is created when a worker fetches the current one (``schedule_next``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypedDict

from ..base.errors import InvalidOptionsError
from ..base.jsonutil import DEFAULT_MAX_DATA_SIZE, dumps, dumps_data, loads
from ..base.keys import QueueKeys
from ..base.options import build_options
from .op import Op, checked, raw, script, single
from .schedule import Schedule, every_offset, first_run, make_schedule

MAX_SCHEDULER_ID_LENGTH = 512
# Options a template may not carry: they belong to each run, not to the scheduler.
_RUN_ONLY = frozenset({"job_id", "delay", "run_at", "timestamp", "repeat", "deduplication",
                       "parent"})
#: Tries of the next run when an old run holds its id (the slot after it each time).
BUSY_RETRIES = 32


class RepeatOptions(TypedDict, total=False):
    """``Queue.add(..., repeat=...)``: ``every`` (ms) or a cron ``pattern`` (seconds field
    first when 6 fields) in ``tz``; ``key`` names the scheduler (else BullMQ 5's derived id)."""

    every: int
    pattern: str
    tz: str
    start_date: datetime | int
    end_date: datetime | int
    limit: int
    offset: int
    immediately: bool
    key: str


@dataclass(frozen=True, slots=True)
class JobScheduler:
    """A scheduler as stored. ``next`` is the due time (ms) of its latest run; ``template``
    holds the ``data`` and ``opts`` (BullMQ's option names) every run gets."""

    id: str
    name: str
    next: int | None
    every: int | None = None
    pattern: str | None = None
    tz: str | None = None
    iteration_count: int = 0
    limit: int | None = None
    start_date: int | None = None
    end_date: int | None = None
    offset: int | None = None
    template: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_hash(cls, scheduler_id: str, next_ms: Any, h: Mapping[str, str]) -> JobScheduler:
        template: dict[str, Any] = {}
        if h.get("data"):
            template["data"] = loads(h["data"])
        if h.get("opts"):
            template["opts"] = loads(h["opts"])
        return cls(
            id=scheduler_id, name=h.get("name", ""),
            next=_int(next_ms), every=_int(h.get("every")), pattern=h.get("pattern") or None,
            tz=h.get("tz") or None, iteration_count=_int(h.get("ic")) or 0,
            limit=_int(h.get("limit")), start_date=_int(h.get("startDate")),
            end_date=_int(h.get("endDate")), offset=_int(h.get("offset")), template=template,
        )

    def schedule(self) -> Schedule:
        """The timing rules, for computing runs (no validation: peers wrote it)."""
        return Schedule(every=self.every, pattern=self.pattern if self.every is None else None,
                        tz=self.tz, start_date=self.start_date, end_date=self.end_date,
                        limit=self.limit)


def _int(value: Any) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return None


def _fields(reply: Any) -> dict[str, str]:
    if isinstance(reply, dict):
        return reply
    return dict(zip(reply[::2], reply[1::2], strict=True)) if reply else {}


def _keys(keys: QueueKeys) -> list[str]:
    return [keys.repeat, keys.delayed, keys.wait, keys.prioritized, keys.pc, keys.meta,
            keys.events, keys.marker, keys.active, keys.id]


def check_scheduler_id(scheduler_id: Any) -> str:
    if not isinstance(scheduler_id, str) or not scheduler_id:
        raise InvalidOptionsError("scheduler_id must be a non-empty string")
    if len(scheduler_id) > MAX_SCHEDULER_ID_LENGTH:
        raise InvalidOptionsError(
            f"scheduler_id must be at most {MAX_SCHEDULER_ID_LENGTH} characters")
    if any(ord(c) < 32 for c in scheduler_id):
        raise InvalidOptionsError("scheduler_id may not contain control characters")
    return scheduler_id


def _ms_text(value: int | None) -> str:
    return "" if value is None else str(value)


def _opts_head(template_opts: Mapping[str, Any], scheduler_id: str, schedule: Schedule,
               offset: int | None, now: int) -> str:
    """The run's ``opts`` JSON up to its repeat count (the script adds the count, jobId, delay
    and prevMillis). Node's worker reads ``repeat``, ``prevMillis`` and ``repeatJobKey``."""
    repeat: dict[str, Any] = {}
    if schedule.every is not None:
        repeat["every"] = schedule.every
        if offset is not None:
            repeat["offset"] = offset
    else:
        repeat["pattern"] = schedule.pattern
    for key, value in (("tz", schedule.tz), ("limit", schedule.limit),
                       ("startDate", schedule.start_date), ("endDate", schedule.end_date)):
        if value is not None:
            repeat[key] = value
    base = {k: v for k, v in template_opts.items()
            if k not in ("repeat", "jobId", "delay", "prevMillis", "repeatJobKey", "timestamp")}
    base.update(repeatJobKey=scheduler_id, timestamp=now)
    return dumps(base)[:-1] + ',"repeat":' + dumps(repeat)[:-1] + ',"count":'


def _template_opts(opts: Mapping[str, Any] | None) -> dict[str, Any]:
    """Validated template options (Python names in), BullMQ's ``opts`` JSON object out."""
    if not opts:
        return {}
    if not isinstance(opts, Mapping):
        raise InvalidOptionsError("opts must be a dict of job options")
    bad = _RUN_ONLY & set(opts)
    if bad:
        raise InvalidOptionsError(f"a scheduler's template cannot set {sorted(bad)}")
    out = build_options(None, opts, now_ms=0).to_json()
    out.pop("delay", None)
    if not out.get("attempts"):
        out.pop("attempts", None)
    return out


def _priority_lifo(template: Mapping[str, Any]) -> tuple[int, str]:
    priority = template.get("priority")
    return (priority if isinstance(priority, int) and priority > 0 else 0,
            "1" if template.get("lifo") is True else "0")


# -- ops --------------------------------------------------------------------------------------


UpsertReply = tuple[str, dict[str, str]] | None


def upsert(keys: QueueKeys, scheduler_id: str, now: int, *, every: Any = None,
           pattern: Any = None, tz: Any = None, start_date: datetime | int | None = None,
           end_date: datetime | int | None = None, limit: Any = None, offset: Any = None,
           immediately: Any = False, name: Any = None, data: Any = None,
           opts: Mapping[str, Any] | None = None,
           max_data_size: int | None = DEFAULT_MAX_DATA_SIZE) -> Op[UpsertReply]:
    """Validate everything, then one script call; the reply is (job id, job hash) of the
    pending next run, or None when there is none."""
    check_scheduler_id(scheduler_id)
    schedule = make_schedule(every=every, pattern=pattern, tz=tz, start_date=start_date,
                             end_date=end_date, limit=limit, offset=offset,
                             immediately=immediately)
    if schedule.end_date is not None and schedule.end_date <= now:
        raise InvalidOptionsError("end_date must be in the future")
    job_name = scheduler_id if name is None else name
    if not isinstance(job_name, str):
        raise InvalidOptionsError("name must be a string")
    data_json = dumps_data({} if data is None else data, max_data_size)
    template = _template_opts(opts)
    first = first_run(schedule, now)
    derived = every_offset(schedule, first) if schedule.every is not None and first else 0
    stored_offset = schedule.offset if schedule.every is not None else None
    head = _opts_head(template, scheduler_id, schedule,
                      stored_offset if stored_offset is not None else
                      (derived if schedule.every is not None else None), now)
    priority, lifo = _priority_lifo(template)
    return single(
        script("upsert_job_scheduler", _keys(keys), [
            keys.base, scheduler_id, now, _ms_text(first), job_name, data_json, head,
            priority, lifo, dumps(template) if template else "", schedule.tz or "",
            _ms_text(schedule.limit), schedule.pattern or "", _ms_text(schedule.start_date),
            _ms_text(schedule.end_date), _ms_text(schedule.every), _ms_text(stored_offset),
            derived]),
        _decode_upsert(scheduler_id),
    )


def _decode_upsert(scheduler_id: str) -> Any:
    def decode(reply: Any) -> UpsertReply:
        reply = checked("upsert_job_scheduler", scheduler_id)(reply)
        job_id, _status, fields = reply
        return (str(job_id), _fields(fields)) if job_id else None

    return decode


def repeat_scheduler_id(name: str, repeat: Mapping[str, Any], job_id: str | None) -> str:
    """The id BullMQ 5 gave a scheduler made by ``add(..., repeat=...)``: ``repeat["key"]``,
    else the MD5 of ``name:jobId:endDate:tz:pattern-or-every``. (BullMQ 6 dropped ``repeat``
    from ``add``; the id stays stable for queues that started on BullMQ 5.)"""
    if repeat.get("key"):
        return check_scheduler_id(repeat["key"])
    end = repeat.get("end_date")
    if isinstance(end, datetime):
        end = int(end.timestamp() * 1000)
    suffix = repeat.get("pattern") if repeat.get("pattern") is not None else repeat.get("every")
    text = f"{name}:{job_id or ''}:{'' if end is None else end}:{repeat.get('tz') or ''}:{suffix}"
    return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest()


_REPEAT_KEYS = frozenset({"every", "pattern", "tz", "start_date", "end_date", "limit", "offset",
                          "immediately", "key"})


def upsert_from_add(keys: QueueKeys, name: str, data: Any, repeat: Mapping[str, Any],
                    options: Mapping[str, Any], defaults: Mapping[str, Any], now: int,
                    max_data_size: int | None) -> Op[UpsertReply]:
    """``add(name, data, repeat={...}, **opts)``: upsert the scheduler BullMQ 5 would have."""
    if not isinstance(repeat, Mapping):
        raise InvalidOptionsError("repeat must be a dict such as {'every': 60000}")
    unknown = set(repeat) - _REPEAT_KEYS
    if unknown:
        raise InvalidOptionsError(f"unknown repeat options: {sorted(unknown)}")
    if not isinstance(name, str):
        raise InvalidOptionsError("job name must be a string")
    job_id = options.get("job_id")
    rest = {k: v for k, v in {**defaults, **options}.items() if k not in _RUN_ONLY}
    scheduler_id = repeat_scheduler_id(name, repeat, job_id)
    timing = {k: v for k, v in repeat.items() if k != "key"}
    return upsert(keys, scheduler_id, now, name=name, data=data, opts=rest,
                  max_data_size=max_data_size, **timing)


def get_schedulers(keys: QueueKeys, start: int = 0, end: int = -1,
                   asc: bool = False) -> Op[list[JobScheduler]]:
    return single(
        script("get_job_schedulers", [keys.repeat], [start, end, "1" if asc else "0", ""]),
        _decode_schedulers)


def get_scheduler(keys: QueueKeys, scheduler_id: str) -> Op[JobScheduler | None]:
    check_scheduler_id(scheduler_id)
    return single(script("get_job_schedulers", [keys.repeat], [0, 0, "1", scheduler_id]),
                  lambda r: next(iter(_decode_schedulers(r)), None))


def _decode_schedulers(reply: Any) -> list[JobScheduler]:
    return [JobScheduler.from_hash(str(reply[i]), reply[i + 1], _fields(reply[i + 2]))
            for i in range(0, len(reply), 3)]


def remove(keys: QueueKeys, scheduler_id: str) -> Op[bool]:
    check_scheduler_id(scheduler_id)
    return single(script("remove_job_scheduler", _keys(keys), [keys.base, scheduler_id]),
                  lambda r: bool(int(r)))


def count(keys: QueueKeys) -> Op[int]:
    return single(raw("ZCARD", keys.repeat), int)


# -- for the worker's hook (queuecore/worker/scheduling.py) ---------------------------------


def run_due(scheduler_id: str, job_id: str, opts: Mapping[str, Any]) -> int | None:
    """The due time of a scheduler's run: the tail of ``repeat:<id>:<due>``, else
    ``opts.prevMillis``."""
    prefix = f"repeat:{scheduler_id}:"
    if job_id.startswith(prefix):
        tail = job_id[len(prefix):]
        if tail.isdigit():
            return int(tail)
    prev = opts.get("prevMillis")
    return prev if isinstance(prev, int) and not isinstance(prev, bool) else None


def next_job_op(keys: QueueKeys, scheduler: JobScheduler, current_due: int, next_due: int,
                now: int) -> Op[tuple[int, str]]:
    """The call that creates ``scheduler``'s run at ``next_due`` after the one at
    ``current_due``; the reply is (1, job id) or (0, reason)."""
    template_opts = scheduler.template.get("opts")
    template = template_opts if isinstance(template_opts, dict) else {}
    data = scheduler.template.get("data", {})
    head = _opts_head(template, scheduler.id, scheduler.schedule(), scheduler.offset, now)
    priority, lifo = _priority_lifo(template)
    return single(
        script("schedule_next_job", _keys(keys), [
            keys.base, scheduler.id, next_due, current_due, now, scheduler.name, dumps(data),
            head, priority, lifo]),
        lambda r: (int(r[0]), str(r[1])),
    )
