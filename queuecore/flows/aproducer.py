"""``AsyncFlowProducer``: writes flows (plan.py) and fan-outs (fanout.py) from asyncio code."""
# Source of producer.py: after a change, run scripts/unasync.py.  # unasync: async-only

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import overload

from ..base.jsonutil import DEFAULT_MAX_DATA_SIZE
from ..base.telemetry import BULK_COUNT, BULK_NAMES, FLOW_NAME, SpanKind, Telemetry
from ..client.ajob import AsyncJob
from ..client.aqueue import AsyncQueue
from ..commands import flow_edits, ops
from ..commands.flow_edits import FlowNodeData
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
        self._queues: dict[tuple[str, str], AsyncQueue] = {}

    def _queue(self, name: str, prefix: str | None = None) -> AsyncQueue:
        where = (prefix or self.prefix, name)
        if where not in self._queues:
            self._queues[where] = AsyncQueue(name, self._connection, prefix=where[0])
        return self._queues[where]

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

    async def get_flow(self, *, job_id: str, queue_name: str, depth: int = 10,
                       max_children: int = 20, prefix: str | None = None) -> JobNode | None:
        """The flow under job ``job_id`` of ``queue_name`` as a tree of ``JobNode``s (None
        when that job does not exist): ``depth`` levels counting the root (1: no children),
        at most ``max_children`` children of each kind per node (completed, pending, failed,
        ignored failures; BullMQ's order). One round trip per level."""
        plan = flow_edits.read_flow(queue_name, str(job_id), prefix=prefix or self.prefix,
                                    depth=depth, max_children=max_children)
        tree = await flow_edits.arun_plan(self._queue(queue_name, prefix).run_op, plan)
        return None if tree is None else self._read_node(tree)

    def _read_node(self, node: FlowNodeData) -> JobNode:
        job = AsyncJob.from_hash(self._queue(node.queue_name, node.prefix), node.job_id,
                                 node.hash)
        return JobNode(job, [self._read_node(child) for child in node.children])

    async def close(self) -> None:
        for queue in self._queues.values():
            await queue.close()
        self._queues.clear()

    async def __aenter__(self) -> AsyncFlowProducer:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
