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
from typing import Any, NotRequired, TypedDict, overload

from ..base.clock import now_ms
from ..base.errors import InvalidOptionsError, UnrecoverableError
from ..base.jsonutil import DEFAULT_MAX_DATA_SIZE, dumps_data
from ..base.keys import QueueKeys
from ..base.options import PARENT_POLICIES, JobOptionsDict, build_options
from ..client.aqueue import AsyncQueue
from ..client.job import AsyncJob, Job
from ..client.queue import Queue
from ..commands import ops
from ..commands.op import Op, ScriptCall, check, script
from ..transport.connection import ConnectionLike

MAX_FLOW_JOBS = 10_000
FAN_OUT_GATE_QUEUE = "fan-out"
FAN_OUT_GATE_NAME = "fan-out-gate"
# The gate only runs a short idempotent script: retry it through a Redis hiccup, then drop it.
_GATE_OPTIONS: JobOptionsDict = {"attempts": 5, "backoff": {"type": "exponential", "delay": 500},
                                 "remove_on_complete": True}


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


def _calls_of(roots: Sequence[_Planned]) -> list[ScriptCall]:
    """Every planned call of the trees, parents before their children."""
    calls: list[ScriptCall] = []

    def walk(p: _Planned) -> None:
        calls.extend(p.before)
        calls.append(p.call)
        for child in p.children:
            walk(child)

    for root in roots:
        walk(root)
    return calls


@dataclass(frozen=True, slots=True)
class FanOut:
    """A fan-out to add with ``FlowProducer.add`` (build it with ``fan_out``)."""

    first: FlowJob
    then: tuple[FlowJob, ...]
    join: FlowJob | None
    gate_queue: str


@dataclass(slots=True)
class FanOutNode:
    """The jobs of an added fan-out: ``first`` (with its own children, if any), ``then``,
    ``join`` (or None) and the ``gate`` job that releases ``then`` (its child is ``first``)."""

    first: JobNode
    then: list[JobNode]
    join: JobNode | None
    gate: JobNode


def _check_leaf(node: Any, what: str) -> dict[str, Any]:
    if not isinstance(node, Mapping):
        raise InvalidOptionsError(f"{what} must be a flow node (a dict with name and queue_name)")
    if not isinstance(node.get("name"), str) or not isinstance(node.get("queue_name"), str):
        raise InvalidOptionsError(f"{what} needs a name and a queue_name")
    return dict(node)


def fan_out(first: Mapping[str, Any], then: Sequence[Mapping[str, Any]], *,
            join: Mapping[str, Any] | None = None,
            gate_queue: str = FAN_OUT_GATE_QUEUE) -> FanOut:
    """``first`` runs; once it completed, every job of ``then`` becomes runnable at once (in
    parallel, in any queues); ``join``, when given, runs after all of them.

    ``flows.add(fan_out(...))`` writes every job in one MULTI/EXEC and returns a
    ``FanOutNode``. Each ``then`` job reads ``first``'s result with ``get_children_values()``
    (``{first's full key: result}``), ``join`` reads theirs the same way. ``first`` may be a
    whole flow (e.g. a ``chain``): its root is the job the others wait for.

    How it is kept (BullMQ gives a job one parent, so a plain flow cannot express "one, then
    many"): the ``then`` jobs wait in ``waiting-children`` with ``first``'s key as their only
    dependency; ``first``'s parent is a small gate job in ``gate_queue``, which BullMQ's own
    rule moves to wait when ``first`` completed. A queuecore ``Worker`` running
    ``release_fan_out`` on ``gate_queue`` then moves all ``then`` jobs on in one script:
    without that worker nothing after ``first`` runs. Any worker (queuecore, Node or Python
    bullmq) may process ``first``, ``then`` and ``join``.

    When ``first`` fails for good, nothing after it runs: the gate, the ``then`` jobs and
    ``join`` stay in ``waiting-children`` (``first`` stays in the gate's
    ``get_dependencies().unprocessed``); retrying ``first`` resumes the fan-out. A failing
    ``then`` job acts on ``join`` by its own failure policy, as any flow child does.
    """
    if isinstance(then, str | bytes | Mapping) or not isinstance(then, Sequence):
        raise InvalidOptionsError("then must be a list of flow nodes")
    if not then:
        raise InvalidOptionsError("a fan-out needs at least one job in then")
    first_node = _check_leaf(first, "the first job")
    opts = first_node.get("opts") or {}
    if not isinstance(opts, Mapping):
        raise InvalidOptionsError("opts must be a dict")
    taken = sorted(k for k in ("parent", *PARENT_POLICIES) if k in opts)
    if taken:
        raise InvalidOptionsError(f"the first job of a fan-out cannot have {taken}: its "
                                  "parent is the fan-out's gate")
    later = [_check_leaf(node, "every job of then") for node in then]
    join_node = _check_leaf(join, "join") if join is not None else None
    for node in [*later, *([join_node] if join_node is not None else [])]:
        if node.get("children"):
            raise InvalidOptionsError("the then jobs and the join of a fan-out cannot have "
                                      "children of their own")
    if join_node is None and any(
            k in (node.get("opts") or {}) for node in later for k in PARENT_POLICIES):
        raise InvalidOptionsError("failure policies of then jobs need a join to act on")
    if any(node.get("queue_name") == gate_queue
           for node in [first_node, *later, *([join_node] if join_node else [])]):
        raise InvalidOptionsError(f"no job of a fan-out may run in its gate queue {gate_queue!r}")
    try:
        QueueKeys.of(gate_queue)  # validates the name
    except ValueError as exc:
        raise InvalidOptionsError(f"gate_queue: {exc}") from None
    return FanOut(first_node, tuple(later), join_node, gate_queue)  # type: ignore[arg-type]


class _FlowBase:
    def __init__(self, connection: ConnectionLike = None, *, prefix: str = "bull",
                 max_data_size: int | None = DEFAULT_MAX_DATA_SIZE) -> None:
        self._connection = connection
        self.prefix = prefix
        self.max_data_size = max_data_size

    def _plan(self, node: Mapping[str, Any], parent: dict[str, str] | None, now: int,
              count: list[int], after: Mapping[int, str] | None = None) -> _Planned:
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
        planned_children = [self._plan(child, me, now, count, after) for child in children]
        fields = {"id": opts.job_id, "name": node["name"], "data": node.get("data"),
                  "opts": opts.to_json(), "timestamp": now, "delay": opts.delay,
                  "priority": opts.priority}
        return _Planned(queue_name, call, fields, planned_children, before)

    def _plan_all(self, flows: Sequence[Mapping[str, Any]]) -> tuple[list[_Planned],
                                                                     list[ScriptCall]]:
        now = now_ms()
        count = [0]
        roots = [self._plan(flow, None, now, count) for flow in flows]
        return roots, _calls_of(roots)

    def _plan_fan_out(self, spec: FanOut) -> tuple[list[_Planned], Op[list[Any]]]:
        """Roots: the gate (with ``first`` below it), then ``join`` (with the ``then`` jobs
        below it) or the ``then`` jobs themselves; and the op writing all of them at once."""
        if not isinstance(spec, FanOut):
            raise InvalidOptionsError("expected a FanOut built by fan_out()")

        def with_id(node: Mapping[str, Any]) -> dict[str, Any]:
            opts = dict(node.get("opts") or {})
            opts.setdefault("job_id", uuid.uuid4().hex)
            return {**node, "opts": opts}

        first = with_id(spec.first)
        first_key = QueueKeys.of(first["queue_name"], self.prefix).job(first["opts"]["job_id"])
        later = [with_id(node) for node in spec.then]
        targets = []
        for node in later:
            keys = QueueKeys.of(node["queue_name"], self.prefix)
            targets.append({"key": keys.job(node["opts"]["job_id"]),
                            "id": node["opts"]["job_id"], "queue_key": keys.queue_key})
        gate: dict[str, Any] = {
            "name": FAN_OUT_GATE_NAME, "queue_name": spec.gate_queue,
            "data": {"first": first_key, "then": targets},
            "opts": dict(_GATE_OPTIONS), "children": [first],
        }
        after = {id(node): first_key for node in later}
        now = now_ms()
        count = [0]
        roots = [self._plan(gate, None, now, count)]
        if spec.join is not None:
            roots.append(self._plan({**spec.join, "children": later}, None, now, count, after))
        else:
            roots.extend(self._plan(node, None, now, count, after) for node in later)
        calls = _calls_of(roots)

        def decode(replies: list[Any]) -> list[Any]:
            return [check(reply, job_id=None, command="add fan-out") for reply in replies]

        return roots, Op(tuple(calls), decode, transaction=True)

    @staticmethod
    def _fan_out_parts(spec: FanOut, roots: list[_Planned]
                       ) -> tuple[_Planned, list[_Planned], _Planned | None]:
        if spec.join is not None:
            return roots[0], roots[1].children, roots[1]
        return roots[0], roots[1:], None


class FlowProducer(_FlowBase):
    """Adds flows from blocking code."""

    def __init__(self, connection: ConnectionLike = None, **kwargs: Any) -> None:
        super().__init__(connection, **kwargs)
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
            roots, op = self._plan_fan_out(flow)
            self._queue(roots[0].queue_name).run_op(op)
            gate, later, join = self._fan_out_parts(flow, roots)
            gate_node = self._node(gate)
            return FanOutNode(gate_node.children[0], [self._node(p) for p in later],
                              self._node(join) if join is not None else None, gate_node)
        return self.add_bulk([flow])[0]

    def add_bulk(self, flows: Sequence[FlowJob]) -> list[JobNode]:
        """Write every job of ``flows`` at once (all or nothing)."""
        roots, calls = self._plan_all(flows)
        first = self._queue(roots[0].queue_name) if roots else None
        if first is None:
            return []
        first.run_op(ops.add_jobs(calls, transaction=True))
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

    @overload
    async def add(self, flow: FanOut) -> FanOutNode: ...

    @overload
    async def add(self, flow: FlowJob) -> JobNode: ...

    async def add(self, flow: FlowJob | FanOut) -> JobNode | FanOutNode:
        """Write a flow (or a ``fan_out``) at once, all or nothing."""
        if isinstance(flow, FanOut):
            roots, op = self._plan_fan_out(flow)
            await self._queue(roots[0].queue_name).run_op(op)
            gate, later, join = self._fan_out_parts(flow, roots)
            gate_node = self._node(gate)
            return FanOutNode(gate_node.children[0], [self._node(p) for p in later],
                              self._node(join) if join is not None else None, gate_node)
        return (await self.add_bulk([flow]))[0]

    async def add_bulk(self, flows: Sequence[FlowJob]) -> list[JobNode]:
        roots, calls = self._plan_all(flows)
        if not roots:
            return []
        await self._queue(roots[0].queue_name).run_op(ops.add_jobs(calls, transaction=True))
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


async def release_fan_out(job: AsyncJob) -> dict[str, Any]:
    """The processor of a fan-out's gate queue: ``Worker("fan-out", release_fan_out, ...)``.

    Moves the "then" jobs of the gate's fan-out on, all in one script, and returns
    ``{"released": n}``. Safe to run again (a retried gate releases nothing twice). A gate
    whose first job has not completed fails without retry and releases nothing.
    """
    spec = job.data if isinstance(job.data, dict) else {}
    first_key = spec.get("first")
    targets = spec.get("then")
    if not isinstance(first_key, str) or not isinstance(targets, list) or not all(
            isinstance(t, dict) and all(isinstance(t.get(k), str)
                                        for k in ("key", "id", "queue_key")) for t in targets):
        raise UnrecoverableError(f"job {job.id} is not a fan-out gate (data: {job.data!r})")
    queue: AsyncQueue = job.queue
    args: list[str | int] = ["release", now_ms(), first_key]
    for target in targets:
        args += [target["key"], target["id"], target["queue_key"]]
    call = script("fan_out", [queue.keys.job(job.id)], args)
    released = await queue.run_op(Op((call,), lambda replies: replies[0]))
    if released is None:
        raise UnrecoverableError(f"fan-out gate {job.id}: its first job {first_key} has not "
                                 "completed")
    return {"released": int(released)}
