"""Pure builders of every queue operation: keys and arguments in, an ``Op`` out.

Nothing here does I/O; ``Queue``, ``AsyncQueue``, ``Worker`` and ``Job`` run these ops.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..base.errors import InvalidOptionsError
from ..base.jsonutil import loads
from ..base.keys import ALL_STATES, LIST_STATES, STATE_SUFFIX, QueueKeys
from ..base.options import JobOptions
from .add_records import add_job_fields, decode_adds
from .op import Op, RawCall, ScriptCall, checked, raw, script, single
from .scripts import get_script

# -- adding -----------------------------------------------------------------------------------


def add_job_keys(keys: QueueKeys) -> tuple[str, ...]:
    """The KEYS of add_job and add_jobs (callers on a hot path keep them)."""
    return (keys.wait, keys.meta, keys.id, keys.delayed, keys.prioritized, keys.pc,
            keys.events, keys.marker, keys.active, keys.waiting_children)


def add_job_call(keys: QueueKeys, name: str, data_json: str, opts: JobOptions,
                 now: int, *, waits_for_children: bool = False,
                 opts_json: str | None = None,
                 key_names: tuple[str, ...] | None = None) -> ScriptCall:
    """The add_job script call (flows: one per job inside a MULTI); a flow parent
    ``waits_for_children``; ``opts_json`` when the caller has it already; ``key_names``:
    ``add_job_keys(keys)`` when the caller keeps it."""
    timestamp = opts.timestamp if opts.timestamp is not None else now
    return ScriptCall(
        get_script("add_job"),
        key_names if key_names is not None else add_job_keys(keys),
        (keys.base, *add_job_fields(keys, name, data_json, opts, timestamp,
                                    waits_for_children=waits_for_children,
                                    opts_json=opts_json)),
    )


def add_jobs(calls: Sequence[Any], transaction: bool = False) -> Op[list[tuple[str, int]]]:
    """One round trip for many adds; each reply is (job id, status). ``transaction`` writes
    all or nothing (flows)."""

    return Op(tuple(calls), decode_adds, transaction)


# -- reading ----------------------------------------------------------------------------------


def get_job_hash(keys: QueueKeys, job_id: str) -> Op[dict[str, str]]:
    return single(raw("HGETALL", keys.job(job_id)), _as_dict)


def get_job_hashes(keys: QueueKeys, ids: Sequence[str]) -> Op[list[dict[str, str]]]:
    return Op(tuple(raw("HGETALL", keys.job(i)) for i in ids),
              lambda replies: [_as_dict(r) for r in replies])


def _as_dict(reply: Any) -> dict[str, str]:
    if isinstance(reply, dict):
        return reply
    return dict(zip(reply[::2], reply[1::2], strict=True)) if reply else {}


def check_states(states: Sequence[str]) -> tuple[str, ...]:
    for state in states:
        if state not in STATE_SUFFIX:
            raise InvalidOptionsError(f"unknown state {state!r}; expected one of {ALL_STATES}")
    return tuple(states)


def job_counts(keys: QueueKeys, states: Sequence[str]) -> Op[dict[str, int]]:
    wanted = check_states(states or ALL_STATES)
    calls = tuple(
        raw("LLEN" if s in LIST_STATES else "ZCARD", keys.state_key(s)) for s in wanted
    )
    return Op(calls, lambda replies: {s: int(n) for s, n in zip(wanted, replies, strict=True)})


def job_ids(keys: QueueKeys, states: Sequence[str], start: int, end: int,
            asc: bool) -> Op[list[str]]:
    """Ids of each state in the range, newest first unless ``asc`` (per state, concatenated)."""
    wanted = check_states(states)
    calls: list[RawCall] = []
    for state in wanted:
        key = keys.state_key(state)
        if state in LIST_STATES:
            # Lists hold the newest on the left.
            if asc:
                calls.append(raw("LRANGE", key, -(end + 1) if end >= 0 else 0,
                                 -(start + 1)))
            else:
                calls.append(raw("LRANGE", key, start, end))
        else:
            calls.append(raw("ZRANGE" if asc else "ZREVRANGE", key, start, end))

    def decode(replies: list[Any]) -> list[str]:
        out: list[str] = []
        for state, ids in zip(wanted, replies, strict=True):
            ids = list(ids)
            if state in LIST_STATES and asc:
                ids.reverse()
            out.extend(i for i in ids if not str(i).startswith("0:"))
        return out

    return Op(tuple(calls), decode)


def get_state(keys: QueueKeys, job_id: str) -> Op[str]:
    return single(script("get_state", [keys.job(job_id)], [keys.base, job_id]), str)


def get_logs(keys: QueueKeys, job_id: str, start: int, end: int,
             asc: bool) -> Op[tuple[list[str], int]]:
    key = keys.logs(job_id)
    if asc:
        rng = raw("LRANGE", key, start, end)
    else:
        rng = raw("LRANGE", key, -(end + 1) if end >= 0 else 0, -(start + 1))

    def decode(replies: list[Any]) -> tuple[list[str], int]:
        lines = list(replies[0])
        if not asc:
            lines.reverse()
        return lines, int(replies[1])

    return Op((rng, raw("LLEN", key)), decode)


def log_counts(keys: QueueKeys, job_ids: list[str]) -> Op[dict[str, int]]:
    def decode(replies: list[Any]) -> dict[str, int]:
        return {job_id: int(n) for job_id, n in zip(job_ids, replies, strict=True)}

    return Op(tuple(raw("LLEN", keys.logs(job_id)) for job_id in job_ids), decode)


@dataclass(frozen=True, slots=True)
class Dependencies:
    """A flow parent's children, by full job key: results of the completed ones, the keys of
    those still pending (a child that failed for good without a policy stays here, as with
    BullMQ), failures recorded by cpof/idof children, and the children that failed the
    parent (fpof)."""

    processed: dict[str, Any]
    unprocessed: list[str]
    failed: dict[str, str]
    unsuccessful: list[str]


def dependencies(keys: QueueKeys, job_id: str) -> Op[Dependencies]:
    key = keys.job(job_id)

    def decode(replies: list[Any]) -> Dependencies:
        processed = {k: loads(v) for k, v in _as_dict(replies[0]).items()}
        return Dependencies(processed, sorted(replies[1]), _as_dict(replies[2]),
                            list(replies[3]))

    return Op((raw("HGETALL", key + ":processed"), raw("SMEMBERS", key + ":dependencies"),
               raw("HGETALL", key + ":failed"), raw("ZRANGE", key + ":unsuccessful", 0, -1)),
              decode)


def is_paused(keys: QueueKeys) -> Op[bool]:
    return single(raw("HEXISTS", keys.meta, "paused"), lambda r: bool(int(r)))


def workers(keys: QueueKeys) -> Op[list[dict[str, str]]]:
    names = worker_client_names(keys)

    def decode(reply: Any) -> list[dict[str, str]]:
        if isinstance(reply, str):
            rows = [dict(p.split("=", 1) for p in line.split(" ") if "=" in p)
                    for line in reply.splitlines()]
        else:
            rows = [dict(row) for row in reply]
        out = []
        seen: set[str] = set()
        # Node's form first: a queuecore worker has one connection of each form, with the
        # same ":w:<identity>" suffix, and is listed once.
        for form in names:
            for row in rows:
                name = row.get("name", "")
                if name == form:
                    out.append(row)
                elif name.startswith(form + ":w:"):
                    identity = name[len(form) + 3:]
                    if identity not in seen:
                        seen.add(identity)
                        out.append(row)
        return out

    return single(raw("CLIENT", "LIST"), decode)


def worker_client_names(keys: QueueKeys) -> tuple[str, str]:
    """The two client-name forms of this queue's workers: Node's base64 one and the raw one."""
    import base64

    encoded = base64.b64encode(keys.name.encode("utf-8")).decode("ascii")
    return f"{keys.prefix}:{encoded}", f"{keys.prefix}:{keys.name}"


# -- changing one job -------------------------------------------------------------------------


def update_progress(keys: QueueKeys, job_id: str, progress_json: str) -> Op[Any]:
    return single(
        script("update_progress", [keys.job(job_id), keys.events, keys.meta],
               [job_id, progress_json]),
        checked("update_progress", job_id),
    )


def add_log(keys: QueueKeys, job_id: str, line: str, keep: int) -> Op[int]:
    return single(
        script("add_log", [keys.job(job_id), keys.logs(job_id)], [line, keep]),
        lambda r: int(checked("log", job_id)(r)),
    )


def remove(keys: QueueKeys, job_id: str) -> Op[Any]:
    return single(script("remove_job", [keys.meta, keys.events], [keys.base, job_id]),
                  checked("remove", job_id))


def promote(keys: QueueKeys, job_id: str, count: int = 1) -> Op[int]:
    return single(
        script("promote", [keys.delayed, keys.wait, keys.prioritized, keys.pc, keys.meta,
                           keys.events, keys.marker, keys.active],
               [keys.base, job_id, count]),
        lambda r: int(checked("promote", job_id or None)(r)),
    )


def reprocess(keys: QueueKeys, state: str, job_id: str, *, count: int = 1,
              before_ms: int | None = None, reset_attempts: bool = False) -> Op[int]:
    if state not in ("completed", "failed"):
        raise InvalidOptionsError("only completed or failed jobs can be retried")
    return single(
        script("reprocess_job",
               [keys.state_key(state), keys.wait, keys.prioritized, keys.pc, keys.meta,
                keys.events, keys.marker, keys.active],
               [keys.base, job_id, count, "+inf" if before_ms is None else before_ms, state,
                "1" if reset_attempts else "0"]),
        lambda r: int(checked("retry", job_id or None)(r)),
    )


# -- queue-wide -------------------------------------------------------------------------------


def pause(keys: QueueKeys, paused: bool, batch: int = 1000) -> Op[int]:
    return single(
        script("pause", [keys.meta, keys.events, keys.marker, keys.wait, keys.paused,
                         keys.prioritized, keys.delayed, keys.active],
               ["pause" if paused else "resume", batch]),
        int,
    )


def drain(keys: QueueKeys, delayed: bool, batch: int = 5000) -> Op[int]:
    return single(
        script("drain", [keys.wait, keys.paused, keys.prioritized, keys.delayed, keys.pc,
                         keys.marker],
               [keys.base, "1" if delayed else "0", batch]),
        int,
    )


CLEANABLE = ("completed", "failed", "delayed", "prioritized", "waiting", "paused", "active",
             "waiting-children")


def clean(keys: QueueKeys, state: str, cutoff_ms: int, limit: int) -> Op[list[str]]:
    if state not in CLEANABLE:
        raise InvalidOptionsError(f"cannot clean state {state!r}; expected one of {CLEANABLE}")
    if limit < 0:
        raise InvalidOptionsError("limit must be >= 0")
    return single(
        script("clean", [keys.state_key(state), keys.events, keys.meta],
               [keys.base, cutoff_ms, limit, "list" if state in LIST_STATES else "zset",
                "finished" if state in ("completed", "failed") else "timestamp"]),
        lambda r: [str(i) for i in r],
    )


def obliterate(keys: QueueKeys, force: bool, batch: int = 1000) -> Op[int]:
    return single(
        script("obliterate", [keys.meta, keys.active], [keys.base, batch, "1" if force else "0"]),
        lambda r: int(checked("obliterate")(r)),
    )


def set_meta(keys: QueueKeys, **fields: int) -> Op[Any]:
    return single(raw("HSET", keys.meta, *[x for kv in fields.items() for x in kv]), int)


def del_meta(keys: QueueKeys, *fields: str) -> Op[Any]:
    return single(raw("HDEL", keys.meta, *fields), int)


def get_meta(keys: QueueKeys, *fields: str) -> Op[list[int | None]]:
    return single(raw("HMGET", keys.meta, *fields),
                  lambda r: [int(v) if v is not None else None for v in r])


def trim_events(keys: QueueKeys, max_length: int) -> Op[int]:
    return single(raw("XTRIM", keys.events, "MAXLEN", "~", max_length), int)


def redis_info() -> Op[dict[str, Any]]:
    def decode(replies: list[Any]) -> dict[str, Any]:
        info = dict(replies[0])
        policy = replies[1]
        if isinstance(policy, list):
            policy = dict(zip(policy[::2], policy[1::2], strict=False))
        info["maxmemory_policy"] = policy.get("maxmemory-policy", "unknown")
        return info

    return Op((raw("INFO"), raw("CONFIG", "GET", "maxmemory-policy")), decode)
