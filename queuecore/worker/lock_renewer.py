"""Lock renewal, from a thread of its own.

Locks are renewed from a thread, not from the event loop: a loop shares the GIL with thread
processors, and a CPU-bound one can delay each of the many loop turns a renewal takes by a
switch interval (measured: 270 ms late with two busy threads), while the thread needs only a
few GIL turns per round. All held locks are renewed in one call every ``lock_renew_time``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable
from typing import Any

from ..base.emitter import Emitter
from ..base.keys import QueueKeys
from ..client.queue import Queue
from ..commands import worker_ops
from .connections import WorkerConnections
from .state import RunState
from .trouble import TroubleReporter

log = logging.getLogger("queuecore.worker")


class LockRenewer:
    def __init__(self, keys: QueueKeys, queue_name: str, lock_duration: int,
                 lock_renew_time: int, connections: WorkerConnections, state: RunState,
                 trouble: TroubleReporter, emitter: Emitter) -> None:
        self._keys = keys
        self._queue_name = queue_name
        self._lock_duration = lock_duration
        self._interval_s = lock_renew_time / 1000
        self._connections = connections
        self._state = state
        self._trouble = trouble
        self._emitter = emitter
        self._stop = threading.Event()
        self.thread: threading.Thread | None = None
        self._queue: Queue | None = None

    def reset(self) -> None:
        """Before a run: a renewer stopped by the last run may start again."""
        self._stop.clear()

    def signal_stop(self) -> None:
        """Tell the thread to end after its current round (``stop()`` waits for it)."""
        self._stop.set()

    async def start(self) -> None:
        self._queue = self._connections.renewal_queue(max(1.5, self._interval_s))
        loop = asyncio.get_running_loop()
        # Connect and load the script now: done in the first round, that took 270 ms.
        await loop.run_in_executor(None, self._warm)
        self.thread = threading.Thread(target=self._renew_forever, args=(loop,),
                                       name=f"qc-{self._queue_name}-locks", daemon=True)
        self.thread.start()

    def _warm(self) -> None:
        assert self._queue is not None
        with contextlib.suppress(Exception):  # Redis away: the first round will say so
            self._queue.run_op(worker_ops.extend_locks(self._keys, self._lock_duration, {}))

    async def stop(self) -> None:
        self._stop.set()
        if self.thread is not None:
            await asyncio.get_running_loop().run_in_executor(None, self.thread.join)
            self.thread = None
        if self._queue is not None:
            self._queue.close()
            self._queue = None

    def _renew_forever(self, loop: asyncio.AbstractEventLoop) -> None:
        """(In the renewal thread.) Renew all held locks in one call every lock_renew_time,
        until the worker stops (after close(), for as long as jobs are still finishing)."""
        assert self._queue is not None
        queue, state = self._queue, self._state
        while not self._stop.wait(self._interval_s):
            # dict(...) and set(...) copy in one C call each, so the loop thread cannot change
            # them midway. A job whose finish call is out releases its lock with it.
            active, finishing = dict(state.active), set(state.finishing)
            tokens = {jid: tok for jid, (tok, _) in active.items() if jid not in finishing}
            if not tokens:
                continue
            try:
                lost = queue.run_op(
                    worker_ops.extend_locks(self._keys, self._lock_duration, tokens))
            except Exception as exc:  # keep renewing whatever happened to this round
                _call_on_loop(loop, self._renewal_failed, exc)
                continue
            if lost:
                _call_on_loop(loop, self._locks_lost, lost)

    def _renewal_failed(self, exc: BaseException) -> None:
        self._state.spawn(self._trouble.trouble(exc, 0.0))

    def _locks_lost(self, lost: list[str]) -> None:
        """(On the loop.) Jobs whose finish call went out after the renewal round read them
        lost the lock to that call, not to another worker: they are not reported."""
        state = self._state
        for jid in lost:
            if jid in state.active and jid not in state.lost and jid not in state.finishing:
                state.lost.add(jid)
                log.warning("job %s: lock could not be renewed", jid)
                self._emitter.emit("lock-lost", jid, None)


def _call_on_loop(loop: asyncio.AbstractEventLoop, callback: Callable[[Any], None],
                  arg: Any) -> None:
    with contextlib.suppress(RuntimeError):  # the loop closed under us: nothing to tell
        loop.call_soon_threadsafe(callback, arg)
