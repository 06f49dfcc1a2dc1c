"""Run command-layer ops on a sync or an asyncio redis-py client.

A lone call is sent as it is; several go in one non-transactional pipeline. Scripts are
called by SHA; a call that meets NOSCRIPT (a restarted or flushed server) loads its script
and is sent again, alone: a call that got NOSCRIPT never ran, so nothing runs twice.

redis-py's exceptions stop here: ``run`` raises queuecore's ``RedisError`` family (the
redis-py error as ``__cause__``), so no caller of queuecore sees a redis-py exception.

In Cluster a runner follows its queue's ``SlotRoute``: after MOVED (the command did not run)
it asks for the slot's master again and sends the command there; after a connection error it
asks again too, waiting for a failover (bounded, see ``SlotRoute.locate``), but sends the
command again only when it was never written (the connection could not be made). A command
that failed after it was written may have run: that error is raised, and the next command
goes to the master found then.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar, cast

import redis
import redis.asyncio as aioredis
from redis.exceptions import NoScriptError

from ..commands.op import Call, Op, RawCall, ScriptCall
from .autopipeline import AutoPipeline
from .calls import (
    HIREDIS,
    ScriptPacker,
    evalsha_args,
    is_noscript,
    queue_transaction,
    raise_first_error,
)
from .cluster import Address, SlotRoute, is_moved
from .direct import DirectConnection
from .errors import is_connection_error, not_sent, wrap
from .replicas import WaitedOp, policy_of
from .sentinel import is_sentinel_pool

T = TypeVar("T")


def _sent_again(exc: redis.RedisError, route: SlotRoute | None) -> str | None:
    """In Cluster, whether the command that raised ``exc`` did not run and may be sent again
    once the slot's master is found: "moved" (MOVED or ASK), "unreachable" (no connection to
    the master could be made), else None."""
    if route is None:
        return None
    if isinstance(exc, redis.ResponseError):
        return "moved" if is_moved(exc) else None
    return "unreachable" if is_connection_error(exc) and not_sent(exc) else None


def _retrieve(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()


class SyncRunner:
    """``route`` and ``connect`` (Cluster): where the queue's slot is served, and how to
    build a client for a connection's options (see the module's docstring).

    Script calls sent alone go over one held connection (``DirectConnection``) when the
    client is a plain redis-py client with its own pool."""

    def __init__(self, client: redis.Redis, route: SlotRoute | None = None,
                 connect: Callable[[Any], redis.Redis] | None = None) -> None:
        self.client = client
        self._exec: Callable[..., Any] = client.execute_command
        self._route = route
        self._connect = connect
        self._owner = route.owner if route is not None else None
        self._stale = False  # a connection error: ask for the slot's master before sending
        self._wait = policy_of(client)
        self._direct = self._direct_for(client)

    @staticmethod
    def _direct_for(client: redis.Redis) -> DirectConnection | None:
        if not HIREDIS or policy_of(client) is not None or \
                getattr(client, "connection", None) is not None or \
                not isinstance(client.connection_pool, redis.ConnectionPool):
            return None
        return DirectConnection(client.connection_pool)

    def run(self, op: Op[T]) -> T:
        route = self._route
        if route is not None and (self._stale or route.owner != self._owner):
            self._move(self._locate(self._owner) if self._stale else route.owner)
        try:
            return self._run(op)
        except redis.ReadOnlyError as exc:
            self.reset()
            raise wrap(exc) from exc
        except redis.RedisError as exc:
            self._stale = route is not None and is_connection_error(exc)
            why = _sent_again(exc, route)
            if why is None:
                raise wrap(exc) from exc
        # MOVED, or no connection to the master could be made: the command did not run.
        self._move(self._locate(None if why == "moved" else self._owner))
        try:
            return self._run(op)
        except redis.RedisError as exc:
            self._stale = is_connection_error(exc)
            raise wrap(exc) from exc

    def _locate(self, failed: Address | None) -> Address:
        assert self._route is not None
        try:
            owner = self._route.locate(failed)
        except redis.RedisError as exc:
            raise wrap(exc) from exc
        self._stale = False
        return owner

    def _move(self, owner: Address) -> None:
        """Send from now on to ``owner`` (a new client unless it is the current master)."""
        if owner == self._owner:
            return
        assert self._route is not None and self._connect is not None
        old, self.client = self.client, self._connect(self._route.connection(owner))
        self._owner = owner
        self._exec = self.client.execute_command
        self._wait = policy_of(self.client)
        if self._direct is not None:
            self._direct.drop()
        self._direct = self._direct_for(self.client)
        old.close()

    def reset(self) -> None:
        """Drop every connection, so that the next call connects anew: after READONLY the
        connections reach a demoted master, while the address (a proxy, a DNS name, a
        virtual IP) may by now lead to the new one. Nothing is retried here."""
        if self._direct is not None:
            self._direct.reset()
        self.client.connection_pool.disconnect()

    def close(self) -> None:
        """Close the client and its pool (the held connection with it)."""
        if self._direct is not None:
            self._direct.drop()
        self.client.close()

    def _script(self, call: ScriptCall) -> Any:
        direct = self._direct
        if direct is not None:
            done, reply = direct.try_call(call)
            if done:
                return reply
        return self._exec(*evalsha_args(call))

    def _one(self, call: Call) -> Any:
        if isinstance(call, RawCall):
            return self._exec(*call.args)
        try:
            return self._script(call)
        except NoScriptError:
            self._exec("SCRIPT", "LOAD", call.script.source)
            return self._script(call)

    def _waited(self, op: Op[T]) -> T:
        assert self._wait is not None
        waited = WaitedOp(op, self._wait)
        while True:
            pipe = self.client.pipeline(transaction=False)
            for args in waited.commands():
                cast(Any, pipe).execute_command(*args)
            sources = waited.take(pipe.execute(raise_on_error=False))
            if not sources:
                return cast(T, waited.result())
            for source in sources:
                self._exec("SCRIPT", "LOAD", source)

    def _run(self, op: Op[T]) -> T:
        if self._wait is not None:
            return self._waited(op)
        if op.transaction:
            tx = self.client.pipeline(transaction=True)
            loads = queue_transaction(tx, op)
            results: list[Any] = tx.execute(raise_on_error=False)[loads:]
            raise_first_error(results)
            return op.decode(results)
        if len(op.calls) == 1:
            return op.decode([self._one(op.calls[0])])
        pipe = self.client.pipeline(transaction=False)
        for call in op.calls:
            args = call.args if isinstance(call, RawCall) else evalsha_args(call)
            cast(Any, pipe).execute_command(*args)
        replies: list[Any] = pipe.execute(raise_on_error=False)
        for i, reply in enumerate(replies):
            if is_noscript(reply):
                replies[i] = self._one(op.calls[i])
        raise_first_error(replies)
        return op.decode(replies)


class AsyncRunner:
    """``route`` and ``connect`` as for ``SyncRunner``. Many calls may fail at once (a
    worker's calls in flight): one of them asks the route, the others wait for its answer."""

    def __init__(self, client: aioredis.Redis, route: SlotRoute | None = None,
                 connect: Callable[[Any], aioredis.Redis] | None = None) -> None:
        self.client = client
        self._exec = cast(Callable[..., Any], client.execute_command)
        self._route = route
        self._connect = connect
        self._owner = route.owner if route is not None else None
        self._stale = False
        self._locating: asyncio.Future[Address] | None = None
        self._wait = policy_of(client)
        self._packer = ScriptPacker()
        self._auto: AutoPipeline | None = None
        self._want_auto = False

    def enable_autopipeline(self) -> None:
        """Send lone script calls over one held, auto-pipelined connection (the worker's hot
        path: many calls in flight at once). A socket timeout becomes the time calls in
        flight may wait for a reply (see ``AutoPipeline``)."""
        self._want_auto = True
        self._auto = self._auto_for(self.client)

    def _auto_for(self, client: aioredis.Redis) -> AutoPipeline | None:
        pool = client.connection_pool
        # Not through Sentinel: its connections reconnect themselves (asking the sentinels,
        # checking the role) inside a send, while the auto-pipeline's reader reads them.
        if not self._want_auto or not HIREDIS or client.single_connection_client or \
                policy_of(client) is not None or is_sentinel_pool(pool) or \
                not isinstance(pool, aioredis.ConnectionPool):
            return None
        return AutoPipeline(pool, pool.connection_kwargs.get("socket_timeout"))

    async def close(self) -> None:
        """Close the client and its pool (the auto-pipelined connection first)."""
        if self._locating is not None:
            self._locating.cancel()
        auto, self._auto = self._auto, None
        if auto is not None:
            await auto.close()
        await self.client.aclose()

    async def reset(self) -> None:
        """Drop every connection (see ``SyncRunner.reset``); calls in flight on the
        auto-pipelined connection fail with a connection error, as in an outage."""
        auto = self._auto
        if auto is not None:
            self._auto = self._auto_for(self.client)
            await auto.close()
        await self.client.connection_pool.disconnect()

    async def run(self, op: Op[T]) -> T:
        route = self._route
        if route is not None and (self._stale or route.owner != self._owner):
            await self._move(await self._locate(self._owner) if self._stale else route.owner)
        try:
            auto = self._auto
            calls = op.calls
            if auto is not None and len(calls) == 1 and calls[0].__class__ is ScriptCall and \
                    not op.transaction:
                # The hot path of every worker (fetch, finish) and AsyncQueue call: a lone
                # script call straight onto the auto-pipelined connection, no coroutine
                # between. NOSCRIPT takes the general path, which loads the script and sends
                # the call again (it never ran).
                try:
                    reply = await auto.call(self._packer.pack(calls[0]))
                except NoScriptError:
                    return await self._run(op)
                return op.decode([reply])
            return await self._run(op)
        except redis.ReadOnlyError as exc:
            await self.reset()
            raise wrap(exc) from exc
        except redis.RedisError as exc:
            self._stale = route is not None and is_connection_error(exc)
            why = _sent_again(exc, route)
            if why is None:
                raise wrap(exc) from exc
        # MOVED, or no connection to the master could be made: the command did not run.
        await self._move(await self._locate(None if why == "moved" else self._owner))
        try:
            return await self._run(op)
        except redis.RedisError as exc:
            self._stale = is_connection_error(exc)
            raise wrap(exc) from exc

    async def _locate(self, failed: Address | None) -> Address:
        """The route's answer; calls failing together share one search (shielded: one
        caller cancelled does not end it for the others; ``close`` does)."""
        assert self._route is not None
        task = self._locating
        if task is None or task.done():
            task = self._locating = asyncio.ensure_future(self._route.alocate(failed))
            task.add_done_callback(_retrieve)  # also when every caller was cancelled
        try:
            owner = await asyncio.shield(task)
        except redis.RedisError as exc:
            raise wrap(exc) from exc
        self._stale = False
        return owner

    async def _move(self, owner: Address) -> None:
        """Send from now on to ``owner`` (a new client unless it is the current master)."""
        if owner == self._owner:
            return
        assert self._route is not None and self._connect is not None
        old, self.client = self.client, self._connect(self._route.connection(owner))
        self._owner = owner
        self._exec = cast(Callable[..., Any], self.client.execute_command)
        self._wait = policy_of(self.client)
        old_auto, self._auto = self._auto, self._auto_for(self.client)
        if old_auto is not None:
            await old_auto.close()
        await old.aclose()

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
        auto = self._auto
        if auto is not None:
            return await auto.call(self._packer.pack(call))
        pool = cast(Any, self.client.connection_pool)
        if self.client.single_connection_client or not HIREDIS:
            return await self._exec(*evalsha_args(call))
        conn = await pool.get_connection()
        try:
            await conn.send_packed_command(self._packer.pack(call), False)
            reply = await conn.read_response()
        except BaseException:
            await conn.disconnect()
            raise
        finally:
            await pool.release(conn)
        if isinstance(reply, redis.ResponseError):
            raise reply
        return reply

    async def _waited(self, op: Op[T]) -> T:
        assert self._wait is not None
        waited = WaitedOp(op, self._wait)
        while True:
            pipe = self.client.pipeline(transaction=False)
            for args in waited.commands():
                cast(Any, pipe).execute_command(*args)
            # Shielded, as below: a cancelled caller must not leave the connection half-read.
            sources = waited.take(await asyncio.shield(pipe.execute(raise_on_error=False)))
            if not sources:
                return cast(T, waited.result())
            for source in sources:
                await self._exec("SCRIPT", "LOAD", source)

    async def _run(self, op: Op[T]) -> T:
        if self._wait is not None:
            return await self._waited(op)
        if op.transaction:
            tx = self.client.pipeline(transaction=True)
            loads = queue_transaction(tx, op)
            results: list[Any] = (await tx.execute(raise_on_error=False))[loads:]
            raise_first_error(results)
            return op.decode(results)
        if len(op.calls) == 1:
            return op.decode([await self._one(op.calls[0])])
        pipe = self.client.pipeline(transaction=False)
        for call in op.calls:
            args = call.args if isinstance(call, RawCall) else evalsha_args(call)
            cast(Any, pipe).execute_command(*args)
        # Shielded: a caller cancelled mid-pipeline must not leave the pipeline's connection
        # checked out and half-read (redis-py does not release it); it finishes in ms.
        replies: list[Any] = await asyncio.shield(pipe.execute(raise_on_error=False))
        for i, reply in enumerate(replies):
            if is_noscript(reply):
                replies[i] = await self._one(op.calls[i])
        raise_first_error(replies)
        return op.decode(replies)
