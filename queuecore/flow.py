"""Flows: a parent job that runs after all its children, written atomically.

``FlowProducer.add({"name": ..., "queue_name": ..., "data": ..., "opts": {...}, "children":
[...]})`` writes the whole tree in one MULTI/EXEC; children may live in other queues (in Redis
Cluster, give every queue of a flow the same hash tag). The parent waits in
``waiting-children`` and runs once every child completed, reading their results with
``job.get_children_values()``. A child's failure policy (``fail_parent_on_failure`` ...)
says what its final failure does to the parent.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NotRequired, TypedDict

from . import ops
from .aqueue import AsyncQueue
from .clock import now_ms
from .commands import ScriptCall
from .connection import ConnectionLike
from .errors import InvalidOptionsError
from .job import AsyncJob, Job
from .jsonutil import DEFAULT_MAX_DATA_SIZE, dumps_data
from .keys import QueueKeys
from .options import JobOptionsDict, build_options
from .queue import Queue

MAX_FLOW_JOBS = 10_000


class FlowJob(TypedDict):
    """One node of a flow."""

    name: str
    queue_name: str
    data: NotRequired[Any]
    opts: NotRequired[JobOptionsDict]
    children: NotRequired[list[FlowJob]]


@dataclass(slots=True)
class JobNode:
    """A job of an added flow and the nodes of its children."""

    job: Job | AsyncJob
    children: list[JobNode] = field(default_factory=list)


@dataclass(slots=True)
class _Planned:
    queue_name: str
    call: ScriptCall
    fields: dict[str, Any]
    children: list[_Planned]


def chain(steps: Sequence[Mapping[str, Any]]) -> FlowJob:
    """A flow that runs ``steps`` one after the other (first step first); each step reads the
    previous one's result with ``get_children_values()``."""
    if not steps:
        raise InvalidOptionsError("a chain needs at least one step")
    node: FlowJob | None = None
    for step in steps:
        if "children" in step:
            raise InvalidOptionsError("chain steps cannot have children of their own")
        current: FlowJob = {**step}  # type: ignore[typeddict-item]
        if node is not None:
            current["children"] = [node]
        node = current
    assert node is not None
    return node


class _FlowBase:
    def __init__(self, connection: ConnectionLike = None, *, prefix: str = "bull",
                 max_data_size: int | None = DEFAULT_MAX_DATA_SIZE) -> None:
        self._connection = connection
        self.prefix = prefix
        self.max_data_size = max_data_size

    def _plan(self, node: Mapping[str, Any], parent: dict[str, str] | None, now: int,
              count: list[int]) -> _Planned:
        count[0] += 1
        if count[0] > MAX_FLOW_JOBS:
            raise InvalidOptionsError(f"a flow may hold at most {MAX_FLOW_JOBS} jobs")
        if not isinstance(node, Mapping) or not isinstance(node.get("name"), str):
            raise InvalidOptionsError("every flow node needs a name and a queue_name")
        queue_name = node.get("queue_name")
        if not isinstance(queue_name, str):
            raise InvalidOptionsError("every flow node needs a queue_name")
        keys = QueueKeys.of(queue_name, self.prefix)  # validates the name
        options: dict[str, Any] = dict(node.get("opts") or {})
        options.setdefault("job_id", uuid.uuid4().hex)
        if parent is not None:
            if "parent" in options:
                raise InvalidOptionsError("a flow child gets its parent from the tree")
            options["parent"] = parent
        opts = build_options(None, options, now_ms=now)
        children = list(node.get("children") or [])
        data_json = dumps_data(node.get("data"), self.max_data_size)
        call = ops.add_job_call(keys, node["name"], data_json, opts, now,
                                waits_for_children=bool(children))
        assert opts.job_id is not None
        me = {"id": opts.job_id, "queue": queue_name, "prefix": self.prefix}
        planned_children = [self._plan(child, me, now, count) for child in children]
        fields = {"id": opts.job_id, "name": node["name"], "data": node.get("data"),
                  "opts": opts.to_json(), "timestamp": now, "delay": opts.delay,
                  "priority": opts.priority}
        return _Planned(queue_name, call, fields, planned_children)

    def _plan_all(self, flows: Sequence[Mapping[str, Any]]) -> tuple[list[_Planned],
                                                                     list[ScriptCall]]:
        now = now_ms()
        count = [0]
        roots = [self._plan(flow, None, now, count) for flow in flows]
        calls: list[ScriptCall] = []

        def walk(p: _Planned) -> None:  # parents before their children
            calls.append(p.call)
            for child in p.children:
                walk(child)

        for root in roots:
            walk(root)
        return roots, calls


class FlowProducer(_FlowBase):
    """Adds flows from blocking code."""

    def __init__(self, connection: ConnectionLike = None, **kwargs: Any) -> None:
        super().__init__(connection, **kwargs)
        self._queues: dict[str, Queue] = {}

    def _queue(self, name: str) -> Queue:
        if name not in self._queues:
            self._queues[name] = Queue(name, self._connection, prefix=self.prefix)
        return self._queues[name]

    def add(self, flow: FlowJob) -> JobNode:
        return self.add_bulk([flow])[0]

    def add_bulk(self, flows: Sequence[FlowJob]) -> list[JobNode]:
        """Write every job of ``flows`` at once (all or nothing)."""
        roots, calls = self._plan_all(flows)
        first = self._queue(roots[0].queue_name) if roots else None
        if first is None:
            return []
        first._run(ops.add_jobs(calls, transaction=True))
        return [self._node(root) for root in roots]

    def _node(self, p: _Planned) -> JobNode:
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


class AsyncFlowProducer(_FlowBase):
    """Adds flows from asyncio code."""

    def __init__(self, connection: ConnectionLike = None, **kwargs: Any) -> None:
        super().__init__(connection, **kwargs)
        self._queues: dict[str, AsyncQueue] = {}

    def _queue(self, name: str) -> AsyncQueue:
        if name not in self._queues:
            self._queues[name] = AsyncQueue(name, self._connection, prefix=self.prefix)
        return self._queues[name]

    async def add(self, flow: FlowJob) -> JobNode:
        return (await self.add_bulk([flow]))[0]

    async def add_bulk(self, flows: Sequence[FlowJob]) -> list[JobNode]:
        roots, calls = self._plan_all(flows)
        if not roots:
            return []
        await self._queue(roots[0].queue_name)._run(ops.add_jobs(calls, transaction=True))
        return [self._node(root) for root in roots]

    def _node(self, p: _Planned) -> JobNode:
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
