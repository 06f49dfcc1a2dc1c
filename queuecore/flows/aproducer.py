"""``AsyncFlowProducer``: writes flows (plan.py) and fan-outs (fanout.py) from asyncio code."""
# Source of producer.py: after a change, run scripts/unasync.py.  # unasync: async-only

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import overload

from ..base.jsonutil import DEFAULT_MAX_DATA_SIZE
from ..base.telemetry import BULK_COUNT, BULK_NAMES, FLOW_NAME, SpanKind, Telemetry
from ..client.ajob import AsyncJob
from ..client.aqueue import AsyncQueue
from ..commands import ops
from ..transport.connection import ConnectionLike
from .fanout import FanOut, FanOutNode, fan_out_node, plan_fan_out
from .plan import FlowJob, FlowPlanner, JobNode, Planned, TracedFlowPlanner


class AsyncFlowProducer:
    """Adds flows from asyncio code."""

    def __init__(self, connection: ConnectionLike = None, *, prefix: str = "bull",
                 max_data_size: int | None = DEFAULT_MAX_DATA_SIZE,
                 telemetry: Telemetry | None = None) -> None:
        self._connection = connection
        self.prefix = prefix
        self.max_data_size = max_data_size
        #: Spans for adding flows, their trace context stored in each job (None: none).
        self.telemetry = telemetry
        self._planner = (FlowPlanner(prefix, max_data_size) if telemetry is None
                         else TracedFlowPlanner(prefix, max_data_size, telemetry))
        self._queues: dict[str, AsyncQueue] = {}

    def _queue(self, name: str) -> AsyncQueue:
        if name not in self._queues:
            self._queues[name] = AsyncQueue(name, self._connection, prefix=self.prefix)
        return self._queues[name]

    @overload
    async def add(self, flow: FanOut) -> FanOutNode: ...

    @overload
    async def add(self, flow: FlowJob) -> JobNode: ...

    async def add(self, flow: FlowJob | FanOut) -> JobNode | FanOutNode:
        """Write a flow (or a ``fan_out``) at once, all or nothing."""
        if self.telemetry is None:
            return await self._add(flow)
        first = flow.first if isinstance(flow, FanOut) else flow
        queue_name = str(first.get("queue_name", "")) if isinstance(first, Mapping) else ""
        with self.telemetry.span(SpanKind.PRODUCER, queue_name, "addFlow",
                                 queue_name) as span:
            if isinstance(first, Mapping):
                span.set_attributes({FLOW_NAME: str(first.get("name"))})
            return await self._add(flow)

    async def _add(self, flow: FlowJob | FanOut) -> JobNode | FanOutNode:
        if isinstance(flow, FanOut):
            roots, op = plan_fan_out(self._planner, flow)
            await self._queue(roots[0].queue_name).run_op(op)
            return fan_out_node(flow, roots, self._node)
        return (await self._add_bulk([flow]))[0]

    async def add_bulk(self, flows: Sequence[FlowJob]) -> list[JobNode]:
        """Write every job of ``flows`` at once (all or nothing)."""
        if self.telemetry is None:
            return await self._add_bulk(flows)
        with self.telemetry.span(SpanKind.PRODUCER, "", "addBulkFlows") as span:
            span.set_attributes({BULK_COUNT: len(flows), BULK_NAMES: ",".join(
                str(f.get("name")) for f in flows if isinstance(f, Mapping))})
            return await self._add_bulk(flows)

    async def _add_bulk(self, flows: Sequence[FlowJob]) -> list[JobNode]:
        roots, calls = self._planner.plan_all(flows)
        if not roots:
            return []
        await self._queue(roots[0].queue_name).run_op(ops.add_jobs(calls, transaction=True))
        return [self._node(root) for root in roots]

    def _node(self, p: Planned) -> JobNode:
        job = AsyncJob(self._queue(p.queue_name), **p.fields)
        return JobNode(job, [self._node(child) for child in p.children])

    async def close(self) -> None:
        for queue in self._queues.values():
            await queue.close()
        self._queues.clear()

    async def __aenter__(self) -> AsyncFlowProducer:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
