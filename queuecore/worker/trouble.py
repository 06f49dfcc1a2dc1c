"""Redis trouble seen by a running worker: reported at most once a second, never raised."""

from __future__ import annotations

import asyncio
import logging
import time

from ..base.emitter import Emitter
from ..transport.connection import redact
from ..transport.errors import public_error
from .state import RunState

log = logging.getLogger("queuecore.worker")


class TroubleReporter:
    def __init__(self, queue_name: str, emitter: Emitter, state: RunState) -> None:
        self._queue_name = queue_name
        self._emitter = emitter
        self._state = state
        self._last_log = 0.0

    async def connection_trouble(self, exc: BaseException) -> None:
        """Redis is away: report at most once a second, wait a little, try again."""
        await self.trouble(exc, 0.5, "Redis unreachable")

    async def trouble(self, exc: BaseException, pause: float,
                      what: str = "Redis refused") -> None:
        """Log and emit ``error`` (at most once a second), then wait ``pause`` seconds (or
        until the worker closes)."""
        now = time.monotonic()
        if now - self._last_log >= 1.0:
            self._last_log = now
            log.warning("worker %s: %s (%s: %s); retrying", self._queue_name, what,
                        type(exc).__name__, redact(str(exc)))
            self._emitter.emit("error", public_error(exc))
        if pause:
            await self._state.wait_any(asyncio.sleep(pause))

    def clear(self) -> None:
        """A call went through: the next trouble is reported at once."""
        self._last_log = 0.0
