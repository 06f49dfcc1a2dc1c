"""Many queues at a glance, in a few round trips: for dashboards that list hundreds or
thousands of queues of one connection (one pipeline for all of them, not calls per queue).

``queue_stats`` reads, for every named queue: the count of each state, the paused flag, the
enqueue time of the oldest waiting job, BullMQ's metrics of the last hour, the newest finish
time of each kind, and (one CLIENT LIST) the number of workers. ``finished_per_slot``
counts, for queues without metrics, the retained finished jobs per slot of time (the
``completed``/``failed`` sets are scored by finish time). ``read_timings`` reads queuecore's
timing histograms (see ``commands/timings.py``).
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..base.keys import QueueKeys
from ..commands.metrics import Metrics
from ..commands.op import Op, RawCall, raw
from ..commands.timings import Histograms
from ..commands.timings import read_timings as _read_timings

if TYPE_CHECKING:
    from ..client.queue import Queue

#: States counted, with the command that counts each.
COUNTED: tuple[tuple[str, str], ...] = (
    ("waiting", "LLEN"), ("active", "LLEN"), ("prioritized", "ZCARD"), ("delayed", "ZCARD"),
    ("waiting-children", "ZCARD"), ("completed", "ZCARD"), ("failed", "ZCARD"),
    ("paused", "LLEN"),
)
_KEY = {"waiting": "wait"}
#: ``metrics:<kind>:data`` entries read: the hour before the current minute.
METRIC_POINTS = 59
_PER_QUEUE = len(COUNTED) + 8


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


def _queue_calls(keys: QueueKeys) -> list[RawCall]:
    calls = [raw(cmd, keys.key(_KEY.get(state, state))) for state, cmd in COUNTED]
    calls.append(raw("HEXISTS", keys.key("meta"), "paused"))
    calls.append(raw("LRANGE", keys.key("wait"), -1, -1))
    for kind in ("completed", "failed"):
        metrics = keys.key(f"metrics:{kind}")
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
        names = [dict(p.split("=", 1) for p in line.split(" ") if "=" in p).get("name", "")
                 for line in _text(reply).splitlines()]
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


def queue_stats(queue: Queue, names: Sequence[str]) -> list[QueueStats]:
    """Stats of these queues (same connection and prefix as ``queue``), in two round trips
    plus one CLIENT LIST."""
    prefix = queue.keys.prefix
    keys = [QueueKeys.of(n, prefix) for n in names]
    calls: list[RawCall] = [raw("CLIENT", "LIST")]
    for k in keys:
        calls += _queue_calls(k)

    def decode(replies: list[Any]) -> tuple[dict[str, int], list[list[Any]]]:
        rows = [replies[1 + i * _PER_QUEUE:1 + (i + 1) * _PER_QUEUE] for i in range(len(keys))]
        return _worker_counts(replies[0], keys), rows

    workers, rows = queue.run_op(Op(tuple(calls), decode))
    oldest_ids = {i: _text(row[len(COUNTED) + 1][0]) for i, row in enumerate(rows)
                  if row[len(COUNTED) + 1]}
    order = list(oldest_ids)
    stamps: list[Any] = []
    if order:
        stamps = queue.run_op(Op(
            tuple(raw("HGET", keys[i].key(oldest_ids[i]), "timestamp") for i in order),
            lambda replies: replies))
    oldest = {i: (_int(s) or None) for i, s in zip(order, stamps, strict=True)}
    out = []
    for i, (k, row) in enumerate(zip(keys, rows, strict=True)):
        counts = {state: _int(n) for (state, _), n in zip(COUNTED, row, strict=False)}
        at = len(COUNTED) + 2
        metrics: dict[str, Metrics] = {}
        newest: dict[str, int | None] = {}
        for kind in ("completed", "failed"):
            count, prev_ts, prev_count = (_int(v) for v in (row[at] or [None] * 3))
            data = [_int(v) for v in row[at + 1] or []]
            metrics[kind] = Metrics(count, prev_ts, prev_count, data, len(data))
            newest[kind] = _first_score(row[at + 2])
            at += 3
        out.append(QueueStats(name=k.name, counts=counts, paused=bool(_int(row[len(COUNTED)])),
                              workers=workers.get(k.name, 0),
                              oldest_waiting_timestamp=oldest.get(i), metrics=metrics,
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
