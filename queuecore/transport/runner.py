"""Run command-layer ops on a sync or an asyncio redis-py client.

A lone call is sent as it is; several go in one non-transactional pipeline. Scripts are
called by SHA; a call that meets NOSCRIPT (a restarted or flushed server) loads its script
and is sent again, alone: a call that got NOSCRIPT never ran, so nothing runs twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections import deque
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
    pack_command = None  # type: ignore[assignment]
from ..commands.op import Call, Op, RawCall, ScriptCall

T = TypeVar("T")
_pack = cast(Callable[[tuple[Any, ...]], bytes], pack_command)


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


class _ScriptPacker:
    """EVALSHA commands packed in C: the part before the arguments (command, SHA, key count
    and keys) is packed once per script, key list and argument count, and kept."""

    __slots__ = ("_heads",)

    _LIMIT = 256  # heads kept; past that the cache starts again (keys of many queues)

    def __init__(self) -> None:
        self._heads: dict[tuple[str, tuple[str, ...], int], bytes] = {}

    def pack(self, call: ScriptCall) -> bytes:
        args = call.args
        head_key = (call.script.sha, call.keys, len(args))
        head = self._heads.get(head_key)
        if head is None:
            if len(self._heads) >= self._LIMIT:
                self._heads.clear()
            fixed: bytes = _pack(("EVALSHA", call.script.sha, len(call.keys), *call.keys))
            count = 3 + len(call.keys) + len(args)
            head = b"*%d\r\n" % count + fixed[fixed.index(b"\r\n") + 2:]
            self._heads[head_key] = head
        if not args:
            return head
        packed: bytes = _pack(args)
        return head + packed[packed.index(b"\r\n") + 2:]


class _DirectConnection:
    """One connection of a sync client's pool, held for the script calls of its hot ops (adds
    above all): one send and one read per call, without redis-py's per-command layers or a
    pool checkout per call. Used by one thread at a time; a thread that finds it busy uses
    the pool. A command is never sent twice: when the connection fails after the request
    was written, the error says the command may or may not have run."""

    __slots__ = ("_conn", "_lock", "_packer", "_pid", "_pool")

    def __init__(self, pool: Any) -> None:
        self._pool = pool
        self._conn: Any = None
        self._pid = 0
        self._lock = threading.Lock()
        self._packer = _ScriptPacker()

    def try_call(self, call: ScriptCall) -> tuple[bool, Any]:
        """(True, reply), or (False, None) when another thread holds the connection."""
        if not self._lock.acquire(blocking=False):
            return False, None
        try:
            return True, self._call(call)
        finally:
            self._lock.release()

    def _ready(self) -> Any:
        conn = self._conn
        if conn is None or self._pid != os.getpid():
            # Checked out for good: the pool still owns it (disconnect() closes it too).
            conn = self._conn = self._pool.get_connection()
            self._pid = os.getpid()
            return conn
        # As the pool checks a connection it hands out: reconnect one that has gone stale
        # (a restarted server). Nothing has been sent yet, so this retries nothing.
        try:
            conn.connect()
            if conn.can_read():
                raise redis.ConnectionError("connection has unread data")
        except (redis.ConnectionError, redis.TimeoutError, OSError):
            conn.disconnect()
            conn.connect()
            if conn.can_read():
                raise redis.ConnectionError("connection not ready") from None
        return conn

    def _call(self, call: ScriptCall) -> Any:
        packed = self._packer.pack(call)
        conn = self._ready()
        conn.send_packed_command([packed], True)  # on failure: disconnects and raises
        try:
            return conn.read_response()
        except redis.ResponseError:
            raise  # a reply: the connection is in step
        except redis.TimeoutError as exc:
            conn.disconnect()
            raise redis.TimeoutError(
                f"no reply from Redis to {call.script.name} in time: it may still run ({exc})"
            ) from exc
        except (redis.ConnectionError, OSError) as exc:
            conn.disconnect()
            raise redis.ConnectionError(
                f"lost the connection to Redis waiting for the reply to {call.script.name}: "
                f"it may or may not have run ({exc})") from exc
        except BaseException:
            conn.disconnect()
            raise

    def drop(self) -> None:
        """Forget the connection (its client is being replaced or closed)."""
        self._conn = None

    def reset(self) -> None:
        """Close the held connection; the next call connects anew (after READONLY)."""
        with self._lock:
            if self._conn is not None:
                self._conn.disconnect()


class SyncRunner:
    """``reroute`` (Cluster) builds a client for the slot's new master after MOVED.

    Script calls sent alone go over one held connection (``_DirectConnection``) when the
    client is a plain redis-py client with its own pool."""

    def __init__(self, client: redis.Redis,
                 reroute: Callable[[], redis.Redis] | None = None) -> None:
        self.client = client
        self._exec: Callable[..., Any] = client.execute_command
        self._reroute = reroute
        self._direct = self._direct_for(client)

    @staticmethod
    def _direct_for(client: redis.Redis) -> _DirectConnection | None:
        if not _HIREDIS or getattr(client, "connection", None) is not None or \
                not isinstance(client.connection_pool, redis.ConnectionPool):
            return None
        return _DirectConnection(client.connection_pool)

    def run(self, op: Op[T]) -> T:
        try:
            return self._run(op)
        except redis.ReadOnlyError:
            self.reset()
            raise
        except redis.ResponseError as exc:
            if self._reroute is None or not is_moved(exc):
                raise
            old, self.client = self.client, self._reroute()  # MOVED: nothing ran
            self._exec = self.client.execute_command
            self._direct = self._direct_for(self.client)
            old.close()
            return self._run(op)

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
        return self._exec(*_evalsha_args(call))

    def _one(self, call: Call) -> Any:
        if isinstance(call, RawCall):
            return self._exec(*call.args)
        try:
            return self._script(call)
        except NoScriptError:
            self._exec("SCRIPT", "LOAD", call.script.source)
            return self._script(call)

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


class _AutoPipeline:
    """The worker's script calls on one held connection, auto-pipelined: the calls made in
    one turn of the event loop are written with one send, and one reader task hands the
    replies back in order (as ioredis does for Node). A call cancelled before its turn's
    write is not sent. When the connection fails, every call in flight gets the error (each
    may or may not have run) and the next write starts on a fresh connection."""

    def __init__(self, pool: Any) -> None:
        self._pool = pool
        self._queued: list[bytes] = []
        self._queued_futures: list[asyncio.Future[Any]] = []
        self._flush_pending = False
        self._batches: deque[tuple[bytes, list[asyncio.Future[Any]]]] = deque()
        self._writer: asyncio.Task[None] | None = None
        self._session: _PipelineSession | None = None
        self._closed = False

    async def call(self, packed: bytes) -> Any:
        if self._closed:
            raise redis.ConnectionError("the queue is closed")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        session = self._session
        if not self._flush_pending and session is not None and not session.inflight and \
                not session.broken and (self._writer is None or self._writer.done()):
            # Nothing in flight or queued (one call at a time): write now, skip a loop turn.
            await session.send(packed, [future])
            return await future
        self._queued.append(packed)
        self._queued_futures.append(future)
        if not self._flush_pending:
            self._flush_pending = True
            loop.call_soon(self._flush)
        return await future

    def _flush(self) -> None:
        self._flush_pending = False
        if self._closed:
            self._fail_unsent(redis.ConnectionError("the queue is closed"))
            return
        data = [d for d, f in zip(self._queued, self._queued_futures, strict=True)
                if not f.done()]  # a caller cancelled before the write: never sent
        futures = [f for f in self._queued_futures if not f.done()]
        self._queued, self._queued_futures = [], []
        if not futures:
            return
        self._batches.append((b"".join(data), futures))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.ensure_future(self._write_batches())

    async def _write_batches(self) -> None:
        while self._batches:
            # Whatever queued up while the previous write waited goes out together.
            data: list[bytes] = []
            futures: list[asyncio.Future[Any]] = []
            while self._batches:
                d, f = self._batches.popleft()
                data.append(d)
                futures += f
            session = self._session
            try:
                if session is None or session.broken:
                    self._session = None
                    if session is not None:
                        await session.close(self._pool)
                    session = self._session = _PipelineSession(
                        await self._pool.get_connection())
            except BaseException as exc:  # nothing was sent
                cancelled = isinstance(exc, asyncio.CancelledError)
                error = redis.ConnectionError("the queue is closed") if cancelled else exc
                for future in futures:
                    if not future.done():
                        future.set_exception(error)
                if cancelled:
                    raise
                continue
            await session.send(b"".join(data), futures)

    def _fail_unsent(self, exc: BaseException) -> None:
        """Calls queued or batched but not written: never sent."""
        futures = self._queued_futures
        self._queued, self._queued_futures = [], []
        while self._batches:
            futures += self._batches.popleft()[1]
        for future in futures:
            if not future.done():
                future.set_exception(exc)

    async def close(self) -> None:
        self._closed = True
        if self._writer is not None and not self._writer.done():
            self._writer.cancel()
            with contextlib.suppress(BaseException):
                await self._writer
        self._fail_unsent(redis.ConnectionError("the queue is closed"))
        session, self._session = self._session, None
        if session is not None:
            await session.close(self._pool)


class _PipelineSession:
    """One connection of an _AutoPipeline and the futures of the calls in flight on it."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.inflight: deque[asyncio.Future[Any]] = deque()
        self.broken = False
        self._reader: asyncio.Task[None] | None = None

    async def send(self, data: bytes, futures: list[asyncio.Future[Any]]) -> None:
        if self.broken:  # failed while the writer waited: nothing of this is sent
            error = redis.ConnectionError("lost the connection to Redis before sending")
            for future in futures:
                if not future.done():
                    future.set_exception(error)
            return
        # In flight before the write: the reader may see replies before the write returns.
        self.inflight.extend(futures)
        if self._reader is None or self._reader.done():
            self._reader = asyncio.ensure_future(self._read_replies())
        try:
            await self.conn.send_packed_command(data, False)
        except BaseException as exc:
            self._fail(exc)
            if isinstance(exc, asyncio.CancelledError):
                raise

    async def _read_replies(self) -> None:
        """One reader for the session's life, waiting also while nothing is in flight: no
        task is started per call, and a connection the server drops while idle is seen at
        once (the next call then opens a fresh one)."""
        conn = self.conn
        inflight = self.inflight
        while not self.broken:
            try:
                reply = await conn.read_response()
            except redis.ResponseError as exc:
                reply = exc
            except BaseException as exc:
                self._fail(exc)
                if isinstance(exc, asyncio.CancelledError):
                    raise
                return
            if not inflight:  # out of step: nothing can be trusted on this connection
                self._fail(redis.ConnectionError("Redis sent a reply no call was waiting for"))
                await conn.disconnect()
                return
            future = inflight.popleft()
            if future.done():  # its caller was cancelled: the reply is dropped
                continue
            if isinstance(reply, redis.ResponseError):
                future.set_exception(reply)
            else:
                future.set_result(reply)

    def _fail(self, exc: BaseException) -> None:
        if self.broken:
            return
        self.broken = True
        if isinstance(exc, redis.TimeoutError | redis.ConnectionError | OSError):
            error: BaseException = redis.ConnectionError(
                f"lost the connection to Redis with {len(self.inflight)} call(s) in flight: "
                f"each may or may not have run ({exc})")
        else:
            error = redis.ConnectionError(f"pipelined connection failed: {exc!r}")
        while self.inflight:
            future = self.inflight.popleft()
            if not future.done():
                future.set_exception(error)

    async def close(self, pool: Any) -> None:
        """Fail what is in flight, disconnect (unread replies may be pending) and give the
        connection back to its pool."""
        reader = self._reader
        if reader is not None and not reader.done() and reader is not asyncio.current_task():
            reader.cancel()
            with contextlib.suppress(BaseException):
                await reader
        self._fail(redis.ConnectionError("closed"))
        await self.conn.disconnect()
        await pool.release(self.conn)


class AsyncRunner:
    """``reroute`` (Cluster) builds a client for the slot's new master after MOVED."""

    def __init__(self, client: aioredis.Redis,
                 reroute: Callable[[], aioredis.Redis] | None = None) -> None:
        self.client = client
        self._exec = cast(Callable[..., Any], client.execute_command)
        self._reroute = reroute
        self._packer = _ScriptPacker()
        self._auto: _AutoPipeline | None = None
        self._want_auto = False

    def enable_autopipeline(self) -> None:
        """Send lone script calls over one held, auto-pipelined connection (the worker's hot
        path: many calls in flight at once). Needs a client without a socket timeout: the
        connection's reader waits for as long as calls are in flight."""
        self._want_auto = True
        self._auto = self._auto_for(self.client)

    def _auto_for(self, client: aioredis.Redis) -> _AutoPipeline | None:
        pool = client.connection_pool
        if not self._want_auto or not _HIREDIS or client.single_connection_client or \
                not isinstance(pool, aioredis.ConnectionPool) or \
                pool.connection_kwargs.get("socket_timeout") is not None:
            return None
        return _AutoPipeline(pool)

    async def close(self) -> None:
        """Close the client and its pool (the auto-pipelined connection first)."""
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
        try:
            auto = self._auto
            if auto is not None and len(op.calls) == 1 and not op.transaction:
                # The hot path of every worker (fetch, finish): a lone script call straight
                # onto the auto-pipelined connection. NOSCRIPT takes the general path below,
                # which loads the script and sends the call again (it never ran).
                call = op.calls[0]
                if call.__class__ is ScriptCall:
                    try:
                        reply = await auto.call(self._packer.pack(call))
                    except NoScriptError:
                        return await self._run(op)
                    return op.decode([reply])
            return await self._run(op)
        except redis.ReadOnlyError:
            await self.reset()
            raise
        except redis.ResponseError as exc:
            if self._reroute is None or not is_moved(exc):
                raise
            old, self.client = self.client, self._reroute()  # MOVED: nothing ran
            self._exec = cast(Callable[..., Any], self.client.execute_command)
            old_auto, self._auto = self._auto, self._auto_for(self.client)
            if old_auto is not None:
                await old_auto.close()
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
        auto = self._auto
        if auto is not None:
            return await auto.call(self._packer.pack(call))
        pool = cast(Any, self.client.connection_pool)
        if self.client.single_connection_client or not _HIREDIS:
            return await self._exec(*_evalsha_args(call))
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
