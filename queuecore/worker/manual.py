"""Manual processing: a Worker made without a processor hands out jobs with
``get_next_job(token)``; the caller completes, fails, delays or parks each one with the
``Job`` methods and the same token, and renews its lock itself (``Job.extend_lock``).

The blocking connection is made on the first wait and closed by ``Worker.close()``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from ..base.clock import now_ms
from ..base.emitter import Emitter
from ..base.errors import InvalidOptionsError
from ..client.ajob import AsyncJob
from ..client.aqueue import AsyncQueue
from ..commands import worker_ops
from ..transport.connection import async_client
from ..transport.errors import public_error
from .options import WorkerSettings
from .scheduling import create_next_run

log = logging.getLogger("queuecore.worker")

MAX_BLOCK_SECONDS = 10.0


class ManualFetcher:
    def __init__(self, queue: AsyncQueue, settings: WorkerSettings, worker_id: str,
                 client_name: str, emitter: Emitter) -> None:
        self._queue = queue
        self._keys = queue.keys
        self._settings = settings
        self._processed_by = settings.worker_name or worker_id
        self._client_name = client_name
        self._emitter = emitter
        self._block: Any = None
        self._drained = False

    async def get_next_job(self, token: str, block: bool = True) -> AsyncJob | None:
        """Take the next job (locked with ``token`` for ``lock_duration``), waiting up to
        ``drain_delay`` seconds for one when ``block``; None when there is none."""
        if not isinstance(token, str) or not token or token == "0":
            raise InvalidOptionsError("get_next_job needs a lock token (a non-empty string)")
        reply = await self._fetch(token)
        if reply[0] == 0 and block:
            ttl, next_due = int(reply[2] or 0), int(reply[3] or 0)
            if ttl > 0:  # rate limited: wait it out (within drain_delay), then try again
                await asyncio.sleep(min(ttl / 1000, self._settings.drain_delay))
            else:
                await self._wait_for_marker(next_due)
            reply = await self._fetch(token)
        if not reply or reply[0] == 0:
            if not self._drained:  # once until a job is taken again, as BullMQ emits it
                self._drained = True
                self._emitter.emit("drained")
            return None
        self._drained = False
        fields = reply[0]
        h = dict(zip(fields[::2], fields[1::2], strict=True)) if isinstance(fields, list) \
            else dict(fields)
        job = AsyncJob.from_hash(self._queue, str(reply[1]), h, token)
        if job.scheduler_id:  # as the worker does: the scheduler's next run first
            await create_next_run(self._queue, job,
                                  lambda exc: self._emitter.emit("error", public_error(exc)))
        self._emitter.emit("active", job, "waiting")
        return job

    async def _fetch(self, token: str) -> Any:
        s = self._settings
        return await self._queue.run_op(worker_ops.move_to_active(
            self._keys, now_ms(), token, s.lock_duration, s.limiter_max, s.limiter_duration,
            self._processed_by))

    async def _wait_for_marker(self, next_due: int) -> None:
        timeout = self._settings.drain_delay
        if next_due:
            timeout = min(max((next_due - now_ms()) / 1000, 0.001), MAX_BLOCK_SECONDS)
        if self._block is None:
            self._block = async_client(self._queue.resolved_connection, socket_timeout=None,
                                       socket_connect_timeout=5,
                                       client_name=self._client_name,
                                       single_connection_client=True)
        try:
            await self._block.bzpopmin(self._keys.marker, timeout)
        except Exception as exc:
            public = public_error(exc)  # redis-py's errors never cross queuecore's API
            if public is exc:
                raise
            raise public from exc

    async def close(self) -> None:
        if self._block is not None:
            with contextlib.suppress(Exception):
                await self._block.aclose()
            self._block = None
