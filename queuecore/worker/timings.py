"""The worker's timing recorder: wait and processing histograms per minute, kept in memory
and added to Redis once a minute (one script call), never a Redis command per job.

Recorded when the worker records metrics (``metrics={"max_data_points": N}``), from the
worker's own ``completed`` and ``failed`` events (a retried attempt has no finish time and
is not counted). The layout of the keys is in ``commands/timings.py``.
"""

from __future__ import annotations

import asyncio
import logging
import random
from typing import Any

from ..base.clock import now_ms
from ..base.emitter import Emitter
from ..base.errors import QueueCoreError
from ..client.aqueue import AsyncQueue
from ..commands.timings import MINUTE_MS, TTL_SECONDS, Histograms, add_timings, bucket_of
from .state import RunState

log = logging.getLogger("queuecore.worker")

#: Seconds after a minute ends before its counts go out, at most (spreads the workers).
JITTER_SECONDS = 3.0


class TimingRecorder:
    def __init__(self, queue: AsyncQueue) -> None:
        self._queue = queue
        self._pending: dict[int, Histograms] = {}  # minute start ms -> counts
        self.flushes = 0

    @classmethod
    def attach(cls, queue: AsyncQueue, emitter: Emitter, enabled: bool) -> TimingRecorder:
        """A recorder listening to the worker's finished jobs (a silent one if disabled)."""
        recorder = cls(queue)
        if enabled:
            emitter.on("completed", lambda job, *_: recorder.record("completed", job))
            emitter.on("failed", lambda job, *_: recorder.record("failed", job))
        return recorder

    def record(self, kind: str, job: Any) -> None:
        finished = getattr(job, "finished_on", None)
        processed = getattr(job, "processed_on", None)
        created = getattr(job, "timestamp", None)
        if not finished or not processed:
            return  # a retried attempt, or a job this worker did not fetch
        minute = finished // MINUTE_MS * MINUTE_MS
        hists = self._pending.get(minute)
        if hists is None:
            hists = self._pending[minute] = Histograms()
        if created:
            hists.add(kind, "wait", bucket_of(processed - created))
        hists.add(kind, "processing", bucket_of(finished - processed))

    async def run_forever(self, state: RunState) -> None:
        """Flush each minute's counts after it ends, until closing."""
        while not state.closing.is_set():
            wait = (MINUTE_MS - now_ms() % MINUTE_MS) / 1000 + random.uniform(0, JITTER_SECONDS)
            await state.wait_any(asyncio.sleep(wait))
            await self.flush(everything=False)
        # The rest (the current minute, jobs finishing while close() lets them) goes with
        # the worker's last flush, once its jobs are done (Worker.run calls flush).

    async def flush(self, *, everything: bool) -> None:
        """Add the pending counts of ended minutes (``everything``: of all minutes; a
        minute flushed twice adds up, so the current one may go early)."""
        now = now_ms()
        current = now // MINUTE_MS * MINUTE_MS
        due = {m: h for m, h in self._pending.items() if everything or m < current}
        if not due:
            return
        for minute in due:
            del self._pending[minute]
        try:
            await self._queue.run_op(add_timings(self._queue.keys, due, now))
            self.flushes += 1
        except QueueCoreError as exc:  # counts are best effort; jobs are not held up
            log.warning("timings of %s not stored: %s", self._queue.name, exc)
            # Kept for the next flush while the minute hashes would still live.
            oldest = now - TTL_SECONDS["m"] * 1000
            for minute, hists in due.items():
                if minute >= oldest and minute not in self._pending:
                    self._pending[minute] = hists
