"""Bounded reads for scanning a whole state: a window of ids, then some fields of many jobs.

Each op is one short call per structure or per job (no script walks a state), so a scan of a
million jobs holds Redis for microseconds at a time however long the scan runs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..base.keys import LIST_STATES, QueueKeys
from ..base.validation import positive_int
from .op import Op, raw, single
from .ops import check_states


def scan_job_ids(keys: QueueKeys, state: str, cursor: int,
                 count: int) -> Op[tuple[list[str], int]]:
    """Up to ``count`` ids of ``state`` from position ``cursor``, newest first (lists from
    the left, sorted sets by the highest score), and the cursor of the next window (0 once
    the window reached the end). A position, not a Redis SCAN cursor: jobs added or removed
    while a scan runs shift it, so such a job may be seen twice or not at all."""
    (state,) = check_states([state])
    count = positive_int("count", count)
    start = max(int(cursor), 0)
    stop = start + count - 1
    key = keys.state_key(state)
    call = raw("LRANGE" if state in LIST_STATES else "ZREVRANGE", key, start, stop)

    def decode(reply: Any) -> tuple[list[str], int]:
        ids = [str(i) for i in reply]
        next_cursor = start + len(ids) if len(ids) == count else 0
        # BullMQ's marker entries ("0:<ts>") are no jobs.
        return [i for i in ids if not i.startswith("0:")], next_cursor

    return single(call, decode)


def get_job_fields(keys: QueueKeys, job_ids: Sequence[str],
                   fields: Sequence[str]) -> Op[list[dict[str, str] | None]]:
    """``fields`` of each job (one HMGET per job, pipelined): a dict of the fields present,
    None for a job whose hash is gone."""
    wanted = tuple(str(f) for f in fields)
    if not wanted:
        raise ValueError("get_job_fields needs at least one field")

    def decode(replies: list[Any]) -> list[dict[str, str] | None]:
        out: list[dict[str, str] | None] = []
        for values in replies:
            present = {f: v for f, v in zip(wanted, values, strict=True) if v is not None}
            out.append(present or None)
        return out

    return Op(tuple(raw("HMGET", keys.job(str(i)), *wanted) for i in job_ids), decode)
