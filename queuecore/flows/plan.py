"""Flows: a parent job that runs after all its children, written atomically.

``FlowProducer.add({"name": ..., "queue_name": ..., "data": ..., "opts": {...}, "children":
[...]})`` writes the whole tree in one MULTI/EXEC; children may live in other queues (in Redis
Cluster, give every queue of a flow the same hash tag). The parent waits in
``waiting-children`` and runs once every child completed, reading their results with
``job.get_children_values()``. A child's failure policy (``fail_parent_on_failure`` ...)
says what its final failure does to the parent.

Two helpers build common shapes: ``chain([a, b, c])`` (a, then b, then c) and
``fan_out(first, then=[...], join=...)`` (``first``, then every job of ``then`` at once, then
optionally ``join`` after all of them); see ``fan_out`` for how the latter is kept.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NotRequired, TypedDict

from ..base.clock import now_ms
from ..base.errors import InvalidOptionsError
from ..base.jsonutil import dumps_data
from ..base.keys import QueueKeys
from ..base.options import JobOptionsDict, build_options
from ..client.ajob import AsyncJob
from ..client.job import Job
from ..commands import ops
from ..commands.op import ScriptCall, script

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
class Planned:
    """A job of a flow as it will be written: its call and the fields of its job."""

    queue_name: str
    call: ScriptCall
    fields: dict[str, Any]
    children: list[Planned]
    before: list[ScriptCall] = field(default_factory=list)  # written right before ``call``


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


def calls_of(roots: Sequence[Planned]) -> list[ScriptCall]:
    """Every planned call of the trees, parents before their children."""
    calls: list[ScriptCall] = []

    def walk(p: Planned) -> None:
        calls.extend(p.before)
        calls.append(p.call)
        for child in p.children:
            walk(child)

    for root in roots:
        walk(root)
    return calls


class FlowPlanner:
    """What both producers use: turning flow trees into the calls that write them."""

    def __init__(self, prefix: str, max_data_size: int | None) -> None:
        self.prefix = prefix
        self.max_data_size = max_data_size

    def plan_node(self, node: Mapping[str, Any], parent: dict[str, str] | None, now: int,
                  count: list[int], after: Mapping[int, str] | None = None) -> Planned:
        """Plan ``node`` and its subtree; a node whose ``id()`` is in ``after`` waits in
        waiting-children for the job of that full key (a fan-out's "then" job)."""
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
        waits_for = (after or {}).get(id(node))
        call = ops.add_job_call(keys, node["name"], data_json, opts, now,
                                waits_for_children=bool(children) or waits_for is not None)
        assert opts.job_id is not None
        before = []
        if waits_for is not None:
            job_key = keys.job(opts.job_id)
            before.append(script("fan_out", [job_key, job_key + ":dependencies"],
                                 ["park", waits_for]))
        me = {"id": opts.job_id, "queue": queue_name, "prefix": self.prefix}
        planned_children = [self.plan_node(child, me, now, count, after) for child in children]
        fields = {"id": opts.job_id, "name": node["name"], "data": node.get("data"),
                  "opts": opts.to_json(), "timestamp": now, "delay": opts.delay,
                  "priority": opts.priority}
        return Planned(queue_name, call, fields, planned_children, before)

    def plan_all(self, flows: Sequence[Mapping[str, Any]]) -> tuple[list[Planned],
                                                                     list[ScriptCall]]:
        now = now_ms()
        count = [0]
        roots = [self.plan_node(flow, None, now, count) for flow in flows]
        return roots, calls_of(roots)
