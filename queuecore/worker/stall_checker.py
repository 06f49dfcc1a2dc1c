"""The stall check: jobs whose lock expired (their worker died or froze) go back to wait,
or fail after ``max_stalled_count`` stalls. Any worker of the queue may run it."""

from __future__ import annotations

import asyncio

from ..base.clock import now_ms
from ..base.emitter import Emitter
from ..client.aqueue import AsyncQueue
from ..commands import worker_ops
from .state import RunState
from .trouble import TroubleReporter


class StallChecker:
    def __init__(self, queue: AsyncQueue, max_stalled_count: int, stalled_interval: int,
                 state: RunState, trouble: TroubleReporter, emitter: Emitter) -> None:
        self._queue = queue
        self._max_stalled_count = max_stalled_count
        self._stalled_interval = stalled_interval
        self._state = state
        self._trouble = trouble
        self._emitter = emitter

    async def run_forever(self) -> None:
        """Check every ``stalled_interval`` ms until the worker closes."""
        keys = self._queue.keys
        while not self._state.closing.is_set():
            try:
                recovered, _deferred = await self._queue.run_op(worker_ops.check_stalled(
                    keys, self._max_stalled_count, now_ms(), self._stalled_interval))
                for jid in recovered:
                    self._emitter.emit("stalled", jid, "active")
            except Exception as exc:  # keep checking whatever happened to this round
                await self._trouble.trouble(exc, 0.0)
            await self._state.wait_any(asyncio.sleep(self._stalled_interval / 1000))
