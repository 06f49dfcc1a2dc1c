"""The failure groups of a queue, kept incrementally in side keys of the queue.

Side keys (``<prefix>:<queue>:qd:``, see ``queuecore.Triage``):

- ``fgroups``: hash, group key -> JSON (type, message, frame, attempts sum/count/max);
- ``fg:<key>``: sorted set of the group's job ids, scored by finishedOn;
- ``fgjob``: hash, job id -> ``<group key> <attempts>`` (to move a job that failed again);
- ``fgcursor``: hash, the finishedOn score reached and the ids seen at exactly that score;
- ``fglock``: who runs a pass now (one at a time per queue, any process).

A pass reads only the failed set's entries newer than the cursor, in bounded batches, so a
page at 100,000 failed jobs reads what failed since the last one. Jobs that left the failed
set (retried, removed) are dropped lazily: when the groups hold more ids than the failed set,
each group's ids no longer failed (ZDIFF) are taken out. Counts, first and last seen and the
sample come from the group's sorted set, so they are exact after a pass; the attempts
average is over the group's current jobs, the maximum over every job it has seen.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

from dashboard import connections
from dashboard.bulk.normalise import Failure, classify, search_term
from dashboard.formatting import ms_to_datetime
from dashboard.search.matcher import _stack
from queuecore import Triage

BATCH = 500
FIELDS = ("failedReason", "stacktrace", "attemptsMade", "atm")
LOCK_SECONDS = 30


@dataclass(frozen=True, slots=True)
class Group:
    key: str
    type: str
    message: str
    frame: str
    count: int
    first_seen: Any
    last_seen: Any
    max_attempts: int
    avg_attempts: float
    sample_id: str
    search: str


@dataclass(frozen=True, slots=True)
class PassResult:
    indexed: int  # failed-set entries read by this pass
    pending: bool  # more remain (the time budget ran out)


def triage(connection: str, queue: str) -> Triage:
    return Triage(connections.get_queue(connection, queue))


# The stacktrace is read by the search's _stack, so the groups and a ``group:`` search classify
# a job alike (and a deeply nested stacktrace does not raise RecursionError).


def _int(raw: Any) -> int:
    try:
        return int(raw)
    except (TypeError, ValueError):
        return 0


def update(t: Triage, *, budget_s: float = 2.0, batch: int = BATCH) -> PassResult:
    """Index what failed since the last pass, for at most ``budget_s`` seconds."""
    token = uuid.uuid4().hex
    if not t.side(("SET", "fglock", token, "NX", "EX", LOCK_SECONDS))[0]:
        return PassResult(0, True)  # another process is at it
    try:
        indexed, deadline = 0, time.monotonic() + budget_s
        while True:
            n = _batch(t, batch)
            indexed += n
            if n < batch:
                _prune(t)
                return PassResult(indexed, False)
            if time.monotonic() > deadline:
                return PassResult(indexed, True)
    finally:
        if t.side(("GET", "fglock"))[0] == token:
            t.side(("DEL", "fglock"))


def _batch(t: Triage, size: int) -> int:
    cursor = t.side(("HGETALL", "fgcursor"))[0] or {}
    low = cursor.get("score", "-inf")
    seen = set(json.loads(cursor.get("ids", "[]")))
    entries = [(i, s) for i, s in t.scored_ids("failed", low, "+inf", size + len(seen))
               if i not in seen][:size]
    if not entries:
        return 0
    ids = [i for i, _ in entries]
    records = t.job_fields(ids, FIELDS)
    previous = t.side(("HMGET", "fgjob", *ids))[0]
    groups: dict[str, Failure] = {}
    members: dict[str, list[tuple[str, float, int]]] = {}
    left: list[tuple[str, str, int]] = []  # (group, id, attempts) of jobs that moved
    for (job_id, score), record, prev in zip(entries, records, previous, strict=True):
        if record is None:
            continue  # removed since: nothing to group
        failure = classify(record.get("failedReason", ""), _stack(record.get("stacktrace")))
        groups[failure.key] = failure
        # BullMQ 6 writes ``atm``; a BullMQ 5 ``attemptsMade`` wins when present (as both
        # peers read it).
        attempts = _int(record.get("attemptsMade") or record.get("atm"))
        members.setdefault(failure.key, []).append((job_id, score, attempts))
        if prev:
            old, _, old_attempts = prev.partition(" ")
            left.append((old, job_id, _int(old_attempts)))
    _write(t, groups, members, left)
    last = entries[-1][1]
    at_last = [i for i, s in entries if s == last]
    if str(last) == low or (low != "-inf" and float(low) == last):
        at_last = [*seen, *at_last]
    t.side(("HSET", "fgcursor", "score", repr(last), "ids", json.dumps(at_last)))
    return len(entries)


def _write(t: Triage, groups: dict[str, Failure], members: dict[str, list[tuple[str, float, int]]],
           left: list[tuple[str, str, int]]) -> None:
    keys = sorted(set(groups) | {g for g, _, _ in left})
    metas = dict(zip(keys, t.side(("HMGET", "fgroups", *keys))[0], strict=True))
    stats: dict[str, dict[str, Any] | None] = {
        k: json.loads(v) if v else None for k, v in metas.items()}
    commands: list[tuple[Any, ...]] = []
    for old, job_id, attempts in left:
        commands.append(("ZREM", f"fg:{old}", job_id))
        old_meta = stats.get(old)
        if old_meta:
            old_meta["n"] -= 1
            old_meta["sum"] -= attempts
    for key, jobs in members.items():
        f = groups[key]
        meta = stats.get(key) or {"type": f.type, "message": f.message, "frame": f.frame,
                                  "n": 0, "sum": 0, "max": 0}
        flat: list[Any] = []
        where: list[Any] = []
        for job_id, score, attempts in jobs:
            flat += [score, job_id]
            where += [job_id, f"{key} {attempts}"]
            meta["n"] += 1
            meta["sum"] += attempts
            meta["max"] = max(meta["max"], attempts)
        commands += [("ZADD", f"fg:{key}", *flat), ("HSET", "fgjob", *where)]
        stats[key] = meta
    commands += [("HSET", "fgroups", k, json.dumps(v)) for k, v in stats.items() if v]
    t.side(*commands)


def _prune(t: Triage) -> None:
    """Take out of the groups the jobs that left the failed set (when any did)."""
    keys = list((t.side(("HGETALL", "fgroups"))[0] or {}).keys())
    if not keys:
        return
    cards = t.side(*[("ZCARD", f"fg:{k}") for k in keys])
    failed = t.queue.get_job_counts("failed")["failed"]
    if sum(cards) <= failed:
        return
    for key in keys:
        gone = t.ids_not_in_state(f"fg:{key}", "failed")
        if gone:
            _take_out(t, key, gone)


def _take_out(t: Triage, key: str, ids: list[str]) -> None:
    raw, values = t.side(("HGET", "fgroups", key), ("HMGET", "fgjob", *ids))
    meta = json.loads(raw) if raw else None
    for v in values:
        if meta and v:
            meta["n"] -= 1
            meta["sum"] -= _int(v.partition(" ")[2])
    commands: list[tuple[Any, ...]] = [("ZREM", f"fg:{key}", *ids), ("HDEL", "fgjob", *ids)]
    if meta is not None and meta["n"] <= 0:
        commands += [("HDEL", "fgroups", key), ("DEL", f"fg:{key}")]
    elif meta is not None:
        commands.append(("HSET", "fgroups", key, json.dumps(meta)))
    t.side(*commands)


def forget(t: Triage, key: str, ids: list[str]) -> None:
    """Drop ids from a group now (after the dashboard retried or removed them)."""
    if ids:
        _take_out(t, key, ids)


def groups(t: Triage) -> list[Group]:
    """Every group, largest first (reads the index only: a handful of commands)."""
    metas = t.side(("HGETALL", "fgroups"))[0] or {}
    keys = list(metas)
    if not keys:
        return []
    replies = t.side(*[c for k in keys for c in (
        ("ZCARD", f"fg:{k}"), ("ZRANGE", f"fg:{k}", 0, 0, "WITHSCORES"),
        ("ZREVRANGE", f"fg:{k}", 0, 0, "WITHSCORES"))])
    out = []
    for i, key in enumerate(keys):
        count, first, last = replies[3 * i: 3 * i + 3]
        if not count:
            continue
        meta = json.loads(metas[key])
        first_score, last_id, last_score = _score(first)[1], *_score(last)
        out.append(Group(
            key=key, type=meta["type"], message=meta["message"], frame=meta["frame"],
            count=int(count), first_seen=ms_to_datetime(int(first_score)),
            last_seen=ms_to_datetime(int(last_score)), max_attempts=int(meta["max"]),
            avg_attempts=meta["sum"] / meta["n"] if meta["n"] > 0 else 0.0,
            sample_id=last_id, search=search_term(meta["message"]) or meta["type"]))
    out.sort(key=lambda g: (-g.count, g.type, g.message))
    return out


def _score(reply: Any) -> tuple[str, float]:
    """(member, score) of a one-entry ZRANGE ... WITHSCORES reply (RESP2 or RESP3)."""
    if not reply:
        return "", 0.0
    first = reply[0]
    if isinstance(first, list | tuple):
        return str(first[0]), float(first[1])
    return str(reply[0]), float(reply[1])


def group_ids(t: Triage, key: str, start: int, count: int) -> list[str]:
    """A slice of a group's ids, oldest first (a bulk operation's source)."""
    return [str(i) for i in t.side(("ZRANGE", f"fg:{key}", start, start + count - 1))[0]]


def group_size(t: Triage, key: str) -> int:
    return int(t.side(("ZCARD", f"fg:{key}"))[0])
