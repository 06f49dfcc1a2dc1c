"""One connection of an AutoPipeline, taken over from redis-py after the handshake: the
session is the asyncio protocol of the connection's transport, parses replies with hiredis as
they arrive and resolves the callers' futures in order, and writes without awaiting.

redis-py connects (AUTH, SELECT, HELLO, client name, TLS, unix socket); after that its
layers (StreamReader, a reader task, ``read_response``'s coroutines, ``drain``) cost more than
the round trip itself at concurrency 1, so the session does without them until it closes."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from typing import Any

import hiredis
import redis
from redis.exceptions import InvalidResponse

from .spin import ReplySpinner

_CLOSED_BY_SERVER = "Connection closed by server."


def _reader_of(conn: Any) -> tuple[Any, Any]:
    """The connection's own hiredis reader (redis-py builds it at connect with its error
    mapping: ResponseError, NoScriptError, ... come out as the same classes) and its "not
    enough data" marker; one with the same settings when the parser is not hiredis."""
    parser = conn._parser
    reader = getattr(parser, "_reader", None)
    if isinstance(reader, hiredis.Reader):
        from redis._parsers.hiredis import NOT_ENOUGH_DATA
        return reader, NOT_ENOUGH_DATA
    short = object()
    kwargs: dict[str, Any] = {"protocolError": InvalidResponse,
                              "replyError": parser.parse_error, "notEnoughData": short}
    if conn.encoder.decode_responses:
        kwargs["encoding"] = conn.encoder.encoding
        kwargs["errors"] = conn.encoder.encoding_errors
    return hiredis.Reader(**kwargs), short


class PipelineSession(asyncio.BufferedProtocol):
    """The calls in flight on one connection, in the order they were written.

    The transport's original protocol (asyncio's StreamReaderProtocol) still gets
    ``connection_lost``, ``eof_received`` and the flow-control calls, so that redis-py's
    ``disconnect`` (which waits for the stream to close) works as before. Writes are not
    awaited: the transport buffers what the socket does not take at once, and that is
    bounded by the callers (a worker's concurrency, the tasks awaiting an AsyncQueue).

    A buffered protocol: the socket is read into one buffer kept for the session (asyncio's
    plain protocols get a new bytes object of 256 KiB per read, shrunk to size after), and
    hiredis copies from it what it has not parsed yet."""

    _BUFFER = 65536

    def __init__(self, conn: Any, reply_timeout: float | None = None) -> None:
        self.conn = conn
        self.inflight: deque[asyncio.Future[Any]] = deque()
        self.broken = False
        self._reply_timeout = reply_timeout
        self._progress = 0.0  # when the oldest call in flight was sent or a reply came
        self._watch: asyncio.TimerHandle | None = None
        self._parser, self._short = _reader_of(conn)
        self._push = getattr(hiredis, "PushNotification", None)
        # A view: asyncio's TLS transport fills the buffer in slices, and a slice of a
        # bytearray would be a copy.
        self._buffer = memoryview(bytearray(self._BUFFER))
        self._spinner: ReplySpinner | None = None
        stream = conn._reader
        transport = self._transport = conn._writer.transport
        self._stream_protocol = transport.get_protocol()
        # After the handshake nothing is left unread; whatever is would be read first.
        pending = bytes(stream._buffer)
        stream._buffer.clear()
        lost = stream.at_eof() or stream.exception() is not None or transport.is_closing()
        transport.set_protocol(self)
        if lost:
            self._fail(redis.ConnectionError(_CLOSED_BY_SERVER))
            return
        if stream._paused:  # the stream had stopped reading (its buffer was full)
            transport.resume_reading()
        if ReplySpinner.usable(transport):
            self._spinner = ReplySpinner(transport, self._buffer, self._received, self._fail)
        if pending or self._parser.has_data():
            self._received(pending, len(pending))

    def send(self, data: bytes, futures: list[asyncio.Future[Any]]) -> None:
        if self.broken:  # failed while the connection was being made: nothing is sent
            error = redis.ConnectionError("lost the connection to Redis before sending")
            for future in futures:
                if not future.done():
                    future.set_exception(error)
            return
        if self._reply_timeout is not None:
            self._watch_from_now()
        self.inflight.extend(futures)
        self._write(data)

    def send_one(self, data: bytes, future: asyncio.Future[Any]) -> None:
        """``send`` of one call on a healthy session (the one-call-at-a-time path)."""
        if self._reply_timeout is not None:
            self._watch_from_now()
        self.inflight.append(future)
        self._write(data)
        if self._spinner is not None:
            self._spinner.after_write(future)

    def _write(self, data: bytes) -> None:
        try:
            # A socket error here is reported through connection_lost, in flight included.
            self._transport.write(data)
        except Exception as exc:  # e.g. written after the transport closed
            self._fail(exc)

    def _watch_from_now(self) -> None:
        if not self.inflight:
            self._progress = time.monotonic()
        if self._watch is None:
            assert self._reply_timeout is not None
            self._watch = asyncio.get_running_loop().call_later(self._reply_timeout,
                                                                self._check)

    # asyncio.BufferedProtocol

    def get_buffer(self, sizehint: int) -> memoryview:
        return self._buffer

    def buffer_updated(self, nbytes: int) -> None:
        self._received(self._buffer, nbytes)

    def _received(self, data: bytes | memoryview, nbytes: int) -> None:
        if self.broken:  # replies after a failure would be out of step: never read
            return
        parser = self._parser
        short = self._short
        inflight = self.inflight
        timed = self._reply_timeout is not None
        try:
            parser.feed(data, 0, nbytes)
            while (reply := parser.gets()) is not short:
                if isinstance(reply, redis.ConnectionError) or (
                        reply.__class__ is list and reply and
                        isinstance(reply[0], redis.ConnectionError)):
                    raise reply if isinstance(reply, Exception) else reply[0]
                if self._push is not None and isinstance(reply, self._push):
                    continue  # a RESP3 push (not a reply to any call)
                if not inflight:  # out of step: nothing can be trusted on this connection
                    self._fail(redis.ConnectionError(
                        "Redis sent a reply no call was waiting for"))
                    return
                future = inflight.popleft()
                if timed:
                    self._progress = time.monotonic()
                if future.done():  # its caller was cancelled: the reply is dropped
                    continue
                if isinstance(reply, redis.ResponseError):
                    future.set_exception(reply)
                else:
                    future.set_result(reply)
        except Exception as exc:  # a protocol error, an error reply of LOADING
            self._fail(exc)

    def eof_received(self) -> bool | None:
        self._fail(redis.ConnectionError(_CLOSED_BY_SERVER))
        return self._stream_protocol.eof_received()  # type: ignore[no-any-return]

    def connection_lost(self, exc: Exception | None) -> None:
        if exc is None:
            self._fail(redis.ConnectionError(_CLOSED_BY_SERVER))
        else:
            self._fail(redis.ConnectionError(
                f"Error while reading from {self.conn._host_error()} : {exc.args}"))
        self._stream_protocol.connection_lost(exc)

    def pause_writing(self) -> None:
        self._stream_protocol.pause_writing()

    def resume_writing(self) -> None:
        self._stream_protocol.resume_writing()

    # failures

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

    def _fail(self, exc: BaseException) -> None:
        """Every call in flight gets the error (each may or may not have run) and the
        connection is closed: replies after this would be out of step."""
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
        if not self._transport.is_closing():
            self._transport.close()

    async def close(self, pool: Any) -> None:
        """Fail what is in flight, disconnect (redis-py waits for the transport to close,
        which our connection_lost passes on) and give the connection back to its pool: also
        when the disconnect fails or the close is cancelled (redis-py's disconnect drops the
        stream either way, so the pool connects it afresh), else a pool with
        max_connections would be one short for good after each such close."""
        self._fail(redis.ConnectionError("closed"))
        try:
            await self.conn.disconnect()
        finally:
            await pool.release(self.conn)
