"""Telemetry in the Worker and the FlowProducer, on a real redis-server with the real
OpenTelemetry SDK: the process span continues the producer's trace (from ``opts.tm``), the
outcome spans and events are BullMQ's, and bad stored metadata harms nothing."""

from __future__ import annotations

import json

import pytest
from opentelemetry.trace import SpanKind

from queuecore import AsyncFlowProducer, AsyncJob, FlowProducer, Job, Queue, Worker, fan_out
from tests.otel_helpers import Tracing, is_child_of, stored_context, traceparent
from tests.worker_utils import running, wait_until


@pytest.fixture
def tracing() -> Tracing:
    return Tracing()


async def test_process_span_continues_the_producer_trace(redis_url: str, tracing: Tracing):
    with Queue("q", redis_url, telemetry=tracing.telemetry) as queue:
        job = queue.add("greet", {"who": "ada"})
    inner: list[str] = []

    async def process(j: AsyncJob) -> dict[str, str]:
        with tracing.tracer.start_as_current_span("inside"):
            inner.append(j.id)
        return {"hi": j.data["who"]}

    worker = Worker("q", process, redis_url, name="w1", telemetry=tracing.telemetry)
    async with running(worker):
        await wait_until(lambda: tracing.named("process q"))
    add, process_span = tracing.one("add q.greet"), tracing.one("process q")
    assert process_span.kind is SpanKind.CONSUMER
    assert is_child_of(process_span, add)
    assert dict(process_span.attributes or {}) | {
        "bullmq.job.attempt_finished_timestamp": 0, "bullmq.job.processed.timestamp": 0} == {
        "bullmq.queue.name": "q", "bullmq.queue.operation": "process",
        "bullmq.worker.id": worker.id, "bullmq.worker.name": "w1",
        "bullmq.job.id": job.id, "bullmq.job.name": "greet", "bullmq.job.attempts.made": 1,
        "bullmq.job.attempt_finished_timestamp": 0, "bullmq.job.processed.timestamp": 0}
    attrs = process_span.attributes or {}
    finished = attrs["bullmq.job.attempt_finished_timestamp"]
    processed = attrs["bullmq.job.processed.timestamp"]
    assert isinstance(finished, int) and isinstance(processed, int)
    assert finished >= processed >= job.timestamp
    [event] = process_span.events
    assert event.name == "job completed"
    assert dict(event.attributes or {}) == {"bullmq.job.result": '{"hi":"ada"}'}
    complete = tracing.one("complete q")
    assert complete.kind is SpanKind.INTERNAL and is_child_of(complete, process_span)
    assert dict(complete.attributes or {}) == {
        "bullmq.queue.name": "q", "bullmq.queue.operation": "complete",
        "bullmq.job.name": "greet", "bullmq.job.id": job.id}
    assert is_child_of(tracing.one("inside"), process_span)  # the processor's own spans
    assert inner == [job.id]


async def test_sync_processor_spans_are_children_of_the_process_span(redis_url: str,
                                                                     tracing: Tracing):
    with Queue("q", redis_url) as queue:  # a producer without telemetry: a trace of its own
        queue.add("s")

    def process(j: Job) -> int:  # runs in a worker thread
        with tracing.tracer.start_as_current_span("in-thread"):
            return 7

    worker = Worker("q", process, redis_url, telemetry=tracing.telemetry)
    async with running(worker):
        await wait_until(lambda: tracing.named("process q"))
    process_span = tracing.one("process q")
    assert process_span.parent is None  # the job holds no context: a new trace
    assert is_child_of(tracing.one("in-thread"), process_span)


async def test_retry_delay_and_fail_spans(redis_url: str, tracing: Tracing):
    with Queue("q", redis_url, telemetry=tracing.telemetry) as queue:
        now = queue.add("now", {"fail": True}, attempts=2)
        later = queue.add("later", {"fail": True}, attempts=2,
                          backoff={"type": "fixed", "delay": 50})

    async def process(j: AsyncJob) -> None:
        raise ValueError(f"boom {j.name}")

    failed: list[str] = []
    worker = Worker("q", process, redis_url, telemetry=tracing.telemetry)
    worker.on("failed", lambda j, exc, prev: failed.append(j.id))
    async with running(worker):
        await wait_until(lambda: len(tracing.named("fail q")) == 2, timeout=20)
    assert sorted(failed) == sorted([now.id, now.id, later.id, later.id])
    names = sorted(s.name for s in tracing.spans())
    assert names.count("process q") == 4 and names.count("retry q") == 1
    assert names.count("delay q") == 1
    add_spans = {s.attributes["bullmq.job.id"]: s for s in tracing.spans()  # type: ignore[index]
                 if s.name.startswith("add ")}
    for span in tracing.named("process q"):
        attrs = span.attributes or {}
        assert is_child_of(span, add_spans[attrs["bullmq.job.id"]])  # every attempt
        [event] = span.events
        assert event.name == "job failed"
        assert dict(event.attributes or {}) == {
            "bullmq.job.failed.reason": f"boom {attrs['bullmq.job.name']}"}
        outcome = [s for s in tracing.spans() if s.name in ("retry q", "delay q", "fail q")
                   and is_child_of(s, span)]
        assert len(outcome) == 1
        expected = ({1: "retry q", 2: "fail q"} if attrs["bullmq.job.name"] == "now"
                    else {1: "delay q", 2: "fail q"})
        assert outcome[0].name == expected[attrs["bullmq.job.attempts.made"]]  # type: ignore[index]


@pytest.mark.parametrize("tm", [
    "{}",  # what bullmq-otel stores when Node has no propagator set up
    "not json", "[1, 2]", '{"traceparent": "00-zz-yy-01"}', '{"traceparent": 7}', 12,
    '{"traceparent": "' + "0" * 9000 + '"}',
])
async def test_bad_stored_metadata_starts_a_new_trace(redis_url: str, r, tracing: Tracing, tm):
    """opts.tm comes from job data (any peer wrote it): what cannot be read is ignored."""
    with Queue("q", redis_url) as queue:
        job = queue.add("x", {"v": 1})
    key = f"bull:q:{job.id}"
    r.hset(key, "opts", json.dumps({**json.loads(r.hget(key, "opts")), "tm": tm}))
    done: list[object] = []
    worker = Worker("q", lambda j: j.data, redis_url, telemetry=tracing.telemetry)
    worker.on("completed", lambda j, result: done.append(result))
    async with running(worker):
        await wait_until(lambda: done)
    assert done == [{"v": 1}]
    span = tracing.one("process q")
    assert span.parent is None and span.status.is_ok


async def test_flow_spans_and_each_job_carries_its_node_context(redis_url: str, r,
                                                              tracing: Tracing):
    with FlowProducer(redis_url, telemetry=tracing.telemetry) as flows:
        node = flows.add({"name": "parent", "queue_name": "q", "data": {},
                          "children": [{"name": "child", "queue_name": "q", "data": {}}]})
    flow = tracing.one("addFlow q")
    assert flow.kind is SpanKind.PRODUCER
    assert (flow.attributes or {})["bullmq.flow.name"] == "parent"
    nodes = {(s.attributes or {})["bullmq.job.name"]: s for s in tracing.named("addNode q")}
    assert is_child_of(nodes["parent"], flow) and is_child_of(nodes["child"], nodes["parent"])
    for job, name in ((node.job, "parent"), (node.children[0].job, "child")):
        assert stored_context(r.hget(f"bull:q:{job.id}", "opts")) == {
            "traceparent": traceparent(nodes[name])}
        assert (nodes[name].attributes or {})["bullmq.job.id"] == job.id

    done: list[str] = []
    worker = Worker("q", lambda j: j.name, redis_url, telemetry=tracing.telemetry)
    worker.on("completed", lambda j, result: done.append(result))
    async with running(worker):
        await wait_until(lambda: len(done) == 2)
    for span in tracing.named("process q"):
        name = (span.attributes or {})["bullmq.job.name"]
        assert is_child_of(span, nodes[name])  # type: ignore[index]


async def test_async_flow_producer_bulk_and_fan_out(redis_url: str, r, tracing: Tracing):
    async with AsyncFlowProducer(redis_url, telemetry=tracing.telemetry) as flows:
        await flows.add_bulk([{"name": "a", "queue_name": "q"}, {"name": "b", "queue_name": "q"}])
        fan = await flows.add(fan_out({"name": "first", "queue_name": "q"},
                                      then=[{"name": "t1", "queue_name": "q"},
                                            {"name": "t2", "queue_name": "q"}],
                                      join={"name": "join", "queue_name": "q"}))
    bulk = tracing.one("addBulkFlows")
    assert (bulk.attributes or {})["bullmq.job.bulk.names"] == "a,b"
    assert (bulk.attributes or {})["bullmq.job.bulk.count"] == 2
    flow = tracing.one("addFlow q")
    assert (flow.attributes or {})["bullmq.flow.name"] == "first"
    nodes = {(s.attributes or {})["bullmq.job.name"]: s for s in tracing.named("addNode q")}
    for job in (fan.first.job, *(n.job for n in fan.then)):
        carrier = stored_context(r.hget(f"bull:q:{job.id}", "opts"))
        assert carrier == {"traceparent": traceparent(nodes[job.name])}
    # The traced planner copies nodes to add their context: the "then" jobs (which the
    # planner finds by id()) still wait for "first", and the join for them.
    first_key = f"bull:q:{fan.first.job.id}"
    for then in fan.then:
        assert r.smembers(f"bull:q:{then.job.id}:dependencies") == {first_key}
    assert fan.join is not None
    assert len(r.smembers(f"bull:q:{fan.join.job.id}:dependencies")) == 2
