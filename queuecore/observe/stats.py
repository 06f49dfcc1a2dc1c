"""Many queues at a glance, in a few round trips: for dashboards that list hundreds or
thousands of queues of one connection (one pipeline for all of them, not calls per queue).

``queue_stats`` reads, for every named queue: the count of each state, the paused flag, the
enqueue time of the oldest waiting job (a read-only script per 200 queues), the number of
workers (one CLIENT LIST) and, when asked, BullMQ's metrics of the last hour and the newest
finish time of each kind. ``finished_per_slot``
counts, for queues without metrics, the retained finished jobs per slot of time (the
``completed``/``failed`` sets are scored by finish time). ``read_timings`` reads queuecore's
timing histograms (see ``commands/timings.py``).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..base.keys import QueueKeys
from ..commands.metrics import Metrics
from ..commands.op import Call, Op, RawCall, raw, script
from ..commands.timings import Histograms
from ..commands.timings import read_timings as _read_timings

if TYPE_CHECKING:
    from ..client.queue import Queue

#: States counted, in the order of the ``queue_stats`` script's reply.
COUNTED = ("waiting", "active", "prioritized", "delayed", "waiting-children", "completed",
           "failed", "paused")
_PER_QUEUE = len(COUNTED) + 2  # and the paused flag, the oldest waiting timestamp
#: Queues per script call (each call holds Redis for about 10 us per queue).
CHUNK = 200
_NAME = re.compile(r"(?:^| )name=(\S*)", re.MULTILINE)
#: ``metrics:<kind>:data`` entries read: the hour before the current minute.
METRIC_POINTS = 59


@dataclass(frozen=True, slots=True)
class QueueStats:
    name: str
    counts: dict[str, int]
    paused: bool
    workers: int = 0
    #: ``timestamp`` of the oldest job in ``wait`` (None when empty or unreadable).
    oldest_waiting_timestamp: int | None = None
    metrics: dict[str, Metrics] = field(default_factory=dict)
    #: Finish time (the set's score) of the newest ``completed`` and ``failed`` job.
    newest_finished: dict[str, int | None] = field(default_factory=dict)


def _int(value: Any) -> int:
    try:
        return int(value) if value is not None else 0
    except (TypeError, ValueError):
        return 0


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _first_score(reply: Any) -> int | None:
    if not reply:
        return None
    first = reply[0]
    score = first[1] if isinstance(first, (list, tuple)) else (reply[1] if len(reply) > 1
                                                                 else None)
    try:
        return int(float(score)) if score is not None else None
    except (TypeError, ValueError):
        return None


def _metric_calls(keys: QueueKeys) -> list[RawCall]:
    calls = []
    for kind in ("completed", "failed"):
        metrics = keys.metrics(kind)
        calls.append(raw("HMGET", metrics, "count", "prevTS", "prevCount"))
        calls.append(raw("LRANGE", metrics + ":data", 0, METRIC_POINTS - 1))
        calls.append(raw("ZREVRANGE", keys.key(kind), 0, 0, "WITHSCORES"))
    return calls


def _worker_counts(reply: Any, keys: Sequence[QueueKeys]) -> dict[str, int]:
    """Workers per queue from CLIENT LIST (both client-name forms, one per identity)."""
    forms: dict[str, str] = {}
    for k in keys:
        encoded = base64.b64encode(k.name.encode("utf-8")).decode("ascii")
        forms[f"{k.prefix}:{encoded}"] = k.name
        forms[f"{k.prefix}:{k.name}"] = k.name
    if isinstance(reply, (str, bytes)):
        names = _NAME.findall(_text(reply))  # only the names (a few thousand lines)
    else:
        names = [_text(dict(row).get("name", "")) for row in reply]
    seen: set[tuple[str, str]] = set()
    counts: dict[str, int] = {}
    for name in names:
        if name in forms:
            seen.add((forms[name], name))
            continue
        at = name.find(":w:")
        while at >= 0:
            queue = forms.get(name[:at])
            if queue is not None:
                seen.add((queue, name[at + 3:]))
                break
            at = name.find(":w:", at + 1)
    for queue, _ in seen:
        counts[queue] = counts.get(queue, 0) + 1
    return counts


def queue_stats(queue: Queue, names: Sequence[str], *, metrics: bool = False
                ) -> list[QueueStats]:
    """Stats of these queues (same connection and prefix as ``queue``) in one round trip: a
    read-only script call per 200 queues and one CLIENT LIST; with ``metrics``, also each
    queue's metrics of the last hour and newest finish times (6 commands per queue).

    Not for Redis Cluster: the script builds every queue's keys from its arguments and
    declares none (the queues may live on different nodes), so use it on a single Redis
    only; on a Cluster read each queue with its own ``Queue`` (the dashboard does so)."""
    prefix = queue.keys.prefix
    keys = [QueueKeys.of(n, prefix) for n in names]
    calls: list[Call] = [raw("CLIENT", "LIST")]
    chunks = [names[i:i + CHUNK] for i in range(0, len(names), CHUNK)]
    calls += [script("queue_stats", [], [prefix, *chunk]) for chunk in chunks]
    if metrics:
        for k in keys:
            calls += _metric_calls(k)
    replies = queue.run_op(Op(tuple(calls), lambda r: r))
    workers = _worker_counts(replies[0], keys)
    flat = [v for reply in replies[1:1 + len(chunks)] for v in reply]
    extra = replies[1 + len(chunks):]
    out = []
    for i, k in enumerate(keys):
        row = flat[i * _PER_QUEUE:(i + 1) * _PER_QUEUE]
        found: dict[str, Metrics] = {}
        newest: dict[str, int | None] = {}
        if metrics:
            at = i * 6
            for kind in ("completed", "failed"):
                count, prev_ts, prev_count = (_int(v) for v in (extra[at] or [None] * 3))
                data = [_int(v) for v in extra[at + 1] or []]
                found[kind] = Metrics(count, prev_ts, prev_count, data, len(data))
                newest[kind] = _first_score(extra[at + 2])
                at += 3
        out.append(QueueStats(
            name=k.name, counts={s: _int(n) for s, n in zip(COUNTED, row, strict=False)},
            paused=bool(_int(row[len(COUNTED)])), workers=workers.get(k.name, 0),
            oldest_waiting_timestamp=_int(row[len(COUNTED) + 1]) or None, metrics=found,
            newest_finished=newest))
    return out


def finished_per_slot(queue: Queue, names: Sequence[str], start_ms: int, width_ms: int,
                      slots: int) -> dict[str, dict[str, list[int]]]:
    """``{queue: {"completed": [n per slot], "failed": [...]}}``: retained finished jobs per
    slot of ``width_ms`` from ``start_ms`` (ZCOUNT on the finish-time scores), one round
    trip. Jobs removed by their retention options are not counted."""
    prefix = queue.keys.prefix
    calls: list[RawCall] = []
    for name in names:
        k = QueueKeys.of(name, prefix)
        for kind in ("completed", "failed"):
            for s in range(slots):
                low = start_ms + s * width_ms
                calls.append(raw("ZCOUNT", k.key(kind), low, f"({low + width_ms}"))
    if not calls:
        return {}
    replies = queue.run_op(Op(tuple(calls), lambda r: r))
    out: dict[str, dict[str, list[int]]] = {}
    at = 0
    for name in names:
        out[name] = {}
        for kind in ("completed", "failed"):
            out[name][kind] = [_int(v) for v in replies[at:at + slots]]
            at += slots
    return out


def read_timings(queue: Queue, resolution: str, starts: Sequence[int]) -> list[Histograms]:
    """queuecore's timing histograms of these minutes (``"m"``) or hours (``"h"``) by start
    ms, empty where no worker recorded any; one round trip."""
    return queue.run_op(_read_timings(queue.keys, resolution, starts))
