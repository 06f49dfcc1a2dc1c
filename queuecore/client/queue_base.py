"""What ``Queue`` and ``AsyncQueue`` share: validation and building ops, no I/O."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any, NotRequired, TypedDict

import redis

from ..base.clock import now_ms
from ..base.emitter import Emitter, Listener
from ..base.errors import InvalidOptionsError
from ..base.jsonutil import DEFAULT_MAX_DATA_SIZE, dumps, dumps_data
from ..base.keys import ALL_STATES, QueueKeys
from ..base.options import JobOptions, JobOptionsDict, build_options
from ..base.telemetry import Span, Telemetry, with_trace_context
from ..commands import add_records, ops, schedulers
from ..commands.op import Arg, Op
from ..commands.schedulers import UpsertReply
from ..transport import cluster
from ..transport.connection import ConnectionLike, describe
from ..transport.errors import wrap

MAX_NAME_LENGTH = 1024
#: What a Queue emits locally (for its own calls), as BullMQ's Queue does: ``waiting``
#: (job) after ``add``, ``paused`` and ``resumed``, ``removed`` (job id), ``cleaned`` (ids,
#: state) after each batch of ``clean``.
QUEUE_EVENTS = frozenset({"waiting", "paused", "resumed", "removed", "cleaned"})
CLEAN_BATCH = 1000


class BulkJob(TypedDict):
    """One entry of ``add_bulk``."""

    name: str
    data: Any
    opts: NotRequired[JobOptionsDict]


class PreparedAdd:
    """One job validated for add_jobs: its record (``ops.add_record``) and what the job
    object returned for it is built from."""

    __slots__ = ("data", "name", "opts", "record", "template", "timestamp")

    def __init__(self, record: tuple[Arg, ...], name: str, data: Any, opts: JobOptions,
                 timestamp: int, template: dict[str, Any] | None) -> None:
        self.record = record
        self.name = name
        self.data = data
        self.opts = opts
        self.timestamp = timestamp
        self.template = template  # opts.to_json() when a shallow copy of it is as good

    def opts_json(self) -> dict[str, Any]:
        """The job's ``opts`` as stored: a dict of its own (the caller may change it)."""
        template = self.template
        return template.copy() if template is not None else self.opts.to_json()


class _Plain:
    """The options of an add given none (only the queue's defaults), validated once."""

    __slots__ = ("json", "opts", "plain", "template")

    def __init__(self, opts: JobOptions) -> None:
        self.opts = opts
        as_json = opts.to_json()
        self.json = dumps(as_json)
        self.plain = add_records.is_plain(opts)
        # to_json() builds nested values (backoff) afresh: copy it only when it has none.
        self.template = as_json if all(v is None or v.__class__ in _SCALARS
                                       for v in as_json.values()) else None


_SCALARS = frozenset({str, int, float, bool})


class QueueBase:
    def __init__(
        self,
        name: str,
        connection: ConnectionLike = None,
        *,
        prefix: str = "bull",
        default_job_options: JobOptionsDict | None = None,
        max_data_size: int | None = DEFAULT_MAX_DATA_SIZE,
        socket_timeout: float | None = 1.5,
        telemetry: Telemetry | None = None,
    ) -> None:
        self.keys = QueueKeys.of(name, prefix)
        self._add_keys = ops.add_job_keys(self.keys)  # the same for every add
        self._add_base = self.keys.base
        self.name = name
        self.prefix = prefix
        self.connection = connection
        # In Cluster: where this queue's slot is served (followed after MOVED and failovers).
        self.route = self._route_for(connection)
        if max_data_size is not None and max_data_size <= 0:
            raise InvalidOptionsError("max_data_size must be positive or None")
        self.max_data_size = max_data_size
        # Seconds to wait for a reply before raising (a frozen or unreachable Redis); the
        # connection's own socket_timeout, when it gives one, wins.
        self._client_defaults = {"socket_timeout": socket_timeout}
        # Read-only: plain adds reuse the options validated from it once.
        self.default_job_options: Mapping[str, Any] = MappingProxyType(
            dict(default_job_options or {}))
        self._plain: _Plain | None = None  # the options of an add given none
        # Validate the defaults once, now, so a bad default fails at construction.
        build_options(self.default_job_options, {}, now_ms=now_ms())
        #: Spans for add and add_bulk, their trace context stored in each job (None: none).
        self.telemetry = telemetry
        self._emitter = Emitter(QUEUE_EVENTS)
        # Internal hook: a worker's queue is told when a job moved itself on (its lock went).
        self.on_job_moved: Callable[[str], None] | None = None

    # ``on``/``off`` do no I/O: properties, so that both faces share them as they are.
    @property
    def on(self) -> Callable[[str, Listener], Listener]:
        """``queue.on("waiting", fn)``: listen to what this Queue object does (``waiting``,
        ``paused``, ``resumed``, ``removed``, ``cleaned``), as BullMQ's Queue emits locally;
        other processes' changes come through ``QueueEvents``."""
        return self._emitter.on

    @property
    def off(self) -> Callable[[str, Listener], None]:
        """``queue.off(event, fn)``: stop listening."""
        return self._emitter.off

    @property
    def resolved_connection(self) -> Any:
        """Outside Cluster the connection as given; in Cluster, the options of the master
        of this queue's slot (as last found)."""
        return self.connection if self.route is None else self.route.connection()

    def _route_for(self, connection: ConnectionLike) -> cluster.SlotRoute | None:
        try:  # in Cluster, CLUSTER SLOTS asked straight from redis-py: its errors become ours
            return cluster.route_for(connection, self.keys.base)
        except redis.RedisError as exc:
            raise wrap(exc) from exc

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.prefix}:{self.name} on {describe(self.connection)}>"

    def _prepare_add(self, name: str, data: Any, options: Mapping[str, Any]) -> PreparedAdd:
        if not isinstance(name, str):
            raise InvalidOptionsError("job name must be a string")
        if len(name) > MAX_NAME_LENGTH:
            raise InvalidOptionsError(f"job name must be at most {MAX_NAME_LENGTH} characters")
        now = now_ms()
        plain = self._plain
        if options or plain is None:
            opts = build_options(self.default_job_options, options, now_ms=now)
            if not options and not {"run_at", "timestamp"} & set(self.default_job_options):
                self._plain = _Plain(opts)  # the same for every add given no options
            opts_json, template, short = dumps(opts.to_json()), None, add_records.is_plain(opts)
        else:
            opts, opts_json, template, short = plain.opts, plain.json, plain.template, \
                plain.plain
        data_json = dumps_data(data, self.max_data_size)
        timestamp = opts.timestamp if opts.timestamp is not None else now
        if short:  # ops.add_record's plain record, inline: the hot path of every add
            record: tuple[Arg, ...] = ("p", opts.job_id or "", name, str(timestamp),
                                       data_json, opts_json)
        else:
            record = add_records.add_record(self.keys, name, data_json, opts, timestamp, opts_json,
                                    False)
        return PreparedAdd(record, name, data, opts, timestamp, template)

    def _add_op(self, records: Sequence[tuple[Arg, ...]]) -> Op[list[tuple[str, int]]]:
        return add_records.add_jobs_call(self._add_base, self._add_keys, records)

    def _repeat_op(self, name: str, data: Any, repeat: Mapping[str, Any],
                   options: Mapping[str, Any]) -> Op[UpsertReply]:
        """``add(..., repeat=...)``: the upsert of the scheduler it stands for."""
        return schedulers.upsert_from_add(self.keys, name, data, repeat, options,
                                          self.default_job_options, now_ms(),
                                          self.max_data_size)

    def _prepare_bulk(self, jobs: Sequence[BulkJob]) -> list[PreparedAdd]:
        prepared = []
        prepare = self._prepare_add
        for i, entry in enumerate(jobs):
            # a dict is a Mapping: skip the ABC check (slow) for the usual entry
            if (entry.__class__ is not dict and not isinstance(entry, Mapping)) or \
                    "name" not in entry:
                raise InvalidOptionsError(f"add_bulk entry {i} needs a name, data and opts")
            prepared.append(prepare(entry["name"], entry.get("data"), entry.get("opts") or {}))
        return prepared

    def _traced_options(self, options: Mapping[str, Any], span: Span) -> Mapping[str, Any]:
        """The options of a job added in ``span``: with its trace context."""
        given = options.get("telemetry", self.default_job_options.get("telemetry"))
        return with_trace_context(options, given, span)

    def _traced_entry(self, entry: Any, span: Span) -> Any:
        """An ``add_bulk`` entry added in ``span``: with its trace context."""
        if not isinstance(entry, Mapping):
            return entry  # left to _prepare_bulk, which names the mistake
        opts = self._traced_options(entry.get("opts") or {}, span)
        return {**entry, "opts": opts}

    @staticmethod
    def _states(states: Sequence[str] | str | None) -> tuple[str, ...]:
        if states is None:
            return ALL_STATES
        if isinstance(states, str):
            return (states,)
        return tuple(states)

    @staticmethod
    def _check_range(start: int, end: int) -> None:
        if start < 0 or (end < -1) or (end >= 0 and end < start):
            raise InvalidOptionsError("start must be >= 0 and end >= start (or -1 for all)")
