"""OpenTelemetry for queuecore: ``telemetry=OTelTelemetry()`` on a Queue, Worker or
FlowProducer (``pip install queuecore[otel]``, which brings ``opentelemetry-api``).

It does what Node's ``bullmq-otel`` does for BullMQ: spans from the tracer provider (the
global one unless given), and a job's trace context written and read with the propagator
(the global one unless given; OpenTelemetry's default is W3C trace context and baggage) as
JSON of its carrier, the form BullMQ stores in ``opts.tm``. So a trace runs on from a Node
producer into a queuecore worker and from a queuecore producer into a Node worker.

opentelemetry is imported when an ``OTelTelemetry`` is made, never by importing queuecore.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from ..base.jsonutil import dumps, loads
from ..base.telemetry import QUEUE_NAME, QUEUE_OPERATION, Attributes, SpanKind

if TYPE_CHECKING:
    from opentelemetry.context import Context
    from opentelemetry.propagators.textmap import TextMapPropagator
    from opentelemetry.trace import Span as OTelSpan
    from opentelemetry.trace import TracerProvider

#: Longest ``opts.tm`` read (job data is untrusted; a trace context is tens of bytes).
MAX_METADATA = 8192


class _Span:
    """queuecore's view of one OpenTelemetry span (``queuecore.base.telemetry.Span``)."""

    __slots__ = ("_owner", "_span")

    def __init__(self, owner: OTelTelemetry, span: OTelSpan) -> None:
        self._owner = owner
        self._span = span

    @property
    def otel_span(self) -> OTelSpan:
        """The OpenTelemetry span itself."""
        return self._span

    def set_attributes(self, attributes: Attributes) -> None:
        self._span.set_attributes(attributes)

    def add_event(self, name: str, attributes: Attributes | None = None) -> None:
        self._span.add_event(name, attributes)

    def metadata(self) -> str | None:
        return self._owner.metadata_of(self._span)


class OTelTelemetry:
    """The OpenTelemetry adapter (``queuecore.base.telemetry.Telemetry``).

    ``tracer_name`` and ``version`` name the tracer (BullMQ's adapter uses "bullmq");
    ``tracer_provider`` and ``propagator`` default to the global ones, looked up at each use
    as OpenTelemetry's API does, so a provider set up after this object is made is used.
    """

    def __init__(self, tracer_name: str = "queuecore", version: str | None = None, *,
                 tracer_provider: TracerProvider | None = None,
                 propagator: TextMapPropagator | None = None) -> None:
        try:
            from opentelemetry import context, propagate, trace
        except ImportError as exc:  # the optional extra is not installed
            raise ImportError("OTelTelemetry needs the opentelemetry-api package: "
                              "pip install 'queuecore[otel]'") from exc
        self._context = context
        self._propagate = propagate
        self._trace = trace
        self._propagator = propagator
        self._tracer = trace.get_tracer(tracer_name, version, tracer_provider=tracer_provider)
        self._kinds = {kind: trace.SpanKind(kind.value) for kind in SpanKind}

    def _textmap(self) -> TextMapPropagator:
        return self._propagator or self._propagate.get_global_textmap()

    def metadata_of(self, span: OTelSpan) -> str | None:
        """JSON of the carrier the propagator fills for a context holding ``span``."""
        carrier: dict[str, str] = {}
        self._textmap().inject(carrier, context=self._trace.set_span_in_context(span))
        return dumps(carrier) if carrier else None

    def context_of(self, metadata: Any) -> Context | None:
        """The context ``metadata`` (a job's ``opts.tm``) carries; None when it is not a JSON
        object of strings (job data is untrusted: such metadata is ignored, not raised)."""
        if not isinstance(metadata, str) or len(metadata) > MAX_METADATA:
            return None
        carrier = loads(metadata)
        if not isinstance(carrier, dict):
            return None
        fields = {k: v for k, v in carrier.items() if isinstance(k, str) and isinstance(v, str)}
        return self._textmap().extract(fields) if fields else None

    @contextmanager
    def span(self, kind: SpanKind, queue_name: str, operation: str, destination: str = "",
             parent_metadata: str | None = None) -> Iterator[_Span]:
        parent = self.context_of(parent_metadata) if parent_metadata is not None else None
        name = f"{operation} {destination}" if destination else operation
        span = self._tracer.start_span(
            name, context=parent, kind=self._kinds[kind],
            attributes={QUEUE_NAME: queue_name, QUEUE_OPERATION: operation})
        # A consumer's span runs in the producer's context (its baggage too), as BullMQ's;
        # any other span in the caller's.
        base = parent if kind is SpanKind.CONSUMER and parent is not None else None
        token = self._context.attach(self._trace.set_span_in_context(span, base))
        try:
            yield _Span(self, span)
        except Exception as exc:
            span.record_exception(exc)
            span.set_status(self._trace.Status(self._trace.StatusCode.ERROR, str(exc)))
            raise
        finally:
            self._context.detach(token)
            span.end()

    def current_span(self) -> _Span:
        return _Span(self, self._trace.get_current_span())
