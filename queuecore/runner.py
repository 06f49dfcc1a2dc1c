"""Run command-layer ops on a sync or an asyncio redis-py client.

A lone call is sent as it is; several go in one non-transactional pipeline. Scripts are
called by SHA; a call that meets NOSCRIPT (a restarted or flushed server) loads its script
and is sent again, alone: a call that got NOSCRIPT never ran, so nothing runs twice.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar, cast

import redis
import redis.asyncio as aioredis
from redis.exceptions import NoScriptError, ResponseError

from .cluster import is_moved

try:
    from hiredis import pack_command

    _HIREDIS = True
except ImportError:  # pragma: no cover - hiredis is a dependency
    _HIREDIS = False
from .commands import Call, Op, RawCall, ScriptCall

T = TypeVar("T")


def _is_noscript(reply: Any) -> bool:
    return isinstance(reply, NoScriptError) or (
        isinstance(reply, ResponseError) and str(reply).startswith("NOSCRIPT")
    )


def _raise_first_error(replies: list[Any]) -> None:
    for reply in replies:
        if isinstance(reply, Exception):
            raise reply


def _evalsha_args(call: ScriptCall) -> tuple[Any, ...]:
    return ("EVALSHA", call.script.sha, len(call.keys), *call.keys, *call.args)


def _queue_transaction(pipe: Any, op: Op[Any]) -> int:
    """Queue an all-or-nothing op: its scripts are loaded inside the same MULTI first, so no
    call inside EXEC can meet NOSCRIPT. Returns how many replies belong to the loads."""
    sources = {c.script.sha: c.script.source for c in op.calls if isinstance(c, ScriptCall)}
    for source in sources.values():
        pipe.execute_command("SCRIPT", "LOAD", source)
    for call in op.calls:
        pipe.execute_command(*(call.args if isinstance(call, RawCall) else _evalsha_args(call)))
    return len(sources)


class SyncRunner:
    """``reroute`` (Cluster) builds a client for the slot's new master after MOVED."""

    def __init__(self, client: redis.Redis,
                 reroute: Callable[[], redis.Redis] | None = None) -> None:
        self.client = client
        self._exec: Callable[..., Any] = client.execute_command
        self._reroute = reroute

    def run(self, op: Op[T]) -> T:
        try:
            return self._run(op)
        except redis.ResponseError as exc:
            if self._reroute is None or not is_moved(exc):
                raise
            old, self.client = self.client, self._reroute()  # MOVED: nothing ran
            self._exec = self.client.execute_command
            old.close()
            return self._run(op)

    def _one(self, call: Call) -> Any:
        if isinstance(call, RawCall):
            return self._exec(*call.args)
        try:
            return self._exec(*_evalsha_args(call))
        except NoScriptError:
            self._exec("SCRIPT", "LOAD", call.script.source)
            return self._exec(*_evalsha_args(call))

    def _run(self, op: Op[T]) -> T:
        if op.transaction:
            tx = self.client.pipeline(transaction=True)
            loads = _queue_transaction(tx, op)
            results: list[Any] = tx.execute(raise_on_error=False)[loads:]
            _raise_first_error(results)
            return op.decode(results)
        if len(op.calls) == 1:
            return op.decode([self._one(op.calls[0])])
        pipe = self.client.pipeline(transaction=False)
        for call in op.calls:
            args = call.args if isinstance(call, RawCall) else _evalsha_args(call)
            cast(Any, pipe).execute_command(*args)
        replies: list[Any] = pipe.execute(raise_on_error=False)
        for i, reply in enumerate(replies):
            if _is_noscript(reply):
                replies[i] = self._one(op.calls[i])
        _raise_first_error(replies)
        return op.decode(replies)


class AsyncRunner:
    """``reroute`` (Cluster) builds a client for the slot's new master after MOVED."""

    def __init__(self, client: aioredis.Redis,
                 reroute: Callable[[], aioredis.Redis] | None = None) -> None:
        self.client = client
        self._exec = cast(Callable[..., Any], client.execute_command)
        self._reroute = reroute

    async def run(self, op: Op[T]) -> T:
        try:
            return await self._run(op)
        except redis.ResponseError as exc:
            if self._reroute is None or not is_moved(exc):
                raise
            old, self.client = self.client, self._reroute()  # MOVED: nothing ran
            self._exec = cast(Callable[..., Any], self.client.execute_command)
            await old.aclose()
            return await self._run(op)

    async def _one(self, call: Call) -> Any:
        if isinstance(call, RawCall):
            return await self._exec(*call.args)
        try:
            return await self._script(call)
        except NoScriptError:
            await self._exec("SCRIPT", "LOAD", call.script.source)
            return await self._script(call)

    async def _script(self, call: ScriptCall) -> Any:
        """EVALSHA packed in C by hiredis and sent on a pooled connection: the hot path of
        every worker (redis-py's asyncio client packs in Python, per argument)."""
        pool = cast(Any, self.client.connection_pool)
        if self.client.single_connection_client or not _HIREDIS:
            return await self._exec(*_evalsha_args(call))
        conn = await pool.get_connection()
        try:
            await conn.send_packed_command(pack_command(_evalsha_args(call)), False)
            reply = await conn.read_response()
        except BaseException:
            await conn.disconnect()
            raise
        finally:
            await pool.release(conn)
        if isinstance(reply, redis.ResponseError):
            raise reply
        return reply

    async def _run(self, op: Op[T]) -> T:
        if op.transaction:
            tx = self.client.pipeline(transaction=True)
            loads = _queue_transaction(tx, op)
            results: list[Any] = (await tx.execute(raise_on_error=False))[loads:]
            _raise_first_error(results)
            return op.decode(results)
        if len(op.calls) == 1:
            return op.decode([await self._one(op.calls[0])])
        pipe = self.client.pipeline(transaction=False)
        for call in op.calls:
            args = call.args if isinstance(call, RawCall) else _evalsha_args(call)
            cast(Any, pipe).execute_command(*args)
        # Shielded: a caller cancelled mid-pipeline must not leave the pipeline's connection
        # checked out and half-read (redis-py does not release it); it finishes in ms.
        replies: list[Any] = await asyncio.shield(pipe.execute(raise_on_error=False))
        for i, reply in enumerate(replies):
            if _is_noscript(reply):
                replies[i] = await self._one(op.calls[i])
        _raise_first_error(replies)
        return op.decode(replies)
