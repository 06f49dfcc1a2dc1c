"""Whether a socket's client reads what it is sent: the write buffer of daphne's transport.

ASGI's ``send`` never waits on daphne: ``websocket.send`` goes straight to autobahn's
``sendMessage`` and Twisted's ``transport.write``, which buffers without bound when the
client does not read. Twisted tells a registered *push producer* when that buffer passes
its high-water mark (``pauseProducing``, 64 KiB) and when it has drained
(``resumeProducing``), and autobahn's server protocol exposes it
(``WebSocketServerProtocol.registerProducer``). daphne hands the application
``functools.partial(Server.handle_reply, protocol)`` as ``send`` (Channels' session
middleware wraps it, keeping it as ``real_send``), so the protocol is found there.

A ``WriteWatch`` registers itself as that producer: while the buffer is over the mark the
socket is *behind* and is sent nothing more (its changes keep coalescing in its session);
when it drains, ``on_drained`` lets the session send the latest state. A socket behind for
``stalled_after`` seconds is given up (``on_stalled``): its client reads nothing at all.
Under another ASGI server (or Channels' test communicator) no protocol is found; there a
send still in flight marks the socket behind instead (see ``consumers``).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

#: Wrappers followed from ``send`` to daphne's protocol (Channels' middleware nests a few).
MAX_DEPTH = 8


def find_protocol(send: Any) -> Any | None:
    """daphne's websocket protocol behind an ASGI ``send``, or ``None``."""
    for _ in range(MAX_DEPTH):
        if isinstance(send, functools.partial):
            for arg in send.args:
                if callable(getattr(arg, "registerProducer", None)) and callable(
                        getattr(arg, "unregisterProducer", None)):
                    return arg
            send = send.func
            continue
        owner = getattr(send, "__self__", None)
        inner = getattr(owner, "real_send", None)  # channels.sessions.InstanceSessionWrapper
        if inner is None:
            return None
        send = inner
    return None


class WriteWatch:
    """Twisted's push-producer interface on one socket: ``behind`` while its buffer is full."""

    def __init__(self, protocol: Any, on_drained: Callable[[], None],
                 on_stalled: Callable[[], None], stalled_after: float) -> None:
        self.protocol = protocol
        self.on_drained = on_drained
        self.on_stalled = on_stalled
        self.stalled_after = stalled_after
        self._timer: asyncio.TimerHandle | None = None
        self.behind_since: float | None = None
        self.pauses = 0
        self.registered = False
        # The transport's producer until now: daphne's HTTP channel, which upgraded the
        # connection and stops reading from it while writes are backed up. It goes on being
        # told (a transport takes one producer: this one stands in front of it).
        self.previous: Any = getattr(getattr(protocol, "transport", None), "producer", None)
        try:
            if self.previous is not None:
                protocol.unregisterProducer()
            protocol.registerProducer(self, True)
            self.registered = True
        except Exception:  # the transport is gone or is not Twisted's: no watch
            log.debug("no write watch on %r", protocol, exc_info=True)
            if self.previous is not None:  # put back what was there
                with contextlib.suppress(Exception):
                    protocol.registerProducer(self.previous, True)

    @property
    def behind(self) -> bool:
        return self.behind_since is not None

    def behind_for(self) -> float:
        return 0.0 if self.behind_since is None else time.monotonic() - self.behind_since

    # -- IPushProducer, called by Twisted on the event loop's thread --

    def pauseProducing(self) -> None:
        if self.previous is not None:
            self.previous.pauseProducing()
        if self.behind_since is None:
            log.debug("%r: write buffer full, holding its updates", self.protocol)
            self.behind_since = time.monotonic()
            self.pauses += 1
            self._cancel_timer()
            self._timer = asyncio.get_running_loop().call_later(self.stalled_after,
                                                               self._check_stalled)

    def _check_stalled(self) -> None:
        self._timer = None
        if self.registered and self.behind_for() >= self.stalled_after:
            self.on_stalled()

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def resumeProducing(self) -> None:
        if self.previous is not None:
            self.previous.resumeProducing()
        if self.behind_since is not None:
            log.debug("%r: write buffer drained after %.1f s", self.protocol, self.behind_for())
        self.behind_since = None
        self._cancel_timer()
        transport = getattr(self.protocol, "transport", None)
        if getattr(transport, "disconnecting", False):
            # Twisted waits for a paused producer to unregister before it closes.
            self.close()
            return
        self.on_drained()

    def stopProducing(self) -> None:
        if self.previous is not None:
            self.previous.stopProducing()
        self.behind_since = None
        self._cancel_timer()
        self.registered = False  # the transport is gone and forgets its producer itself

    def close(self) -> None:
        self._cancel_timer()
        if not self.registered:
            return
        self.registered = False
        try:
            self.protocol.unregisterProducer()
        except Exception:  # the transport already went away
            log.debug("unregisterProducer failed", exc_info=True)
