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

#: Jobs per call at most (see ``FinishBatcher._flush``).
CHUNK = 20
#: The single-job path: (finish, fetch next?) -> the finish call's reply, or FAILED
Single = Callable[[Finish, bool, str], Awaitable[Any]]
#: Run an op as Finisher.safe does: its reply or FAILED
Safe = Callable[[Any], Awaitable[Any]]


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
        self.chunk = CHUNK

    def finish(self, finish: Finish) -> asyncio.Future[Any]:
        """Queue a finish for this turn's call; resolves to the next job (a ``Fetched``),
        EMPTY (fetched, found none), None (no fetch) or FAILED."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        if not self._pending:
            loop.call_soon(self._flush)
        self._pending.append((finish, future))
        return future

    def _flush(self) -> None:
        batch, self._pending = self._pending, []
        # In calls of at most `chunk` jobs: Redis runs the first while the worker reads its
        # reply and runs those jobs, so the two overlap instead of taking turns.
        chunk = self.chunk
        for i in range(0, len(batch), chunk):
            self._state.spawn(self._run(batch[i:i + chunk]))

    async def _run(self, batch: list[tuple[Finish, asyncio.Future[Any]]]) -> None:
        try:
            if len(batch) == 1:
                (finish, future), = batch
                fetch = self._fetcher.fetch_next()
                token = self._fetcher.next_token() if fetch else ""
                reply = await self._single(finish, fetch, token)
                result = (reply if reply is self._failed else None if not reply
                          else self._fetcher.decode(reply, token) or self._empty)
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

    async def _run_many(self, batch: list[tuple[Finish, asyncio.Future[Any]]]) -> None:
        fetcher = self._fetcher
        fetch = fetcher.fetch_next()
        tokens = [fetcher.next_token() for _ in batch] if fetch else []
        op = worker_ops.move_to_finished_many(
            self._keys, [f for f, _ in batch], now_ms(), metrics_points=self._metrics_points,
            fetch_tokens=tokens, lock_ms=self._lock_ms, limiter_max=self._limiter_max,
            limiter_ms=self._limiter_ms, worker_name=self._worker_name)
        reply = await self._safe(op)
        if reply is self._failed:
            for _, future in batch:
                if not future.done():
                    future.set_result(self._failed)
            return
        codes, fetched, _, _ = reply
        next_jobs = iter(zip(fetched, tokens, strict=False))
        for (finish, future), code in zip(batch, codes, strict=True):
            result: Any
            if code == 0:
                result = None
                if fetch:
                    taken = next(next_jobs, None)
                    if taken is None:
                        result = self._empty
                    else:
                        (job_id, fields), token = taken
                        result = fetcher.decode([fields, job_id], token)
            else:
                result = self._failed
                self._report(finish, code)
            if not future.done():
                future.set_result(result)

    def _report(self, finish: Finish, code: int) -> None:
        """A job of the batch was refused: as ``Finisher.safe`` reports the single call's."""
        job_id = finish[0]
        err = error_for_code(code, job_id=job_id,
                             command="move_to_" + ("completed" if finish[2] else "failed"))
        if isinstance(err, LockNotFoundError | LockMismatchError):
            log.warning("job %s: lock lost before finishing; left to its new owner", job_id)
            self._emit("lock-lost", job_id, err)
        else:
            self._emit("error", err)
