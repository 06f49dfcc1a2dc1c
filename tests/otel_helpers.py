"""OpenTelemetry for the tests: a real SDK tracer provider whose spans go to an in-memory
exporter (no global state: each test's provider is handed to its ``OTelTelemetry``)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from queuecore import OTelTelemetry


@dataclass
class Tracing:
    """A provider, its exporter, and the ``OTelTelemetry`` that uses them."""

    exporter: InMemorySpanExporter = field(default_factory=InMemorySpanExporter)
    provider: TracerProvider = field(default_factory=TracerProvider)
    telemetry: OTelTelemetry = field(init=False)

    def __post_init__(self) -> None:
        self.provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.telemetry = OTelTelemetry("queuecore-tests", tracer_provider=self.provider)

    @property
    def tracer(self) -> Any:
        """A tracer of the test's own ("the application")."""
        return self.provider.get_tracer("test-app")

    def spans(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())

    def named(self, name: str) -> list[ReadableSpan]:
        return [s for s in self.spans() if s.name == name]

    def one(self, name: str) -> ReadableSpan:
        found = self.named(name)
        assert len(found) == 1, (name, [s.name for s in self.spans()])
        return found[0]


def hex_ids(span: ReadableSpan) -> tuple[str, str]:
    """(trace id, span id) of ``span`` as W3C trace context writes them."""
    ctx = span.get_span_context()
    assert ctx is not None
    return f"{ctx.trace_id:032x}", f"{ctx.span_id:016x}"


def traceparent(span: ReadableSpan) -> str:
    """W3C ``traceparent`` of ``span`` (flags: sampled, and with recent SDKs "random")."""
    trace_id, span_id = hex_ids(span)
    ctx = span.get_span_context()
    assert ctx is not None
    return f"00-{trace_id}-{span_id}-{int(ctx.trace_flags):02x}"


def stored_context(opts_json: str) -> dict[str, Any]:
    """The carrier a job's stored opts hold in ``tm`` (BullMQ's form: JSON in a string)."""
    tm = json.loads(opts_json)["tm"]
    assert isinstance(tm, str)
    carrier = json.loads(tm)
    assert isinstance(carrier, dict)
    return carrier


def is_child_of(child: ReadableSpan, parent: ReadableSpan) -> bool:
    ctx = parent.get_span_context()
    return (child.parent is not None and ctx is not None
            and child.parent.span_id == ctx.span_id and child.parent.trace_id == ctx.trace_id)
