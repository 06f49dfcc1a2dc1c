"""Builders of BullMQ's read helpers that queuecore lacked: counts per priority and by types,
job-state checks, deduplication keys and a flow parent's dependency counts. Reads are plain
commands (one round trip each op); the one write, removing a deduplication key, is a script."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from ..base.errors import InvalidOptionsError
from ..base.keys import ALL_STATES, QueueKeys
from ..base.options import MAX_PRIORITY
from ..base.validation import int_between
from .op import Op, raw, script, single
from .ops import get_state, job_counts

PRIORITY_SHIFT = 2**32
DEPENDENCY_TYPES = ("processed", "unprocessed", "ignored", "failed")
# The states a job can be asked about (BullMQ's isCompleted() and friends, plus prioritized).
CHECKABLE_STATES = ("waiting", "active", "delayed", "prioritized", "waiting-children",
                    "completed", "failed")


def counts_per_priority(keys: QueueKeys, priorities: Iterable[int]) -> Op[dict[str, int]]:
    """Jobs queued at each priority, keyed by the priority as a string (as BullMQ): 0 counts
    `wait`, any other the `prioritized` entries of that priority. Repeats are counted once."""
    wanted = list(dict.fromkeys(int_between("priority", p, 0, MAX_PRIORITY)
                                for p in priorities))
    calls = tuple(
        raw("LLEN", keys.wait) if p == 0
        else raw("ZCOUNT", keys.prioritized, p * PRIORITY_SHIFT, (p + 1) * PRIORITY_SHIFT - 1)
        for p in wanted)
    return Op(calls, lambda replies: {str(p): int(n) for p, n in zip(wanted, replies,
                                                                    strict=True)})


def job_count_by_types(keys: QueueKeys, types: Sequence[str]) -> Op[int]:
    """The sum of the jobs in each state of ``types`` (every state when empty; a state given
    twice counts once, as BullMQ)."""
    unique = tuple(dict.fromkeys(types)) or ALL_STATES
    counts = job_counts(keys, unique)
    return Op(counts.calls, lambda replies: sum(counts.decode(replies).values()))


def is_in_state(keys: QueueKeys, job_id: str, state: str) -> Op[bool]:
    """Whether the job is in ``state`` now (False for a job that does not exist)."""
    if state not in CHECKABLE_STATES:
        raise InvalidOptionsError(f"unknown state {state!r}; expected one of "
                                  f"{CHECKABLE_STATES}")
    op = get_state(keys, job_id)
    return Op(op.calls, lambda replies: op.decode(replies) == state)


def deduplication_job_id(keys: QueueKeys, dedup_id: str) -> Op[str | None]:
    """The id of the job that owns deduplication id ``dedup_id``, or None."""
    return single(raw("GET", keys.dedup(_dedup_id(dedup_id))),
                  lambda r: None if r is None else str(r))


def remove_deduplication_key(keys: QueueKeys, dedup_id: str) -> Op[bool]:
    """Remove the deduplication key; True when there was one."""
    return single(script("remove_deduplication_key", [keys.dedup(_dedup_id(dedup_id))], []),
                  lambda r: int(r) > 0)


def _dedup_id(dedup_id: Any) -> str:
    if not isinstance(dedup_id, str) or not dedup_id:
        raise InvalidOptionsError("a deduplication id must be a non-empty string")
    return dedup_id


def dependency_counts(keys: QueueKeys, job_id: str,
                      types: Sequence[str] = ()) -> Op[dict[str, int]]:
    """How many children a flow parent has of each type, in BullMQ's names: ``processed``
    (completed), ``unprocessed`` (pending), ``ignored`` (failures recorded by
    continue/ignore-on-failure children) and ``failed`` (children that failed the parent).
    Every type when ``types`` is empty."""
    for t in types:
        if t not in DEPENDENCY_TYPES:
            raise InvalidOptionsError(f"unknown dependency type {t!r}; expected one of "
                                      f"{DEPENDENCY_TYPES}")
    wanted = tuple(dict.fromkeys(types)) or DEPENDENCY_TYPES
    key = keys.job(job_id)
    command = {"processed": ("HLEN", ":processed"), "unprocessed": ("SCARD", ":dependencies"),
               "ignored": ("HLEN", ":failed"), "failed": ("ZCARD", ":unsuccessful")}
    calls = tuple(raw(command[t][0], key + command[t][1]) for t in wanted)
    return Op(calls, lambda replies: {t: int(n) for t, n in zip(wanted, replies, strict=True)})


def flow_parents(keys: QueueKeys, job_ids: Sequence[str]) -> Op[set[str]]:
    """Which of ``job_ids`` are flow parents: jobs with children pending, completed or failed
    (any of the four dependency keys exists). One EXISTS per job, sent together."""
    suffixes = (":dependencies", ":processed", ":failed", ":unsuccessful")
    calls = tuple(raw("EXISTS", *(keys.job(j) + s for s in suffixes)) for j in job_ids)
    return Op(calls, lambda replies: {j for j, n in zip(job_ids, replies, strict=True) if n})


def due_times(keys: QueueKeys, job_ids: Sequence[str]) -> Op[dict[str, int | None]]:
    """When each delayed job of ``job_ids`` is due (ms), from its score in ``delayed``
    (BullMQ's ``due * 0x1000 + counter``); None for a job that is not delayed."""
    calls = tuple(raw("ZSCORE", keys.delayed, j) for j in job_ids)

    def decode(replies: list[Any]) -> dict[str, int | None]:
        return {j: None if s is None else int(float(s)) >> 12
                for j, s in zip(job_ids, replies, strict=True)}

    return Op(calls, decode)


def ignored_children_failures(keys: QueueKeys, job_id: str) -> Op[dict[str, str]]:
    """Failure reasons of the children whose failure the parent recorded and went on
    (continue/ignore-on-failure), by the child's full job key."""
    return single(raw("HGETALL", keys.job(job_id) + ":failed"), _pairs)


def _pairs(reply: Any) -> dict[str, str]:
    if isinstance(reply, dict):
        return {str(k): str(v) for k, v in reply.items()}
    return dict(zip(reply[::2], reply[1::2], strict=True)) if reply else {}


def job_position(keys: QueueKeys, job_id: str, limit: int) -> Op[int | None]:
    """How many jobs a worker takes before this one: workers pop ``wait`` from its right end
    and only then the lowest score of ``prioritized``, so a waiting job's place counts from
    the right and a prioritized one comes after the whole of ``wait``. None when the job is
    in neither, or further than ``limit`` entries from the right end of ``wait`` (LPOS
    scans at most that many)."""
    limit = int_between("limit", limit, 1, 10_000_000)
    calls = (raw("LPOS", keys.wait, job_id, "RANK", -1, "MAXLEN", limit),
             raw("LLEN", keys.wait), raw("ZRANK", keys.prioritized, job_id))

    def decode(replies: list[Any]) -> int | None:
        index, length, rank = replies
        if index is not None:
            return int(length) - 1 - int(index)
        return None if rank is None else int(length) + int(rank)

    return Op(calls, decode)


def lock_ttl(keys: QueueKeys, job_id: str) -> Op[int]:
    """Milliseconds the job's lock has left: -2 when there is none (no worker holds it, or
    its worker stopped renewing it), -1 when it never expires."""
    return single(raw("PTTL", keys.lock(job_id)), int)
