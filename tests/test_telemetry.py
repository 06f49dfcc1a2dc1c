"""Telemetry on the producer side (Queue, AsyncQueue), on a real redis-server, with the real
OpenTelemetry SDK: spans as BullMQ names them, the trace context stored as BullMQ stores it
(``opts.tm``), and no trace of telemetry when it is off."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from opentelemetry.trace import SpanKind

from queuecore import AsyncQueue, InvalidOptionsError, Queue, Worker
from queuecore.worker.finisher import Finisher
from queuecore.worker.job_runner import JobRunner
from queuecore.worker.threads import ContextThreadPool, DaemonThreadPool
from tests.otel_helpers import Tracing, hex_ids, is_child_of, stored_context, traceparent

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def tracing() -> Tracing:
    return Tracing()


def test_add_makes_a_producer_span_and_stores_its_context(redis_url: str, r, tracing: Tracing):
    with Queue("q", redis_url, telemetry=tracing.telemetry) as queue:
        job = queue.add("greet", {"who": "ada"})
    span = tracing.one("add q.greet")
    assert span.kind is SpanKind.PRODUCER
    assert dict(span.attributes or {}) == {
        "bullmq.queue.name": "q", "bullmq.queue.operation": "add",
        "bullmq.job.name": "greet", "bullmq.job.id": job.id}
    assert span.instrumentation_scope is not None
    assert span.instrumentation_scope.name == "queuecore-tests"
    raw = r.hget(f"bull:q:{job.id}", "opts")
    # BullMQ's form: opts.tm is a string holding JSON of the propagator's carrier.
    assert stored_context(raw) == {"traceparent": traceparent(span)}
    assert job.opts["tm"] == json.loads(raw)["tm"]


def test_add_inside_an_application_span_continues_its_trace(redis_url: str,
                                                             tracing: Tracing):
    with Queue("q", redis_url, telemetry=tracing.telemetry) as queue, \
            tracing.tracer.start_as_current_span("request"):
        queue.add("a")
    request, add = tracing.one("request"), tracing.one("add q.a")
    assert is_child_of(add, request)


async def test_async_queue_add_and_add_bulk(redis_url: str, r, tracing: Tracing):
    async with AsyncQueue("q", redis_url, telemetry=tracing.telemetry) as queue:
        one = await queue.add("one")
        bulk = await queue.add_bulk([{"name": "b1", "data": 1}, {"name": "b2", "data": 2}])
    add = tracing.one("add q.one")
    assert stored_context(r.hget(f"bull:q:{one.id}", "opts"))["traceparent"] == \
        traceparent(add)
    span = tracing.one("addBulk q")
    assert span.kind is SpanKind.PRODUCER
    assert span.attributes is not None
    assert tuple(span.attributes["bullmq.job.bulk.names"]) == ("b1", "b2")  # type: ignore[arg-type]
    assert span.attributes["bullmq.job.bulk.count"] == 2
    for job in bulk:
        carrier = stored_context(r.hget(f"bull:q:{job.id}", "opts"))
        assert carrier["traceparent"] == traceparent(span)


def test_sync_queue_add_bulk(redis_url: str, r, tracing: Tracing):
    with Queue("q", redis_url, telemetry=tracing.telemetry) as queue:
        [job] = queue.add_bulk([{"name": "b", "data": None}])
    span = tracing.one("addBulk q")
    assert stored_context(r.hget(f"bull:q:{job.id}", "opts"))["traceparent"] == \
        traceparent(span)


def test_omit_context_and_given_metadata(redis_url: str, r, tracing: Tracing):
    given = json.dumps({"traceparent": "00-" + "ab" * 16 + "-" + "cd" * 8 + "-01"})
    with Queue("q", redis_url, telemetry=tracing.telemetry) as queue:
        omitted = queue.add("o", telemetry={"omit_context": True})
        own = queue.add("m", telemetry={"metadata": given})
        [bulk_omitted] = queue.add_bulk([{"name": "bo", "data": None,
                                          "opts": {"telemetry": {"omit_context": True}}}])
    opts = json.loads(r.hget(f"bull:q:{omitted.id}", "opts"))
    assert opts.get("omc") is True and "tm" not in opts  # as BullMQ writes omitContext
    assert json.loads(r.hget(f"bull:q:{own.id}", "opts"))["tm"] == given
    opts = json.loads(r.hget(f"bull:q:{bulk_omitted.id}", "opts"))
    assert opts.get("omc") is True and "tm" not in opts
    assert len(tracing.named("add q.o")) == 1  # the span is made all the same


def test_default_job_options_may_omit_the_context(redis_url: str, r, tracing: Tracing):
    with Queue("q", redis_url, telemetry=tracing.telemetry,
               default_job_options={"telemetry": {"omit_context": True}}) as queue:
        job = queue.add("o")
    opts = json.loads(r.hget(f"bull:q:{job.id}", "opts"))
    assert opts.get("omc") is True and "tm" not in opts


@pytest.mark.parametrize("bad", [
    "yes", {"metadata": 5}, {"metadata": "x" * 8193}, {"omit_context": "yes"},
    {"context": "x"},
])
def test_a_bad_telemetry_option_is_refused_and_nothing_is_written(redis_url: str, r,
                                                                   tracing: Tracing, bad):
    with Queue("q", redis_url, telemetry=tracing.telemetry) as queue, \
            pytest.raises(InvalidOptionsError, match="telemetry"):
        queue.add("x", telemetry=bad)
    assert r.keys("bull:q:*") == []
    [span] = tracing.spans()  # the add span records the refusal
    assert span.status.is_ok is False
    assert span.events and span.events[0].name == "exception"


def test_without_telemetry_nothing_is_stored_or_traced(redis_url: str, r, tracing: Tracing):
    with Queue("q", redis_url) as queue, tracing.tracer.start_as_current_span("request"):
        job = queue.add("a")
        [bulk] = queue.add_bulk([{"name": "b", "data": None}])
    for job_id in (job.id, bulk.id):
        assert json.loads(r.hget(f"bull:q:{job_id}", "opts")) == {"attempts": 0}
    assert [s.name for s in tracing.spans()] == ["request"]


def test_a_worker_without_telemetry_uses_the_plain_parts(redis_url: str, tracing: Tracing):
    """The traced code paths are chosen at construction: a Worker without telemetry runs the
    plain job runner, finisher and thread pool, which hold no tracing code at all."""
    plain = Worker("q", lambda job: None, redis_url)
    traced = Worker("q", lambda job: None, redis_url, telemetry=tracing.telemetry)
    assert type(plain._job_runner) is JobRunner and type(plain._finisher) is Finisher
    assert plain._executor._pool_class is DaemonThreadPool  # type: ignore[attr-defined]
    assert type(traced._job_runner) is not JobRunner
    assert type(traced._finisher) is not Finisher
    assert traced._executor._pool_class is ContextThreadPool  # type: ignore[attr-defined]
    assert plain.telemetry is None and traced.telemetry is tracing.telemetry
    assert traced.queue.telemetry is tracing.telemetry


def test_trace_ids_are_w3c(redis_url: str, r, tracing: Tracing):
    with Queue("q", redis_url, telemetry=tracing.telemetry) as queue:
        job = queue.add("a")
    span = tracing.one("add q.a")
    trace_id, span_id = hex_ids(span)
    tm = json.loads(r.hget(f"bull:q:{job.id}", "opts"))["tm"]
    assert traceparent(span).startswith(f"00-{trace_id}-{span_id}-")
    assert tm == json.dumps({"traceparent": traceparent(span)},
                            separators=(",", ":"))  # the form bullmq-otel writes


def test_queuecore_imports_and_works_without_opentelemetry(redis_url: str):
    """opentelemetry-api is an optional extra: queuecore imports, adds and reads jobs without
    it, and only making an OTelTelemetry says what to install."""
    script = textwrap.dedent(f"""
        import sys

        class NoOpenTelemetry:
            def find_spec(self, name, path=None, target=None):
                if name == "opentelemetry" or name.startswith("opentelemetry."):
                    raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)

        sys.meta_path.insert(0, NoOpenTelemetry())
        import queuecore
        with queuecore.Queue("plain", {redis_url!r}) as q:
            job = q.add("a", {{"x": 1}})
            assert q.get_job(job.id).data == {{"x": 1}}
        try:
            queuecore.OTelTelemetry()
        except ImportError as exc:
            print("ImportError:", exc)
        assert not [m for m in sys.modules if m.startswith("opentelemetry")]
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         cwd=ROOT, timeout=60, check=False)
    assert out.returncode == 0, out.stderr
    assert "pip install 'queuecore[otel]'" in out.stdout
