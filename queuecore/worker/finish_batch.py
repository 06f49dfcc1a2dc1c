"""Batched finishing: the jobs a worker finishes in one event-loop turn are stored, and their
replacements fetched, in one script call (``move_to_finished_many``) instead of one call each.

Each job slot awaits its own finish as before; the first finish of a turn schedules the
flush for the next turn (``call_soon``), by which time every job slot that ran in this turn
has queued its finish. A turn with one finish uses the single-job call (``move_to_finished``),
so concurrency 1 pays nothing for this. Per job the outcome is what the single call gives:
the next job for its slot, no job, or FAILED after a lost lock or Redis trouble (reported by
``Finisher.safe``'s rules).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from ..base.clock import now_ms
from ..base.errors import LockMismatchError, LockNotFoundError, error_for_code
from ..base.keys import QueueKeys
from ..commands import worker_ops
from ..commands.worker_ops import Finish
from .fetcher import Fetcher
from .state import RunState

log = logging.getLogger("queuecore.worker")

#: Jobs per call at most, and calls in flight at most (0: no cap); see ``_flush``.
CHUNK = 20
MAX_IN_FLIGHT = 0
#: The single-job path: (finish, the next job's token or None: no fetch) -> the finish
#: call's reply (0 when nothing was fetched), or FAILED
Single = Callable[[Finish, "str | None"], Awaitable[Any]]
#: Run an op as Finisher.safe does (op, job id, tries, the op for the retries): its reply
#: or FAILED
Safe = Callable[..., Awaitable[Any]]


class FinishBatcher:
    def __init__(self, keys: QueueKeys, fetcher: Fetcher, state: RunState, emit: Any,
                 safe: Safe, single: Single, *, metrics_points: int, lock_ms: int,
                 limiter_max: int, limiter_ms: int, worker_name: str,
                 failed: Any, empty: Any) -> None:
        self._keys = keys
        self._fetcher = fetcher
        self._state = state
        self._emit = emit
        self._safe = safe
        self._single = single
        self._metrics_points = metrics_points
        self._lock_ms = lock_ms
        self._limiter_max = limiter_max
        self._limiter_ms = limiter_ms
        self._worker_name = worker_name
        self._failed = failed
        self._empty = empty
        self._pending: list[tuple[Finish, asyncio.Future[Any]]] = []
        self._flush_soon = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._in_flight = 0
        self.chunk = CHUNK
        self.max_in_flight = MAX_IN_FLIGHT

    def finish(self, finish: Finish) -> asyncio.Future[Any]:
        """Queue a finish for this turn's call; resolves to the next job (a ``Fetched``),
        EMPTY (fetched, found none), None (no fetch) or FAILED."""
        # The loop is asked once a turn, not once a job (each ask is a getpid() syscall).
        loop = self._loop
        if not self._flush_soon or loop is None:
            loop = self._loop = asyncio.get_running_loop()
            if not self._flush_soon:
                self._flush_soon = True
                loop.call_soon(self._flush)
        future: asyncio.Future[Any] = loop.create_future()
        self._pending.append((finish, future))
        return future

    def _flush(self) -> None:
        self._flush_soon = False
        # In calls of at most `chunk` jobs: Redis runs the first while the worker reads its
        # reply and runs those jobs, so the two overlap instead of taking turns. With
        # `max_in_flight` calls out, the rest waits for a reply (and joins the finishes
        # that reply's jobs bring).
        pending, chunk, cap = self._pending, self.chunk, self.max_in_flight
        sent = 0
        while sent < len(pending) and (not cap or self._in_flight < cap):
            self._in_flight += 1
            self._state.spawn(self._run(pending[sent:sent + chunk]))
            sent += chunk
        self._pending = pending[sent:]

    def _landed(self) -> None:
        self._in_flight -= 1
        if self._pending and not self._flush_soon:
            # After the replied jobs' slots have run (they were woken first) and queued
            # their next finishes.
            self._flush_soon = True
            loop = self._loop = asyncio.get_running_loop()
            loop.call_soon(self._flush)

    async def _run(self, batch: list[tuple[Finish, asyncio.Future[Any]]]) -> None:
        try:
            if len(batch) == 1:
                (finish, future), = batch
                fetcher = self._fetcher
                token = fetcher.next_token() if fetcher.fetch_next() else None
                reply = await self._single(finish, token)
                result = (reply if reply is self._failed else None if not reply
                          else fetcher.decode(reply, token) or self._empty)
                if not future.done():
                    future.set_result(result)
                return
            await self._run_many(batch)
        except BaseException as exc:  # never leave a job slot waiting
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
        finally:
            self._landed()

    async def _run_many(self, batch: list[tuple[Finish, asyncio.Future[Any]]]) -> None:
        fetcher = self._fetcher
        tokens = [fetcher.next_token() for _ in batch] if fetcher.fetch_next() else []
        op = worker_ops.move_to_finished_many(
            self._keys, [f for f, _ in batch], now_ms(), metrics_points=self._metrics_points,
            fetch_tokens=tokens, lock_ms=self._lock_ms, limiter_max=self._limiter_max,
            limiter_ms=self._limiter_ms, worker_name=self._worker_name)
        # A retry (the reply was lost: the first try may have run) gets back the jobs the
        # first try fetched, if it ran: they are locked with these tokens, which the worker
        # holds, so they are processed now instead of waiting out their locks.
        reply = await self._safe(op, None, again=worker_ops.retried if tokens else None)
        if reply is self._failed:
            for _, future in batch:
                if not future.done():
                    future.set_result(self._failed)
            return
        codes, fetched, _, _ = reply
        next_jobs = iter(zip(fetched or (), tokens, strict=False))
        for (finish, future), code in zip(batch, codes, strict=True):
            result: Any
            if code == 0:
                result = None
                if fetched is not None:
                    taken = next(next_jobs, None)
                    if taken is None:
                        result = self._empty
                    else:
                        (job_id, fields), token = taken
                        result = fetcher.job(job_id, fields, token)
            else:
                result = self._failed
                report_refusal(self._emit, finish[0], finish[2], code)
            if not future.done():
                future.set_result(result)


def report_refusal(emit: Any, job_id: str, completed: bool, code: int) -> None:
    """A finish the script refused (its error code): reported as ``Finisher.safe`` reports
    a raised one, a lost lock as ``lock-lost``, anything else as ``error``."""
    err = error_for_code(code, job_id=job_id,
                         command="move_to_" + ("completed" if completed else "failed"))
    if isinstance(err, LockNotFoundError | LockMismatchError):
        log.warning("job %s: lock lost before finishing; left to its new owner", job_id)
        emit("lock-lost", job_id, err)
    else:
        emit("error", err)
