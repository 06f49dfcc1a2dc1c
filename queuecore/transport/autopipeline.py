"""The worker's auto-pipelined connection: the script calls of one loop turn in one write,
one reader task handing replies back in order."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from typing import Any

import redis


class AutoPipeline:
    """The worker's script calls on one held connection, auto-pipelined: the calls made in
    one turn of the event loop are written with one send, and one reader task hands the
    replies back in order (as ioredis does for Node). A call cancelled before its turn's
    write is not sent. When the connection fails, every call in flight gets the error (each
    may or may not have run) and the next write starts on a fresh connection.

    ``reply_timeout`` (the pool's socket timeout, seconds): calls in flight that see no reply
    for that long fail with a timeout (each may or may not have run), as a read with a socket
    timeout would; the held connection itself waits without one while nothing is in flight."""

    def __init__(self, pool: Any, reply_timeout: float | None = None) -> None:
        self._pool = pool
        self._reply_timeout = reply_timeout
        self._queued: list[bytes] = []
        self._queued_futures: list[asyncio.Future[Any]] = []
        self._flush_pending = False
        self._batches: deque[tuple[bytes, list[asyncio.Future[Any]]]] = deque()
        self._writer: asyncio.Task[None] | None = None
        self._session: PipelineSession | None = None
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
                    session = self._session = PipelineSession(
                        await self._pool.get_connection(), self._reply_timeout)
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


class PipelineSession:
    """One connection of an AutoPipeline and the futures of the calls in flight on it."""

    def __init__(self, conn: Any, reply_timeout: float | None = None) -> None:
        self.conn = conn
        self.inflight: deque[asyncio.Future[Any]] = deque()
        self.broken = False
        self._reader: asyncio.Task[None] | None = None
        # The reader waits with no timeout (also while idle); a watchdog times the replies.
        self._socket_timeout = conn.socket_timeout
        conn.socket_timeout = None
        self._reply_timeout = reply_timeout
        self._progress = 0.0  # when the oldest call in flight was sent or a reply came
        self._watch: asyncio.TimerHandle | None = None

    async def send(self, data: bytes, futures: list[asyncio.Future[Any]]) -> None:
        if self.broken:  # failed while the writer waited: nothing of this is sent
            error = redis.ConnectionError("lost the connection to Redis before sending")
            for future in futures:
                if not future.done():
                    future.set_exception(error)
            return
        timeout = self._reply_timeout
        if timeout is not None:
            if not self.inflight:
                self._progress = time.monotonic()
            if self._watch is None:
                self._watch = asyncio.get_running_loop().call_later(timeout, self._check)
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
            self._progress = time.monotonic()
            if future.done():  # its caller was cancelled: the reply is dropped
                continue
            if isinstance(reply, redis.ResponseError):
                future.set_exception(reply)
            else:
                future.set_result(reply)

    def _check(self) -> None:
        """The watchdog: calls in flight with no reply for ``reply_timeout`` fail."""
        self._watch = None
        timeout = self._reply_timeout
        if self.broken or not self.inflight or timeout is None:
            return
        late = time.monotonic() - self._progress
        if late < timeout:
            self._watch = asyncio.get_running_loop().call_later(timeout - late, self._check)
            return
        self._fail(redis.TimeoutError(f"Timeout reading from Redis: no reply in {timeout} s"))
        if self._reader is not None:
            self._reader.cancel()  # replies after this would be out of step: never read

    def _fail(self, exc: BaseException) -> None:
        if self.broken:
            return
        self.broken = True
        if self._watch is not None:
            self._watch.cancel()
            self._watch = None
        if isinstance(exc, redis.TimeoutError) and "no reply in" in str(exc):
            error: BaseException = redis.TimeoutError(
                f"{exc} with {len(self.inflight)} call(s) in flight: each may or may not have "
                "run")
        elif isinstance(exc, redis.TimeoutError | redis.ConnectionError | OSError):
            error = redis.ConnectionError(
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
        self.conn.socket_timeout = self._socket_timeout
        await pool.release(self.conn)
