"""Fan-out flows: ``first``, then every job of ``then`` at once, then optionally ``join``.

``fan_out`` builds one (its docstring says how it is kept), the producers plan it with
``plan_fan_out`` and write it in one MULTI/EXEC, and ``release_fan_out``, the processor of
the gate queue, moves the ``then`` jobs on once ``first`` completed.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..base.clock import now_ms
from ..base.errors import InvalidOptionsError, UnrecoverableError
from ..base.keys import QueueKeys
from ..base.options import PARENT_POLICIES, JobOptionsDict
from ..client.ajob import AsyncJob
from ..commands.op import Op, check, script
from .plan import FlowJob, FlowPlanner, JobNode, Planned, calls_of

FAN_OUT_GATE_QUEUE = "fan-out"
FAN_OUT_GATE_NAME = "fan-out-gate"
# The gate only runs a short idempotent script: retry it through a Redis hiccup, then drop it.
_GATE_OPTIONS: JobOptionsDict = {"attempts": 5, "backoff": {"type": "exponential", "delay": 500},
                                 "remove_on_complete": True}


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


def plan_fan_out(planner: FlowPlanner, spec: FanOut) -> tuple[list[Planned], Op[list[Any]]]:
    """Roots: the gate (with ``first`` below it), then ``join`` (with the ``then`` jobs
    below it) or the ``then`` jobs themselves; and the op writing all of them at once."""
    if not isinstance(spec, FanOut):
        raise InvalidOptionsError("expected a FanOut built by fan_out()")

    def with_id(node: Mapping[str, Any]) -> dict[str, Any]:
        opts = dict(node.get("opts") or {})
        opts.setdefault("job_id", uuid.uuid4().hex)
        return {**node, "opts": opts}

    first = with_id(spec.first)
    first_keys = QueueKeys.of(first["queue_name"], planner.prefix)
    first_key = first_keys.job(first["opts"]["job_id"])
    later = [with_id(node) for node in spec.then]
    targets = []
    for node in later:
        keys = QueueKeys.of(node["queue_name"], planner.prefix)
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
    roots = [planner.plan_node(gate, None, now, count)]
    if spec.join is not None:
        join = {**spec.join, "children": later}
        roots.append(planner.plan_node(join, None, now, count, after))
    else:
        roots.extend(planner.plan_node(node, None, now, count, after) for node in later)
    calls = calls_of(roots)

    def decode(replies: list[Any]) -> list[Any]:
        return [check(reply, job_id=None, command="add fan-out") for reply in replies]

    return roots, Op(tuple(calls), decode, transaction=True)


def fan_out_node(spec: FanOut, roots: list[Planned],
                 node: Callable[[Planned], JobNode]) -> FanOutNode:
    """The ``FanOutNode`` of a written fan-out, its jobs made by ``node`` (a producer's)."""
    if spec.join is not None:
        gate, later, join = roots[0], roots[1].children, roots[1]
    else:
        gate, later, join = roots[0], roots[1:], None
    gate_node = node(gate)
    return FanOutNode(gate_node.children[0], [node(p) for p in later],
                      node(join) if join is not None else None, gate_node)


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
    queue = job.queue
    args: list[str | int] = ["release", now_ms(), first_key]
    for target in targets:
        args += [target["key"], target["id"], target["queue_key"]]
    call = script("fan_out", [queue.keys.job(job.id)], args)
    released = await queue.run_op(Op((call,), lambda replies: replies[0]))
    if released is None:
        raise UnrecoverableError(f"fan-out gate {job.id}: its first job {first_key} has not "
                                 "completed")
    return {"released": int(released)}
