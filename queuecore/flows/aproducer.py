"""``AsyncFlowProducer``: writes flows (plan.py) and fan-outs (fanout.py) from asyncio code."""
# Source of producer.py: after a change, run scripts/unasync.py.  # unasync: async-only

from __future__ import annotations

from collections.abc import Sequence
from typing import overload

from ..base.jsonutil import DEFAULT_MAX_DATA_SIZE
from ..client.ajob import AsyncJob
from ..client.aqueue import AsyncQueue
from ..commands import ops
from ..transport.connection import ConnectionLike
from .fanout import FanOut, FanOutNode, fan_out_node, plan_fan_out
from .plan import FlowJob, FlowPlanner, JobNode, Planned


class AsyncFlowProducer:
    """Adds flows from asyncio code."""

    def __init__(self, connection: ConnectionLike = None, *, prefix: str = "bull",
                 max_data_size: int | None = DEFAULT_MAX_DATA_SIZE) -> None:
        self._connection = connection
        self.prefix = prefix
        self.max_data_size = max_data_size
        self._planner = FlowPlanner(prefix, max_data_size)
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
        if isinstance(flow, FanOut):
            roots, op = plan_fan_out(self._planner, flow)
            await self._queue(roots[0].queue_name).run_op(op)
            return fan_out_node(flow, roots, self._node)
        return (await self.add_bulk([flow]))[0]

    async def add_bulk(self, flows: Sequence[FlowJob]) -> list[JobNode]:
        """Write every job of ``flows`` at once (all or nothing)."""
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
