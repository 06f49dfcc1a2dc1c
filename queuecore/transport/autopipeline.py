"""The worker's auto-pipelined connection: the script calls of one loop turn in one write,
the replies handed back in order by the connection's protocol (pipesession.py)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import redis

from .pipesession import PipelineSession

__all__ = ["AutoPipeline", "PipelineSession"]


class AutoPipeline:
    """The worker's script calls on one held connection, auto-pipelined: the calls made in
    one turn of the event loop are written with one send, and the replies are handed back in
    order as they arrive (as ioredis does for Node). A call cancelled before its turn's write
    is not sent. When the connection fails, every call in flight gets the error (each may or
    may not have run) and the next write starts on a fresh connection.

    ``reply_timeout`` (the pool's socket timeout, seconds): calls in flight that see no reply
    for that long fail with a timeout (each may or may not have run), as a read with a socket
    timeout would; the held connection itself waits without one while nothing is in flight."""

    def __init__(self, pool: Any, reply_timeout: float | None = None) -> None:
        self._pool = pool
        self._reply_timeout = reply_timeout
        self._queued: list[bytes] = []
        self._queued_futures: list[asyncio.Future[Any]] = []
        self._flush_pending = False
        # Calls of the turns that came while a connection was being made.
        self._waiting: list[bytes] = []
        self._waiting_futures: list[asyncio.Future[Any]] = []
        self._connecting: asyncio.Task[None] | None = None
        self._session: PipelineSession | None = None
        self._closed = False

    def call(self, packed: bytes) -> asyncio.Future[Any]:
        """Send ``packed`` (one command); the future gets its reply (a ResponseError as its
        exception). Not a coroutine: the caller awaits the future, one layer fewer."""
        if self._closed:
            raise redis.ConnectionError("the queue is closed")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        session = self._session
        if not self._flush_pending and session is not None and not session.inflight and \
                not session.broken and self._connecting is None:
            # Nothing in flight or queued (one call at a time): write now, skip a loop turn.
            session.send_one(packed, future)
            return future
        self._queued.append(packed)
        self._queued_futures.append(future)
        if not self._flush_pending:
            self._flush_pending = True
            loop.call_soon(self._flush)
        return future

    def _flush(self) -> None:
        self._flush_pending = False
        if self._closed:
            self._fail_unsent(redis.ConnectionError("the queue is closed"))
            return
        data, futures = self._queued, self._queued_futures
        self._queued, self._queued_futures = [], []
        session = self._session
        if self._connecting is None and session is not None and not session.broken:
            self._send(session, data, futures)
            return
        self._waiting += data
        self._waiting_futures += futures
        if self._connecting is None:
            self._connecting = asyncio.ensure_future(self._connect())

    @staticmethod
    def _send(session: PipelineSession, data: list[bytes],
              futures: list[asyncio.Future[Any]]) -> None:
        if any(f.done() for f in futures):  # a caller cancelled before the write: never sent
            data = [d for d, f in zip(data, futures, strict=True) if not f.done()]
            futures = [f for f in futures if not f.done()]
        if futures:
            session.send(b"".join(data), futures)

    async def _connect(self) -> None:
        """A fresh session (the broken one closed first); then whatever queued up while it
        was being made goes out in one write. When the connection cannot be made, the calls
        that were waiting for it get the error, and calls made meanwhile try again."""
        try:
            while self._waiting_futures:
                data, futures = self._waiting, self._waiting_futures
                self._waiting, self._waiting_futures = [], []
                try:
                    session, self._session = self._session, None
                    if session is not None:
                        await session.close(self._pool)
                    session = PipelineSession(await self._pool.get_connection(),
                                              self._reply_timeout)
                except BaseException as exc:  # nothing was sent
                    cancelled = isinstance(exc, asyncio.CancelledError)
                    error = redis.ConnectionError("the queue is closed") if cancelled else exc
                    for future in futures:
                        if not future.done():
                            future.set_exception(error)
                    if cancelled:
                        self._fail_waiting(error)
                        raise
                    continue
                self._session = session
                self._send(session, data + self._waiting, futures + self._waiting_futures)
                self._waiting, self._waiting_futures = [], []
        finally:
            self._connecting = None

    def _fail_waiting(self, exc: BaseException) -> None:
        futures = self._waiting_futures
        self._waiting, self._waiting_futures = [], []
        for future in futures:
            if not future.done():
                future.set_exception(exc)

    def _fail_unsent(self, exc: BaseException) -> None:
        """Calls queued or waiting for a connection, not written: never sent."""
        futures = self._queued_futures
        self._queued, self._queued_futures = [], []
        for future in futures:
            if not future.done():
                future.set_exception(exc)
        self._fail_waiting(exc)

    async def close(self) -> None:
        self._closed = True
        connecting, self._connecting = self._connecting, None
        if connecting is not None and not connecting.done():
            connecting.cancel()
            with contextlib.suppress(BaseException):
                await connecting
        self._fail_unsent(redis.ConnectionError("the queue is closed"))
        session, self._session = self._session, None
        if session is not None:
            await session.close(self._pool)
