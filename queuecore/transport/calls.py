"""What both runners share: EVALSHA argument lists, MULTI bodies, error replies, and the
EVALSHA commands packed once in C (hiredis)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from redis.exceptions import NoScriptError, ResponseError

from ..commands.op import Op, RawCall, ScriptCall

try:
    from hiredis import pack_command

    HIREDIS = True
except ImportError:  # pragma: no cover - hiredis is a dependency
    HIREDIS = False
    pack_command = None  # type: ignore[assignment]

_pack = cast(Callable[[tuple[Any, ...]], bytes], pack_command)


def is_noscript(reply: Any) -> bool:
    return isinstance(reply, NoScriptError) or (
        isinstance(reply, ResponseError) and str(reply).startswith("NOSCRIPT")
    )


def raise_first_error(replies: list[Any]) -> None:
    for reply in replies:
        if isinstance(reply, Exception):
            raise reply


def evalsha_args(call: ScriptCall) -> tuple[Any, ...]:
    return ("EVALSHA", call.script.sha, len(call.keys), *call.keys, *call.args)


def queue_transaction(pipe: Any, op: Op[Any]) -> int:
    """Queue an all-or-nothing op: its scripts are loaded inside the same MULTI first, so no
    call inside EXEC can meet NOSCRIPT. Returns how many replies belong to the loads."""
    sources = {c.script.sha: c.script.source for c in op.calls if isinstance(c, ScriptCall)}
    for source in sources.values():
        pipe.execute_command("SCRIPT", "LOAD", source)
    for call in op.calls:
        pipe.execute_command(*(call.args if isinstance(call, RawCall) else evalsha_args(call)))
    return len(sources)


class ScriptPacker:
    """EVALSHA commands packed in C: the part before the arguments (command, SHA, key count
    and keys) is packed once per script, key list and argument count, and kept."""

    __slots__ = ("_heads",)

    _LIMIT = 256  # heads kept; past that the cache starts again (keys of many queues)

    def __init__(self) -> None:
        # head and the length of the argument part's own "*N\r\n" (cut off when joined)
        self._heads: dict[tuple[str, tuple[str, ...], int], tuple[bytes, int]] = {}

    def pack(self, call: ScriptCall) -> bytes:
        args = call.args
        head_key = (call.script.sha, call.keys, len(args))
        cached = self._heads.get(head_key)
        if cached is None:
            if len(self._heads) >= self._LIMIT:
                self._heads.clear()
            fixed: bytes = _pack(("EVALSHA", call.script.sha, len(call.keys), *call.keys))
            count = 3 + len(call.keys) + len(args)
            head = b"*%d\r\n" % count + fixed[fixed.index(b"\r\n") + 2:]
            cached = self._heads[head_key] = (head, len(b"*%d\r\n" % len(args)))
        if not args:
            return cached[0]
        return cached[0] + _pack(args)[cached[1]:]
