"""Builders of BullMQ's flow operations on a stored tree: cutting a child loose, removing a
parent's unprocessed children, and reading a flow back (``FlowProducer.getFlow``).

Reading a tree takes one round trip per level, so it is a plan: a generator that yields one
op per level and gets its result back; ``run_plan`` and ``arun_plan`` drive it with a
queue's ``run_op`` (sync or async). The tree is bounded by ``depth`` and ``max_children``,
so a huge flow costs what the caller asked for, not what it holds.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Generator
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ..base.keys import QueueKeys
from ..base.validation import positive_int
from .op import Op, checked, raw, script, single

T = TypeVar("T")
Plan = Generator[Op[Any], Any, T]


def remove_child_dependency(keys: QueueKeys, job_id: str, now: int) -> Op[bool]:
    """Cut the job loose from its flow parent; True when it was a pending dependency. A
    parent left without pending children is released."""
    return single(script("remove_child_dependency", [keys.job(job_id)], [now]),
                  lambda r: int(checked("remove_child_dependency", job_id)(r)) == 0)


def remove_unprocessed_children(keys: QueueKeys, job_id: str, now: int) -> Op[int]:
    """Remove the parent's pending children (and their subtrees) that no worker holds and that
    did not fail for good; returns how many jobs were removed."""
    return single(
        script("remove_unprocessed_children", [keys.job(job_id)],
               [keys.prefix, keys.name, job_id, now]),
        lambda r: int(checked("remove_unprocessed_children", job_id)(r)))


# -- reading a flow -----------------------------------------------------------------------------


@dataclass(slots=True)
class FlowNodeData:
    """One job of a flow as read: where it lives, its raw hash and its children's nodes."""

    prefix: str
    queue_name: str
    job_id: str
    hash: dict[str, str]
    children: list[FlowNodeData] = field(default_factory=list)


def split_job_key(key: str, prefix: str) -> tuple[str, str, str] | None:
    """``(prefix, queue, id)`` of a full job key. A key under ``prefix`` is split after it
    (queue names hold no ":", so an id may); any other at its last two ":"."""
    head = prefix + ":"
    if key.startswith(head):
        queue, sep, job_id = key[len(head):].partition(":")
        if sep and queue and job_id:
            return prefix, queue, job_id
    rest, sep, job_id = key.rpartition(":")
    other_prefix, sep2, queue = rest.rpartition(":")
    if not (sep and sep2 and other_prefix and queue and job_id):
        return None
    return other_prefix, queue, job_id


def _level_op(nodes: list[tuple[str, str, str]], max_children: int) -> Op[list[Any]]:
    """For each node: its hash, then the first ``max_children`` keys of each kind of child
    (processed, pending, ignored failures, failed), read with cursor-0 scans as BullMQ does."""
    calls = []
    for prefix, queue, job_id in nodes:
        key = QueueKeys(prefix, queue).job(job_id)
        calls += [raw("HGETALL", key),
                  raw("HSCAN", key + ":processed", 0, "COUNT", max_children),
                  raw("SSCAN", key + ":dependencies", 0, "COUNT", max_children),
                  raw("ZRANGE", key + ":unsuccessful", 0, max_children - 1),
                  raw("HSCAN", key + ":failed", 0, "COUNT", max_children)]
    return Op(tuple(calls), lambda replies: replies)


def _scan_keys(reply: Any, is_hash: bool) -> list[str]:
    """The keys of a cursor-0 scan reply (redis-py hands a hash's as a dict)."""
    items = reply[1]
    if isinstance(items, dict):
        return [str(k) for k in items]
    items = list(items)
    return [str(k) for k in (items[::2] if is_hash else items)]


def _hash(reply: Any) -> dict[str, str]:
    if isinstance(reply, dict):
        return reply
    return dict(zip(reply[::2], reply[1::2], strict=True)) if reply else {}


def read_flow(queue_name: str, job_id: str, *, prefix: str = "bull", depth: int = 10,
              max_children: int = 20) -> Plan[FlowNodeData | None]:
    """The flow under job ``job_id`` of ``queue_name``: None when that job does not exist.
    ``depth`` counts levels with the root as 1 (``depth=1``: no children); each node gets at
    most ``max_children`` children of each kind (processed first, then pending, failed and
    ignored, as BullMQ orders them); children whose job is gone are left out."""
    positive_int("depth", depth)
    positive_int("max_children", max_children)
    QueueKeys.of(queue_name, prefix)  # validates both
    root: FlowNodeData | None = None
    level: list[tuple[tuple[str, str, str], FlowNodeData | None]] = [
        ((prefix, queue_name, str(job_id)), None)]
    for current_depth in range(1, depth + 1):
        replies = yield _level_op([where for where, _ in level], max_children)
        next_level: list[tuple[tuple[str, str, str], FlowNodeData | None]] = []
        for i, ((p, q, jid), parent) in enumerate(level):
            h, processed, pending, failed, ignored = replies[i * 5:i * 5 + 5]
            h = _hash(h)
            if not h:
                continue
            node = FlowNodeData(p, q, jid, h)
            if parent is None:
                root = node
            else:
                parent.children.append(node)
            if current_depth == depth:
                continue
            kids = (sorted(_scan_keys(processed, True))[:max_children]
                    + sorted(_scan_keys(pending, False))[:max_children]
                    + [str(k) for k in failed]
                    + sorted(_scan_keys(ignored, True))[:max_children])
            for child_key in kids:
                where = split_job_key(child_key, p)
                if where is not None:
                    next_level.append((where, node))
        if not next_level:
            break
        level = next_level
    return root


def run_plan(run_op: Callable[[Op[Any]], Any], plan: Plan[T]) -> T:
    """Drive a plan with a blocking ``run_op``."""
    try:
        op = next(plan)
        while True:
            op = plan.send(run_op(op))
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]


async def arun_plan(run_op: Callable[[Op[Any]], Awaitable[Any]], plan: Plan[T]) -> T:
    """Drive a plan with a coroutine ``run_op``."""
    try:
        op = next(plan)
        while True:
            op = plan.send(await run_op(op))
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]
