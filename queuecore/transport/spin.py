"""Waiting for the reply of a lone call by polling its socket for a moment.

One call at a time (a worker at concurrency 1, a loop of ``await queue.add(...)``) is bound by
the round trip, and on a virtual machine most of a loopback round trip is the waking: the
process blocks in epoll, its CPU goes idle, and the reply has to wake it again. Measured on
the bench machine (2 vCPUs, Firecracker), sequential PINGs: 12,600 a second when blocking in
epoll, 38,000-41,000 when polling the socket for up to 30-100 µs first, with *less* CPU per
round trip (24 against 31 µs: a wake-up costs more than the polling it saves).

So after writing a lone call the session schedules one poll of at most ``WINDOW_NS``: the
event loop runs everything already due first (the poll is an ordinary callback) and the
caller is still woken through the loop, so nothing starves. A reply that does not come within
the window is left to the loop as before. A miss counts 2 and a reply read by polling takes 1
off; at ``MISSES`` polling stops for the next ``REST`` calls. So a round trip longer than the
window (a distant Redis, a slow script) costs a window now and then, not on every call, and so
does a machine where the poll holds a core that Redis needs: with more busy processes than
cores (an idle worker woken beside its producer and Redis on 2 cores) every other poll missed
and added ~0.2 ms to each job's latency until misses were weighed double. Only plain sockets
are polled (a TLS transport decrypts inside asyncio) and only while the transport reads."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from typing import Any

WINDOW_NS = 250_000
MISSES = 4
REST = 500

_yield: Callable[[], None] = getattr(os, "sched_yield", lambda: None)  # not everywhere


class ReplySpinner:
    """The polling of one session's socket; ``feed(buffer, n)`` hands what was read to the
    session's parser, ``fail(exc)`` reports a socket error."""

    __slots__ = ("_buffer", "_fail", "_feed", "_loop", "_misses", "_rest", "_sock",
                 "_transport", "hits")

    def __init__(self, transport: Any, buffer: memoryview,
                 feed: Callable[[memoryview, int], None],
                 fail: Callable[[BaseException], None]) -> None:
        self._transport = transport
        self._sock = transport._sock
        self._buffer = buffer
        self._feed = feed
        self._fail = fail
        self._misses = 0
        self._rest = 0
        self._loop = asyncio.get_running_loop()
        self.hits = 0  # replies read by polling (tests and profiles look at it)

    @staticmethod
    def usable(transport: Any) -> bool:
        """Plain (not TLS) sockets of asyncio's own selector loop."""
        from asyncio.selector_events import _SelectorSocketTransport  # type: ignore[attr-defined]
        return isinstance(transport, _SelectorSocketTransport) and \
            getattr(transport, "_sock", None) is not None

    def after_write(self, future: asyncio.Future[Any]) -> None:
        if self._rest:
            self._rest -= 1
            return
        self._loop.call_soon(self._poll, future)

    def _poll(self, future: asyncio.Future[Any]) -> None:
        transport = self._transport
        if future.done() or transport.is_closing() or not transport.is_reading() or \
                transport.get_write_buffer_size():
            return  # answered already, closing, paused, or the call is not even sent yet
        sock = self._sock
        buffer = self._buffer
        deadline = time.perf_counter_ns() + WINDOW_NS
        while True:
            try:
                n = sock.recv_into(buffer)
            except (BlockingIOError, InterruptedError):
                if time.perf_counter_ns() < deadline:
                    # Redis waiting for this core (more busy processes than cores) gets it.
                    _yield()
                    continue
                self._misses += 2
                if self._misses >= MISSES:
                    self._misses = 0
                    self._rest = REST
                return
            except OSError as exc:
                self._fail(exc)
                return
            if n == 0:
                return  # end of stream: the transport's next read sees it too
            self._feed(buffer, n)
            if future.done():
                if self._misses:
                    self._misses -= 1
                self.hits += 1
                return
