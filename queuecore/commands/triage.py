"""Ops for working on many jobs of one queue by id, and on a namespace of side keys.

The side keys live under ``<prefix>:<queue>:<namespace>:`` (a dashboard's indexes, operation
states, trash): no BullMQ structure points at them, so BullMQ peers never read them. No
obliterate takes them along: Node's and queuecore's delete the jobs and a fixed list of the
queue's own keys, not ``<prefix>:<queue>:*``; side keys stay until deleted or expired.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from ..base.errors import InvalidOptionsError
from ..base.keys import ZSET_STATES, QueueKeys
from .job_edits import change_priority
from .op import Arg, Call, Op, raw, script
from .ops import job_ids, promote, remove, reprocess
from .paging import get_job_fields

_NAMESPACE = re.compile(r"[A-Za-z0-9_-]{1,32}")
#: Commands ``side`` runs, each on one side key (its first argument).
SIDE_COMMANDS = frozenset({
    "DEL", "EXISTS", "EXPIRE", "PEXPIRE", "TTL", "GET", "SET", "INCRBY",
    "HGET", "HMGET", "HGETALL", "HSET", "HSETNX", "HDEL", "HINCRBY", "HINCRBYFLOAT", "HLEN",
    "ZADD", "ZREM", "ZCARD", "ZSCORE", "ZRANGE", "ZRANGEBYSCORE", "ZREVRANGE", "ZCOUNT",
})


def check_namespace(namespace: str) -> str:
    if not isinstance(namespace, str) or not _NAMESPACE.fullmatch(namespace):
        raise InvalidOptionsError("namespace must be 1-32 letters, digits, '_' or '-'")
    return namespace


def side_key(keys: QueueKeys, namespace: str, part: str) -> str:
    if not isinstance(part, str) or not part:
        raise InvalidOptionsError("a side key needs a non-empty name")
    return f"{keys.base}{namespace}:{part}"


def side(keys: QueueKeys, namespace: str, commands: Sequence[Sequence[Arg]]) -> Op[list[Any]]:
    """Commands on side keys in one round trip: ``("HSET", "groups", "k", "v")`` runs HSET on
    ``<base><namespace>:groups``; replies in order."""
    calls: list[Call] = []
    for command in commands:
        if len(command) < 2 or str(command[0]).upper() not in SIDE_COMMANDS:
            raise InvalidOptionsError(f"not a side command: {list(command)[:2]!r}")
        name = str(command[0]).upper()
        calls.append(raw(name, side_key(keys, namespace, str(command[1])), *command[2:]))
    return Op(tuple(calls), list)


def scored_ids(keys: QueueKeys, state: str, low: str, high: str,
               count: int) -> Op[list[tuple[str, float]]]:
    """Ids of a sorted-set state with their scores in ``[low, high]`` (Redis score syntax,
    ``(`` for exclusive), lowest first, at most ``count``."""
    if state not in ZSET_STATES:
        raise InvalidOptionsError(f"{state!r} is not a sorted-set state")

    def decode(replies: list[Any]) -> list[tuple[str, float]]:
        flat = list(replies[0])
        if flat and isinstance(flat[0], list | tuple):  # RESP3 pairs
            return [(str(i), float(s)) for i, s in flat]
        return [(str(flat[i]), float(flat[i + 1])) for i in range(0, len(flat), 2)]

    return Op((raw("ZRANGEBYSCORE", keys.state_key(state), low, high, "WITHSCORES",
                   "LIMIT", 0, int(count)),), decode)


def ids(keys: QueueKeys, state: str, start: int, end: int, asc: bool) -> Op[list[str]]:
    return job_ids(keys, (state,), start, end, asc)


def job_fields(keys: QueueKeys, ids: Sequence[str],
               fields: Sequence[str]) -> Op[list[dict[str, str] | None]]:
    """Some fields of each job's hash (None for a job that does not exist): one HMGET per
    job, with ``timestamp`` (every job has it) asked too, to tell a missing job."""
    op = get_job_fields(keys, ids, ("timestamp", *fields))

    def decode(replies: list[Any]) -> list[dict[str, str] | None]:
        return [None if found is None else {f: found[f] for f in fields if f in found}
                for found in op.decode(replies)]

    return Op(op.calls, decode)


def ids_not_in_state(keys: QueueKeys, namespace: str, part: str, state: str) -> Op[list[str]]:
    """Members of a side sorted set that are not in ``state``'s sorted set (ZDIFF)."""
    if state not in ZSET_STATES:
        raise InvalidOptionsError(f"{state!r} is not a sorted-set state")
    return Op((raw("ZDIFF", 2, side_key(keys, namespace, part), keys.state_key(state)),),
              lambda replies: [str(i) for i in replies[0]])


def _codes(ops: list[Op[Any]]) -> Op[list[int]]:
    """Many one-call ops in one pipeline, each reply as a code (>= 0 done, < 0 refused)."""
    def code(reply: Any) -> int:
        return int(reply) if isinstance(reply, int) else 1

    return Op(tuple(op.calls[0] for op in ops), lambda replies: [code(r) for r in replies])


def retry_each(keys: QueueKeys, ids: Sequence[str], state: str) -> Op[list[int]]:
    return _codes([reprocess(keys, state, i) for i in ids])


def promote_each(keys: QueueKeys, ids: Sequence[str]) -> Op[list[int]]:
    return _codes([promote(keys, i) for i in ids])


def remove_each(keys: QueueKeys, ids: Sequence[str]) -> Op[list[int]]:
    return _codes([remove(keys, i) for i in ids])


def change_priority_each(keys: QueueKeys, ids: Sequence[str], priority: int) -> Op[list[int]]:
    return _codes([change_priority(keys, i, priority) for i in ids])


def trash_prefix(keys: QueueKeys, namespace: str, trash_id: str) -> str:
    return side_key(keys, namespace, f"trash:{check_trash_id(trash_id)}") + ":"


def check_trash_id(trash_id: str) -> str:
    if not isinstance(trash_id, str) or not _NAMESPACE.fullmatch(trash_id.replace(".", "_")):
        raise InvalidOptionsError("a trash id is 1-32 letters, digits, '.', '_' or '-'")
    return trash_id


def trash_each(keys: QueueKeys, namespace: str, trash_id: str, ids: Sequence[str],
               ttl_s: int, quiet: bool = False) -> Op[list[int]]:
    """Each job into the trash; ``quiet``: without a ``removed`` event per job (a clean
    emits one ``cleaned`` for all of them: ``trash_cleaned``)."""
    prefix = trash_prefix(keys, namespace, trash_id)
    index = prefix + "index"
    extra = ["quiet"] if quiet else []
    return _codes([Op((script("trash_job", [keys.meta, keys.events, index],
                              [keys.base, i, prefix, int(ttl_s), *extra]),), list)
                   for i in ids])


def trash_cleaned(keys: QueueKeys, count: int) -> Op[int]:
    """BullMQ's ``cleaned`` event (with ``count``) on the queue's events stream."""
    return Op((script("trash_cleaned", [keys.meta, keys.events], [int(count)]),),
              lambda replies: int(replies[0]))


def trash_ids(keys: QueueKeys, namespace: str, trash_id: str,
              count: int) -> Op[tuple[list[str], int]]:
    """The last ``count`` ids put in a trash (last removed first) and how many it holds."""
    index = trash_prefix(keys, namespace, trash_id) + "index"
    return Op((raw("ZREVRANGE", index, 0, int(count) - 1), raw("ZCARD", index)),
              lambda r: ([str(i) for i in r[0]], int(r[1])))


def restore_each(keys: QueueKeys, namespace: str, trash_id: str,
                 ids: Sequence[str]) -> Op[list[int]]:
    prefix = trash_prefix(keys, namespace, trash_id)
    index = prefix + "index"
    return _codes([Op((script("restore_job", [keys.meta, keys.events, keys.marker, index,
                                              keys.active, keys.delayed],
                                [keys.base, i, prefix]),), list) for i in ids])

