"""Reads of many jobs or many queues in one round trip, for pages that explain or chart
them: the states and lock times of a list of jobs of one queue, and the metrics and timing
histograms of many queues. Each is the same commands the one-item reads send, pipelined
(calling ``Queue.get_job_state`` in a loop costs a round trip per job).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..base.keys import QueueKeys
from ..commands import getters, ops
from ..commands.metrics import Metrics, get_metrics
from ..commands.op import Op
from ..commands.timings import Histograms
from ..commands.timings import read_timings as _read_timings

if TYPE_CHECKING:
    from ..client.queue import Queue


def _together(parts: Sequence[Op[Any]]) -> Op[list[Any]]:
    """The calls of ``parts`` in one pipeline; each part's decoder gets its own replies."""
    sizes = [len(p.calls) for p in parts]

    def decode(replies: list[Any]) -> list[Any]:
        out: list[Any] = []
        at = 0
        for part, size in zip(parts, sizes, strict=True):
            out.append(part.decode(replies[at:at + size]))
            at += size
        return out

    return Op(tuple(c for p in parts for c in p.calls), decode)


def job_states(queue: Queue, job_ids: Sequence[str]) -> dict[str, str]:
    """The state of each job of ``queue`` (``"unknown"`` for none), in one round trip."""
    ids = list(dict.fromkeys(str(j) for j in job_ids))
    if not ids:
        return {}
    states = queue.run_op(_together([ops.get_state(queue.keys, j) for j in ids]))
    return dict(zip(ids, (str(s) for s in states), strict=True))


def lock_ttls(queue: Queue, job_ids: Sequence[str]) -> dict[str, int]:
    """Milliseconds left on each job's worker lock (-2: none, -1: no expiry), one round
    trip."""
    ids = list(dict.fromkeys(str(j) for j in job_ids))
    if not ids:
        return {}
    ttls = queue.run_op(_together([getters.lock_ttl(queue.keys, j) for j in ids]))
    return dict(zip(ids, (int(t) for t in ttls), strict=True))


@dataclass(frozen=True, slots=True)
class HistoryReads:
    """One queue's figures for a history chart (see ``history_reads``)."""

    name: str
    completed: Metrics
    failed: Metrics
    timings: list[Histograms]


def history_reads(queue: Queue, names: Sequence[str], minutes: int, resolution: str,
                  starts: Sequence[int]) -> list[HistoryReads]:
    """For each of these queues (``queue``'s connection and prefix): BullMQ's completed and
    failed metrics of the last ``minutes`` minutes and queuecore's timing histograms of the
    slots ``starts`` (``read_timings``), all in one round trip.

    Not for Redis Cluster with more than one name (the queues may live on different nodes):
    there read each queue with its own ``Queue``, one name per call."""
    keys = [QueueKeys.of(n, queue.keys.prefix) for n in names]
    if not keys:
        return []
    end = max(0, minutes - 1)
    parts: list[Op[Any]] = []
    for k in keys:
        parts += [get_metrics(k, "completed", 0, end), get_metrics(k, "failed", 0, end),
                  _read_timings(k, resolution, starts)]
    replies = queue.run_op(_together(parts))
    return [HistoryReads(k.name, *replies[i * 3:i * 3 + 3]) for i, k in enumerate(keys)]
