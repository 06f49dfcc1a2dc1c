# Generated from queuecore/flows/aproducer.py by scripts/unasync.py: do not edit.
# Change the asyncio source and run `python scripts/unasync.py`.
"""``FlowProducer``: writes flows (plan.py) and fan-outs (fanout.py) from blocking code."""

from __future__ import annotations

from collections.abc import Sequence
from typing import overload

from ..base.jsonutil import DEFAULT_MAX_DATA_SIZE
from ..client.job import Job
from ..client.queue import Queue
from ..commands import ops
from ..transport.connection import ConnectionLike
from .fanout import FanOut, FanOutNode, fan_out_node, plan_fan_out
from .plan import FlowJob, FlowPlanner, JobNode, Planned


class FlowProducer:
    """Adds flows from blocking code."""

    def __init__(self, connection: ConnectionLike = None, *, prefix: str = "bull",
                 max_data_size: int | None = DEFAULT_MAX_DATA_SIZE) -> None:
        self._connection = connection
        self.prefix = prefix
        self.max_data_size = max_data_size
        self._planner = FlowPlanner(prefix, max_data_size)
        self._queues: dict[str, Queue] = {}

    def _queue(self, name: str) -> Queue:
        if name not in self._queues:
            self._queues[name] = Queue(name, self._connection, prefix=self.prefix)
        return self._queues[name]

    @overload
    def add(self, flow: FanOut) -> FanOutNode: ...

    @overload
    def add(self, flow: FlowJob) -> JobNode: ...

    def add(self, flow: FlowJob | FanOut) -> JobNode | FanOutNode:
        """Write a flow (or a ``fan_out``) at once, all or nothing."""
        if isinstance(flow, FanOut):
            roots, op = plan_fan_out(self._planner, flow)
            self._queue(roots[0].queue_name).run_op(op)
            return fan_out_node(flow, roots, self._node)
        return self.add_bulk([flow])[0]

    def add_bulk(self, flows: Sequence[FlowJob]) -> list[JobNode]:
        """Write every job of ``flows`` at once (all or nothing)."""
        roots, calls = self._planner.plan_all(flows)
        if not roots:
            return []
        self._queue(roots[0].queue_name).run_op(ops.add_jobs(calls, transaction=True))
        return [self._node(root) for root in roots]

    def _node(self, p: Planned) -> JobNode:
        job = Job(self._queue(p.queue_name), **p.fields)
        return JobNode(job, [self._node(child) for child in p.children])

    def close(self) -> None:
        for queue in self._queues.values():
            queue.close()
        self._queues.clear()

    def __enter__(self) -> FlowProducer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
