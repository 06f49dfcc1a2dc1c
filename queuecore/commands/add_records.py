"""The records of add_jobs: one job's arguments in the short form a plain job takes or in
add_job's full form, and the one call that adds them (``Queue.add``, ``add_bulk``).

Nothing here does I/O."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from ..base.jsonutil import dumps
from ..base.keys import QueueKeys
from ..base.options import JobOptions
from .op import Arg, Op, ScriptCall, check
from .scripts import Script, get_script


def add_job_fields(keys: QueueKeys, name: str, data_json: str, opts: JobOptions,
                   timestamp: int, *, waits_for_children: bool = False,
                   opts_json: str | None = None) -> tuple[Arg, ...]:
    """add_job's ARGV[2] .. ARGV[15] for one job (``opts_json`` when the caller has it)."""
    dedup = opts.extra.get("de") or {}
    mode = "extend" if dedup.get("extend") else "replace" if dedup.get("replace") else ""
    parent_key, parent_json = "", ""
    parent = opts.extra.get("parent")
    if parent:
        parent_keys = QueueKeys.of(parent["queue"], parent.get("prefix", keys.prefix))
        parent_key = parent_keys.job(parent["id"])
        ref: dict[str, Any] = {"id": parent["id"], "queueKey": parent_keys.queue_key}
        for short in ("fpof", "cpof", "idof", "rdof"):
            if opts.extra.get(short):
                ref[short] = True
        parent_json = dumps(ref)
    return (opts.job_id or "", name, timestamp, data_json,
            opts_json if opts_json is not None else _opts_json(opts),
            opts.delay, opts.priority, "1" if opts.lifo else "0", dedup.get("id", ""),
            dedup.get("ttl", 0), mode, parent_key, parent_json,
            "1" if waits_for_children else "0")


def is_plain(opts: JobOptions) -> bool:
    """True when a job with ``opts`` can go as add_jobs' short "p" record: no delay,
    priority, lifo, deduplication or parent."""
    extra = opts.extra
    return not (opts.delay or opts.priority or opts.lifo or extra.get("de")
                or extra.get("parent"))


def add_record(keys: QueueKeys, name: str, data_json: str, opts: JobOptions, timestamp: int,
               opts_json: str, plain: bool) -> tuple[Arg, ...]:
    """One job's record in add_jobs' ARGV (``plain``: ``is_plain(opts)``)."""
    if plain:  # 6 arguments instead of 15: less to pack, send and parse per job
        return ("p", opts.job_id or "", name, str(timestamp), data_json, opts_json)
    return ("f", *add_job_fields(keys, name, data_json, opts, timestamp, opts_json=opts_json))


def add_jobs_call(base: str, key_names: tuple[str, ...],
                  records: Sequence[tuple[Arg, ...]]) -> Op[list[tuple[str, int]]]:
    """Jobs of one queue (``add_record``s) in one add_jobs call: one command, atomic (all or
    nothing, as a MULTI of add_job calls would be), one (job id, status) reply per job, in
    order. ``base``: the queue's ``keys.base`` (a property that builds the string per use),
    ``key_names``: ``add_job_keys(keys)``; both kept by the caller."""
    # Numbers as strings: hiredis packs a str in a fifth of the time of an int.
    if len(records) == 1:
        args: tuple[Arg, ...] = (base, "1", *records[0])
    else:
        flat: list[Arg] = [base, str(len(records))]
        name: Arg = ""
        opts: Arg = ""
        for record in records:
            if record[0] == "p":
                # A plain job with an auto id, named and optioned as the last "p" record:
                # "r", timestamp, data (3 arguments instead of 6).
                if not record[1] and record[2] == name and record[5] == opts:
                    flat += ("r", record[3], record[4])
                    continue
                name, opts = record[2], record[5]
            flat += record
        args = tuple(flat)
    return _add_op(get_script("add_jobs"), key_names, args)


# ScriptCall and Op are frozen dataclasses: their __init__ sets each field through
# object.__setattr__, ~0.2 µs a field, 1.2 µs for the two objects of every add. The slots'
# own descriptors set the same fields for a third of that (equal and hashable objects, as
# __init__ makes them); nothing else sees them before they are complete.
_new = object.__new__
_set_script, _set_keys, _set_args = (cast(Any, ScriptCall).script.__set__,
                                     cast(Any, ScriptCall).keys.__set__,
                                     cast(Any, ScriptCall).args.__set__)
_set_calls, _set_decode, _set_transaction = (cast(Any, Op).calls.__set__,
                                             cast(Any, Op).decode.__set__,
                                             cast(Any, Op).transaction.__set__)


def _add_op(script: Script, keys: tuple[str, ...],
            args: tuple[Arg, ...]) -> Op[list[tuple[str, int]]]:
    call = _new(ScriptCall)
    _set_script(call, script)
    _set_keys(call, keys)
    _set_args(call, args)
    op: Op[list[tuple[str, int]]] = _new(Op)
    _set_calls(op, (call,))
    _set_decode(op, _decode_add_call)
    _set_transaction(op, False)
    return op


def _decode_add_call(replies: list[Any]) -> list[tuple[str, int]]:
    return decode_adds(replies[0])


def decode_adds(replies: list[Any]) -> list[tuple[str, int]]:
    out: list[tuple[str, int]] = []
    append = out.append
    for reply in replies:
        if reply.__class__ is not list:  # a job's {id, status} is a list: no check needed
            check(reply, job_id=None, command="add")
        append((str(reply[0]), int(reply[1])))
    return out


def _opts_json(opts: JobOptions) -> str:
    return dumps(opts.to_json())
