"""The state invariants of a queue, read straight from Redis."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

LISTS = ("wait", "paused", "active")
ZSETS = ("prioritized", "delayed", "completed", "failed", "waiting-children")
QUEUE_HASHES = {"meta"}
SCHEDULER_RUN = re.compile(r"repeat:[^:]+:[0-9]+")


def queue_layout(r: Any, base: str) -> dict[str, list[str]]:
    """structure name -> ids in it (lists in list order)."""
    out = {name: r.lrange(base + name, 0, -1) for name in LISTS}
    out.update({name: r.zrange(base + name, 0, -1) for name in ZSETS})
    return out


def job_hash_ids(r: Any, base: str) -> set[str]:
    """Ids of every job hash of the queue (keys base<id> of type hash, id without ':', or a
    scheduler's run ``repeat:<scheduler id>:<due ms>``)."""
    ids = set()
    for key in r.scan_iter(match=base + "*", count=1000):
        rest = key[len(base):]
        if (":" in rest and not SCHEDULER_RUN.fullmatch(rest)) or rest in QUEUE_HASHES:
            continue
        if r.type(key) == "hash":
            ids.add(rest)
    return ids


def check_invariants(r: Any, base: str) -> dict[str, str]:
    """Assert: every job id lives in exactly one state structure, once, and has its hash;
    every job hash is in a structure; a lock only on an active job; `stalled` only holds
    active ids. Returns id -> structure."""
    layout = queue_layout(r, base)
    where: dict[str, str] = {}
    problems = []
    for name, ids in layout.items():
        for job_id, n in Counter(ids).items():
            if n > 1:
                problems.append(f"{job_id} is {n} times in {name}")
            if job_id in where:
                problems.append(f"{job_id} is in both {where[job_id]} and {name}")
            where[job_id] = name
    hashes = job_hash_ids(r, base)
    for job_id in sorted(set(where) - hashes):
        problems.append(f"{job_id} in {where[job_id]} has no hash")
    for job_id in sorted(hashes - set(where)):
        problems.append(f"job hash {job_id} is in no state structure")
    for key in r.scan_iter(match=base + "*:lock", count=1000):
        job_id = key[len(base):-len(":lock")]
        if where.get(job_id) != "active":
            problems.append(f"lock of {job_id} which is in {where.get(job_id)}")
    for job_id in r.smembers(base + "stalled"):
        if where.get(job_id) != "active":
            problems.append(f"stalled suspect {job_id} is in {where.get(job_id)}")
    if layout["paused"]:
        problems.append(f"legacy paused list is used: {layout['paused']}")
    assert not problems, "state invariants broken:\n" + "\n".join(problems)
    return where
