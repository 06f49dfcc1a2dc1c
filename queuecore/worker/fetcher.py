"""The fetch loop: take jobs while slots are free, else block on the marker.

A fetch is one script call (move to active, lock, hand over the job hash); with nothing to
take, the worker blocks on the queue's marker (BZPOPMIN, no CPU) until a job is added or the
next delayed job is due. Redis checks blocking timeouts only ``hz`` times a second (100 ms
late by default), so for a delayed job the worker keeps its own timer and wakes the blocked
connection with CLIENT UNBLOCK (or, where ACLs forbid it, by cancelling the call).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from ..base.clock import now_ms
from ..base.emitter import Emitter
from ..base.errors import RedisError, ScriptError
from ..base.keys import QueueKeys
from ..client.aqueue import AsyncQueue
from ..commands import worker_ops
from ..transport.cluster import is_moved
from ..transport.errors import (
    CONNECTION_ERRORS,
    is_connection_error,
    is_read_only,
    is_response_error,
)
from .connections import WorkerConnections
from .options import WorkerSettings
from .state import RunState
from .trouble import TroubleReporter

MAX_BLOCK_SECONDS = 10.0

#: A fetched job: (job id, its hash, its lock token)
Fetched = tuple[str, dict[str, str], str]


class Fetcher:
    """Fetches jobs and hands each to ``start``; also makes the lock tokens and decodes the
    job a finish call hands back (the same reply format)."""

    def __init__(self, queue: AsyncQueue, settings: WorkerSettings, worker_id: str,
                 state: RunState, connections: WorkerConnections, trouble: TroubleReporter,
                 emitter: Emitter) -> None:
        self._queue = queue
        self._keys: QueueKeys = queue.keys
        self._concurrency = settings.concurrency
        self._drain_delay = settings.drain_delay
        self._lock_duration = settings.lock_duration
        self._limiter_max = settings.limiter_max
        self._limiter_duration = settings.limiter_duration
        self._processed_by = settings.worker_name or worker_id
        self._worker_id = worker_id
        self._state = state
        self._active = state.active
        self._connections = connections
        self._trouble = trouble
        self._emitter = emitter
        self._token_counter = 0
        self._pending_token = ""
        self._drained = False
        self._block_task: asyncio.Future[Any] | None = None

    # -- tokens and replies --

    def next_token(self) -> str:
        self._token_counter += 1
        return f"{self._worker_id}:{self._token_counter}"

    def fetch_next(self) -> bool:
        """Whether a finish call should fetch the next job in the same call (not closing,
        not paused)."""
        return not (self._state.closing.is_set() or self._state.paused)

    def _fetch_op(self) -> Any:
        self._pending_token = self.next_token()
        return worker_ops.move_to_active(
            self._keys, now_ms(), self._pending_token, self._lock_duration, self._limiter_max,
            self._limiter_duration, self._processed_by)

    def decode(self, reply: Any, token: str | None = None) -> Fetched | None:
        """The job in a fetch (or finish-and-fetch) reply, else None."""
        if not reply or reply[0] == 0 or not reply[0]:
            return None
        return self.job(str(reply[1]), reply[0], token or self._pending_token)

    def job(self, job_id: str, fields: Any, token: str) -> Fetched:
        """A fetched job from its hash as a reply holds it (a flat field list)."""
        if fields.__class__ is list:
            pairs = iter(fields)  # name, value, name, value...: no slices copied
            h = dict(zip(pairs, pairs, strict=True))
        else:
            h = dict(fields)
        self._drained = False
        return job_id, h, token

    def found_empty(self) -> None:
        """A fetch (or a finish-and-fetch) found no job: emit ``drained`` once until a job is
        fetched again, as BullMQ's worker does (also on a first fetch of an empty queue, with
        other jobs still active, and while rate limited)."""
        if not self._drained:
            self._drained = True
            self._emitter.emit("drained")

    # -- the loop --

    async def run(self, start: Callable[[str, dict[str, str], str], None]) -> None:
        """Fetch and ``start`` jobs until the worker closes."""
        state = self._state
        while not state.closing.is_set():
            if state.paused:
                await state.wait_any(state.resumed.wait())
                continue
            if len(self._active) >= self._concurrency:
                state.slot_free.clear()
                await state.wait_any(state.slot_free.wait())
                continue
            try:
                reply = await self._queue.run_op(self._fetch_op())
                self._trouble.clear()
            except Exception as exc:
                if is_connection_error(exc):
                    await self._trouble.connection_trouble(exc)
                    continue
                if isinstance(exc, ScriptError | RedisError) or is_response_error(exc):
                    # Out of memory, READONLY after a failover, NOPERM, BUSY...: report (at
                    # most once a second) and try again; the worker itself never dies of it.
                    await self._trouble.trouble(exc, 1.0)
                    continue
                raise
            job = self.decode(reply)
            if job is not None:
                start(*job)
                continue
            self.found_empty()
            ttl, next_due = int(reply[2] or 0), int(reply[3] or 0)
            if ttl > 0:
                await state.wait_any(asyncio.sleep(ttl / 1000))
                continue
            await self._wait_for_marker(next_due)

    async def _wait_for_marker(self, next_due: int) -> None:
        """Block on the marker until a job is added or the next delayed job is due."""
        connections = self._connections
        timeout = self._drain_delay
        wake: asyncio.TimerHandle | None = None
        try:
            if connections.block_id is None:
                connections.block_id = int(await connections.block.client_id())
        except CONNECTION_ERRORS as exc:
            await self._trouble.connection_trouble(exc)
            return
        if next_due:
            wait_s = (next_due - now_ms()) / 1000
            if wait_s <= 0.001:
                return
            timeout = min(wait_s, MAX_BLOCK_SECONDS)
            if wait_s <= MAX_BLOCK_SECONDS:
                wake = asyncio.get_running_loop().call_later(wait_s, self._wake_blocked)
                timeout += 0.2  # Redis' own timeout only as a fallback
        block = asyncio.ensure_future(connections.block.bzpopmin(self._keys.marker, timeout))
        self._block_task = block
        try:
            closing = asyncio.ensure_future(self._state.closing.wait())
            await asyncio.wait({block, closing}, return_when=asyncio.FIRST_COMPLETED)
            closing.cancel()
            if not block.done():  # closing: wake the blocked call, let it return cleanly
                await self._unblock()
                await asyncio.wait({block}, timeout=2)
                if not block.done():
                    block.cancel()
                    # cancel() only asks: let the task end, and never call exception() on one
                    # that has not (InvalidStateError: a crash on SIGTERM in the chaos soak)
                    await asyncio.wait({block}, timeout=5)
            failure = None if not block.done() or block.cancelled() else block.exception()
            if failure is not None:
                raise failure
        except Exception as exc:
            if not await self._blocking_failed(exc):
                raise
        finally:
            if wake is not None:
                wake.cancel()
            self._block_task = None

    async def _blocking_failed(self, exc: Exception) -> bool:
        """Deal with what ended the blocking call; False when it is no Redis trouble."""
        if is_connection_error(exc):
            self._connections.block_id = None
            await self._trouble.connection_trouble(exc)
            # Cluster: the master may have died; block on the one that takes over.
            await self._state.wait_any(self._connections.follow_unreachable())
        elif not is_response_error(exc):
            return False
        elif is_moved(exc):  # Cluster: the slot moved; follow it
            try:
                await self._connections.follow_slot()
            except CONNECTION_ERRORS as failed:  # no node answered: the next call asks again
                await self._trouble.connection_trouble(failed)
        else:
            # A demoted master: READONLY, or UNBLOCKED when it turned replica while this
            # connection was blocked on it. Connect anew.
            if is_read_only(exc) or str(exc).startswith("UNBLOCKED"):
                await self._connections.renew_clients()
            await self._trouble.trouble(exc, 1.0)
        return True

    def _wake_blocked(self) -> None:
        self._state.spawn(self._unblock())

    async def _unblock(self) -> None:
        await self._connections.unblock(self._block_task)
