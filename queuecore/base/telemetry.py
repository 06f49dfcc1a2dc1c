"""Tracing hooks: what queuecore asks of a telemetry adapter, so that its core never imports
opentelemetry (``queuecore.observe.telemetry.OTelTelemetry`` is the OpenTelemetry one).

``Queue``, ``AsyncQueue``, ``Worker`` and ``FlowProducer`` take ``telemetry=`` (None: no
tracing, and no cost on their hot paths: the traced code paths are chosen once, at
construction). Span names, kinds and attribute names follow BullMQ's, so that traces look
alike across languages: ``add <queue>.<job name>`` (producer), ``process <queue>``
(consumer), ``complete``/``fail``/``retry``/``delay <queue>`` (internal).

The trace context travels in the job as BullMQ's telemetry stores it: ``opts.tm`` holds the
propagation metadata, a JSON object of the propagator's carrier (with W3C trace context:
``{"traceparent": "00-<trace id>-<span id>-<flags>"}``), and ``opts.omc`` (true) marks a job
added with ``omit_context``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from enum import IntEnum
from typing import Any, Protocol, TypeAlias

#: The opts keys of BullMQ's telemetry: the propagation metadata, and "omit the context".
METADATA_KEY = "tm"
OMIT_CONTEXT_KEY = "omc"

# BullMQ's attribute names (its TelemetryAttributes), those queuecore sets.
QUEUE_NAME = "bullmq.queue.name"
QUEUE_OPERATION = "bullmq.queue.operation"
JOB_NAME = "bullmq.job.name"
JOB_ID = "bullmq.job.id"
JOB_ATTEMPTS_MADE = "bullmq.job.attempts.made"
JOB_RESULT = "bullmq.job.result"
JOB_FAILED_REASON = "bullmq.job.failed.reason"
JOB_ATTEMPT_FINISHED_TIMESTAMP = "bullmq.job.attempt_finished_timestamp"
JOB_PROCESSED_TIMESTAMP = "bullmq.job.processed.timestamp"
BULK_COUNT = "bullmq.job.bulk.count"
BULK_NAMES = "bullmq.job.bulk.names"
WORKER_ID = "bullmq.worker.id"
WORKER_NAME = "bullmq.worker.name"
FLOW_NAME = "bullmq.flow.name"

AttributeValue: TypeAlias = str | bool | int | float | Sequence[str]
Attributes: TypeAlias = Mapping[str, AttributeValue]


class SpanKind(IntEnum):
    """The kinds of span, numbered as OpenTelemetry (and BullMQ) number them."""

    INTERNAL = 0
    SERVER = 1
    CLIENT = 2
    PRODUCER = 3
    CONSUMER = 4


class Span(Protocol):
    """A span queuecore has started (through ``Telemetry.span``)."""

    def set_attributes(self, attributes: Attributes) -> None: ...

    def add_event(self, name: str, attributes: Attributes | None = None) -> None: ...

    def metadata(self) -> str | None:
        """The propagation metadata of a context holding this span (the value stored as
        ``opts.tm``), or None when there is nothing to propagate (e.g. tracing is off)."""
        ...


class Telemetry(Protocol):
    """A telemetry adapter."""

    def span(self, kind: SpanKind, queue_name: str, operation: str, destination: str = "",
             parent_metadata: str | None = None) -> AbstractContextManager[Span]:
        """Start ``"<operation> <destination>"`` (``operation`` alone without a
        destination) as the current span for the ``with`` block, ending it after; an
        exception leaving the block is recorded on it. ``parent_metadata`` (a job's
        ``opts.tm``, untrusted) makes it a child of the context it carries; metadata that
        cannot be read is ignored (the span starts a trace of its own)."""
        ...

    def current_span(self) -> Span:
        """The span current here (one that records nothing when there is none)."""
        ...


def job_context(opts: Mapping[str, Any]) -> str | None:
    """The propagation metadata stored in a job's ``opts`` (None when absent or not text)."""
    value = opts.get(METADATA_KEY)
    return value if isinstance(value, str) else None


def with_trace_context(options: Mapping[str, Any], given: Any, span: Span) -> Mapping[str, Any]:
    """``options`` of a job added in ``span``, given the job's own ``telemetry`` option
    (``given``): its metadata becomes the span's unless the job gives its own or
    ``omit_context`` (as BullMQ's ``addBulk`` and flows do)."""
    if isinstance(given, Mapping) and (given.get("omit_context")
                                       or given.get("metadata") is not None):
        return options
    if given is not None and not isinstance(given, Mapping):
        return options  # left to the option check, which names the mistake
    metadata = span.metadata()
    if metadata is None:
        return options
    return {**options, "telemetry": {**(given or {}), "metadata": metadata}}
