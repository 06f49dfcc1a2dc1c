"""The flow around a job: the chain of its parents up to the root, and its own children's
tree, across queues, bounded in depth and width.

Read through queuecore's flow API (``FlowProducer.get_flow``) and job getters; the state of
each shown node is asked (a few dozen round trips at most: ``MAX_NODES``), the rest of a
node's children is counted only when a level was cut.

One ``FlowProducer`` per dashboard connection serves every page (a producer opens a
connection pool per queue it reads, so one per render would connect anew each time); it is
closed with the connection's queues (settings reset), and replaced once it has opened
``MAX_FLOW_QUEUES`` queues (the children's too), so that its pools stay bounded. Its jobs
read through its connections (state, dependency counts), so the whole walk of a tree holds
its lock: another render must not close it meanwhile.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from dashboard import conf, connections
from dashboard.formatting import clip, parse_job_key, parse_queue_key, progress_percent, shorten
from dashboard.services.common import NAME_CHARS
from queuecore import FlowProducer, Job, JobNode

_T = TypeVar("_T")

#: Levels of the job's own tree, counting the job (3: children and grandchildren).
DEPTH = 3
#: Children read per kind and node (completed, pending, failed, ignored).
MAX_CHILDREN = 6
#: Nodes shown in the job's tree at most; the rest is counted in "N more".
MAX_NODES = 40
#: Parents followed up towards the root at most.
MAX_UP = 10
#: Queues whose flows one shared producer reads before it is replaced (it keeps a
#: connection pool per queue).
MAX_FLOW_QUEUES = 64


@dataclass(slots=True)
class FlowNode:
    queue: str
    id: str
    name: str
    state: str
    progress: float | None
    progress_text: str
    current: bool = False
    ancestor: bool = False  # on the path from the root; its other children are not listed
    children: list[FlowNode] = field(default_factory=list)
    more: int = 0  # children not shown
    deeper: bool = False  # has children below the depth shown


@dataclass(frozen=True, slots=True)
class FlowView:
    root: FlowNode
    cut_above: bool  # the chain of parents is longer than MAX_UP


def _node(job: Job, *, current: bool = False, ancestor: bool = False) -> FlowNode:
    progress = job.progress
    return FlowNode(
        queue=job.queue.name, id=job.id, name=clip(job.name, NAME_CHARS), state=job.get_state(),
        progress=progress_percent(progress),
        progress_text="" if progress in (0, None, "") else shorten(str(progress), 40),
        current=current, ancestor=ancestor)


def _parent_of(job: Job, prefix: str) -> tuple[str, str] | None:
    """``(queue, id)`` of the job's parent in this connection's prefix, else None."""
    parent = job.parent  # untrusted JSON object
    if parent and parent.get("id") and parent.get("queueKey"):
        queue = parse_queue_key(str(parent["queueKey"]), prefix)
        return (queue, str(parent["id"])) if queue else None
    if job.parent_key:
        return parse_job_key(job.parent_key, prefix)
    return None


def _ancestors(connection: str, prefix: str, job: Job) -> tuple[list[Job], bool]:
    """The job's parents, root first, and whether the chain goes on above them."""
    chain: list[Job] = []
    seen = {(job.queue.name, job.id)}
    current = job
    while (ref := _parent_of(current, prefix)) is not None:
        if ref in seen:  # a loop in hostile data
            break
        if len(chain) >= MAX_UP:
            return chain[::-1], True
        seen.add(ref)
        parent = connections.get_queue(connection, ref[0]).get_job(ref[1])
        if parent is None:
            break
        chain.append(parent)
        current = parent
    return chain[::-1], False


def flow_view(connection: str, job: Job) -> FlowView | None:
    """The flow of ``job``, or None when it has neither parent nor children."""
    conn = connections.connection_settings(connection)
    parents, cut_above = _ancestors(connection, conn.prefix, job)
    leaves: list[FlowNode] = []

    def walk(tree: JobNode | None) -> FlowNode | None:
        # Under the producer's lock: its jobs read through its connections.
        if tree is None or (not parents and not tree.children
                            and not connections.get_queue(connection, job.queue.name)
                            .get_flow_parents([job.id])):
            return None
        return _subtree(tree, 1, [MAX_NODES], leaves, current=True)

    current = _shared(connection).read(job.id, job.queue.name, walk)
    if current is None:
        return None
    _mark_deeper(connection, leaves)
    root = current
    for parent in reversed(parents):
        node = _node(parent, ancestor=True)
        node.children.append(root)
        root = node
    return FlowView(root=root, cut_above=cut_above)


class _SharedFlows:
    """A connection's ``FlowProducer``, one reader at a time (the producer opens its queues
    lazily, unguarded: two threads could each open one and leak the other)."""

    def __init__(self, url: str, prefix: str) -> None:
        self.url, self.prefix = url, prefix
        self.lock = threading.Lock()
        self.producer: FlowProducer | None = None
        #: (prefix, name) of the queues the producer has opened (a pool each).
        self.queues: set[tuple[str, str]] = set()
        self.closed = False

    def read(self, job_id: str, queue: str, walk: Callable[[JobNode | None], _T]) -> _T:
        """``walk`` over the flow under the job, the producer kept open (and to this caller)
        until it returns."""
        with self.lock:
            if self.closed:  # fetched just before ``close_flows``: a producer of its own
                with FlowProducer(self.url, prefix=self.prefix) as producer:
                    return walk(self._get_flow(producer, job_id, queue))
            # Past the bound, a queue not opened yet replaces the producer; a known one reads
            # on (its children's queues may still add some: up to twice the bound).
            known = (self.prefix, queue) in self.queues
            if self.producer is None or len(self.queues) >= MAX_FLOW_QUEUES * (1 + known):
                self._close()
                self.producer = FlowProducer(self.url, prefix=self.prefix)
            tree = self._get_flow(self.producer, job_id, queue)
            self.queues.add((self.prefix, queue))
            self._count(tree)
            return walk(tree)

    @staticmethod
    def _get_flow(producer: FlowProducer, job_id: str, queue: str) -> JobNode | None:
        return producer.get_flow(job_id=job_id, queue_name=queue, depth=DEPTH,
                                 max_children=MAX_CHILDREN)

    def _count(self, tree: JobNode | None) -> None:
        """Every queue the producer opened for ``tree`` (its children's may be others)."""
        todo = [tree] if tree is not None else []
        while todo:
            node = todo.pop()
            keys = node.job.queue.keys
            self.queues.add((keys.prefix, keys.name))
            todo += node.children

    def close(self) -> None:
        with self.lock:
            self.closed = True
            self._close()

    def _close(self) -> None:
        producer, self.producer = self.producer, None
        self.queues.clear()
        if producer is not None:
            producer.close()


_shared_lock = threading.Lock()
_shared_flows: dict[str, _SharedFlows] = {}


def _shared(connection: str) -> _SharedFlows:
    conn = connections.connection_settings(connection)
    with _shared_lock:
        found = _shared_flows.get(connection)
        if found is None:  # (settings that change reset these: ``close_flows``)
            found = _shared_flows[connection] = _SharedFlows(conn.url, conn.prefix)
        return found


@conf.on_reset
def close_flows() -> None:
    """Close the producers with the connections' queues (``connections.close_all``)."""
    with _shared_lock:
        shared = list(_shared_flows.values())
        _shared_flows.clear()
    for one in shared:
        one.close()


def _subtree(tree: JobNode, level: int, budget: list[int], leaves: list[FlowNode], *,
             current: bool = False) -> FlowNode:
    job = tree.job
    assert isinstance(job, Job)
    node = _node(job, current=current)
    if level >= DEPTH:
        leaves.append(node)
        return node
    kids = tree.children
    for child in kids:
        if budget[0] <= 0:
            break
        budget[0] -= 1
        node.children.append(_subtree(child, level + 1, budget, leaves))
    # get_flow reads at most MAX_CHILDREN of each kind: count the rest when a kind was full.
    if len(kids) >= MAX_CHILDREN or len(node.children) < len(kids):
        total = sum(job.get_dependencies_count().values())
        node.more = max(0, total - len(node.children))
    return node


def _mark_deeper(connection: str, leaves: list[FlowNode]) -> None:
    """Mark the nodes of the last level shown that have children (one call per queue)."""
    by_queue: dict[str, list[FlowNode]] = defaultdict(list)
    for leaf in leaves:
        by_queue[leaf.queue].append(leaf)
    for queue, nodes in by_queue.items():
        parents = connections.get_queue(connection, queue).get_flow_parents(n.id for n in nodes)
        for n in nodes:
            n.deeper = n.id in parents
