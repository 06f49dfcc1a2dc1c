"""One trace across languages: Node bullmq 6.7 with bullmq-otel 2.0.1 on one side, queuecore
with OTelTelemetry on the other, each with an in-memory span exporter (the Node peer's
otel.mjs; tests/otel_helpers.py). The trace context travels in the job's ``opts.tm``."""

from __future__ import annotations

import json
from typing import Any

import pytest

from queuecore import AsyncJob, FlowProducer, Queue, Worker
from tests.interop.conftest import PEERS_DIR, NodePeer, _require
from tests.otel_helpers import Tracing, hex_ids, is_child_of, stored_context, traceparent
from tests.worker_utils import running, wait_until

pytestmark = pytest.mark.interop


@pytest.fixture
def otel_peer(node_peer: NodePeer) -> NodePeer:
    if not (PEERS_DIR / "node_modules" / "bullmq-otel").is_dir():
        _require("bullmq-otel is not installed (run `npm ci` in tests/peers)")
    return node_peer


@pytest.fixture
def tracing() -> Tracing:
    return Tracing()


def node_span(out: dict[str, Any], name: str) -> dict[str, Any]:
    found = [s for s in out["spans"] if s["name"] == name]
    assert len(found) == 1, (name, [s["name"] for s in out["spans"]])
    return found[0]


def parent_ids(span: Any) -> tuple[str, str]:
    assert span.parent is not None, span.name
    return f"{span.parent.trace_id:032x}", f"{span.parent.span_id:016x}"


async def test_node_producer_trace_runs_on_in_queuecore_worker(otel_peer: NodePeer,
                                                              redis_url: str, r,
                                                              tracing: Tracing):
    out = otel_peer({"queue": "otel", "telemetry": True, "actions": [
        {"op": "add", "name": "greet", "data": {"who": "ada"}},
        {"op": "add", "name": "alone", "data": {}, "opts": {"telemetry": {"omitContext": True}}},
    ]})
    job_id, alone_id = out["results"][0]["id"], out["results"][1]["id"]
    add = node_span(out, "add otel.greet")
    assert add["kind"] == "PRODUCER" and add["parentSpanId"] is None
    # What bullmq-otel stores: opts.tm, a string of JSON of the W3C carrier.
    carrier = stored_context(r.hget(f"bull:otel:{job_id}", "opts"))
    assert carrier == {"traceparent": f"00-{add['traceId']}-{add['spanId']}-01"}
    assert json.loads(r.hget(f"bull:otel:{alone_id}", "opts"))["omc"] is True

    async def process(job: AsyncJob) -> str:
        with tracing.tracer.start_as_current_span("inside"):
            return job.name

    done: list[str] = []
    worker = Worker("otel", process, redis_url, name="py", telemetry=tracing.telemetry)
    worker.on("completed", lambda job, result: done.append(result))
    async with running(worker):
        await wait_until(lambda: len(done) == 2)
    spans = {(s.attributes or {})["bullmq.job.name"]: s for s in tracing.named("process otel")}
    greet = spans["greet"]
    assert parent_ids(greet) == (add["traceId"], add["spanId"])  # the Node add span
    assert greet.parent is not None and greet.parent.is_remote
    [inside] = [s for s in tracing.named("inside") if is_child_of(s, greet)]
    assert hex_ids(inside)[0] == add["traceId"]  # one trace, the processor's spans too
    assert spans["alone"].parent is None  # omitContext: a trace of its own
    # The spans look alike: queuecore's add span has the attributes Node's has.
    with Queue("otel", redis_url, telemetry=tracing.telemetry) as queue:
        queue.add("greet")
    assert set(tracing.one("add otel.greet").attributes or {}) == set(add["attributes"])


async def test_queuecore_producer_trace_runs_on_in_node_worker(otel_peer: NodePeer,
                                                              redis_url: str,
                                                              tracing: Tracing):
    with Queue("otel", redis_url, telemetry=tracing.telemetry) as queue, \
            tracing.tracer.start_as_current_span("request"):
        job = queue.add("greet", {"return": {"ok": 1}})
        alone = queue.add("alone", {}, telemetry={"omit_context": True})
    add = tracing.one("add otel.greet")
    trace_id, span_id = hex_ids(add)
    out = otel_peer({"queue": "otel", "telemetry": True, "actions": [
        {"op": "getJob", "id": job.id}, {"op": "getJob", "id": alone.id},
        {"op": "work", "count": 2, "timeoutMs": 15000, "workerOpts": {"name": "node"}},
    ]})
    # Node reads the stored context back as its own job option.
    assert out["results"][0]["opts"]["telemetry"] == {
        "metadata": json.dumps({"traceparent": traceparent(add)}, separators=(",", ":"))}
    assert out["results"][1]["opts"]["telemetry"] == {"omitContext": True}
    assert sorted(c["id"] for c in out["results"][2]["completed"]) == sorted([job.id, alone.id])
    processed = {s["attributes"]["bullmq.job.name"]: s for s in out["spans"]
                 if s["name"] == "process otel"}
    node = processed["greet"]
    assert node["kind"] == "CONSUMER"
    assert (node["traceId"], node["parentSpanId"]) == (trace_id, span_id)  # our add span
    assert trace_id == hex_ids(tracing.one("request"))[0]
    assert node["events"][0]["name"] == "job completed"
    assert processed["alone"]["parentSpanId"] is None
    assert processed["alone"]["traceId"] != trace_id

    # The spans look alike: queuecore's process span has the attributes Node's has.
    with Queue("otel", redis_url) as queue:
        queue.add("greet", {"return": {"ok": 1}},
                  telemetry={"metadata": json.dumps({"traceparent": traceparent(add)})})
    done: list[object] = []
    worker = Worker("otel", lambda j: j.data["return"], redis_url, name="py",
                    telemetry=tracing.telemetry)
    worker.on("completed", lambda j, result: done.append(result))
    async with running(worker):
        await wait_until(lambda: done)
    ours = tracing.one("process otel")
    assert set(ours.attributes or {}) == set(node["attributes"])
    assert [e.name for e in ours.events] == [e["name"] for e in node["events"]]
    assert ours.kind.name == node["kind"]


def test_queuecore_flow_trace_runs_on_in_node_worker(otel_peer: NodePeer, redis_url: str,
                                                     tracing: Tracing):
    with FlowProducer(redis_url, telemetry=tracing.telemetry) as flows:
        node = flows.add({"name": "parent", "queue_name": "otel", "data": {},
                          "children": [{"name": "child", "queue_name": "otel", "data": {}}]})
    out = otel_peer({"queue": "otel", "telemetry": True, "actions": [
        {"op": "work", "count": 2, "timeoutMs": 15000}]})
    assert len(out["results"][0]["completed"]) == 2
    nodes = {(s.attributes or {})["bullmq.job.name"]: s for s in tracing.named("addNode otel")}
    processed = {s["attributes"]["bullmq.job.id"]: s for s in out["spans"]
                 if s["name"] == "process otel"}
    for job, name in ((node.job, "parent"), (node.children[0].job, "child")):
        trace_id, span_id = hex_ids(nodes[name])
        assert (processed[job.id]["traceId"], processed[job.id]["parentSpanId"]) == (
            trace_id, span_id)
