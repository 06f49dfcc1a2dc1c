// Test-only: OpenTelemetry for the Node peer (bullmq-otel), loaded only by scenarios with
// "telemetry": true. Spans go to an in-memory exporter and come back in the peer's output.
//
// The W3C trace-context propagator is registered globally: bullmq-otel stores whatever the
// global propagator injects (JSON of the carrier) in the job's opts.tm, and without one the
// carrier stays empty.

import { propagation, trace } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { BullMQOtel } from 'bullmq-otel';

const KINDS = ['INTERNAL', 'SERVER', 'CLIENT', 'PRODUCER', 'CONSUMER'];

export function setupTelemetry(tracerName) {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({
    spanProcessors: [new SimpleSpanProcessor(exporter)],
  });
  trace.setGlobalTracerProvider(provider);
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  const telemetry = new BullMQOtel(tracerName);

  const spans = () =>
    exporter.getFinishedSpans().map((s) => ({
      name: s.name,
      kind: KINDS[s.kind] ?? String(s.kind),
      traceId: s.spanContext().traceId,
      spanId: s.spanContext().spanId,
      parentSpanId: s.parentSpanContext ? s.parentSpanContext.spanId : null,
      parentTraceId: s.parentSpanContext ? s.parentSpanContext.traceId : null,
      scope: s.instrumentationScope ? s.instrumentationScope.name : null,
      attributes: s.attributes,
      events: s.events.map((e) => ({ name: e.name, attributes: e.attributes ?? {} })),
      status: s.status,
    }));

  return { telemetry, spans, shutdown: () => provider.shutdown() };
}
