"""Helpers for worker tests: run a worker in the test's loop (``wait_until`` comes from
tests/waiting.py, re-exported here for the tests that import it with ``running``)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from queuecore import Worker
from tests.waiting import wait_until

__all__ = ["LockWatch", "blocked_on_marker", "events_of", "running", "wait_until"]


@contextlib.asynccontextmanager
async def running(worker: Worker, close_timeout: float | None = None) -> AsyncIterator[Worker]:
    task = asyncio.ensure_future(worker.run())
    try:
        yield worker
    finally:
        await worker.close(timeout=close_timeout)
        await task


def events_of(r: Any, queue: str, prefix: str = "bull") -> list[tuple[str, dict[str, str]]]:
    out = []
    for _id, fields in r.xrange(f"{prefix}:{queue}:events"):
        fields = dict(fields)
        out.append((fields.pop("event"), fields))
    return out


def blocked_on_marker(r: Any) -> bool:
    """Whether a client is blocked on a queue's marker (BZPOPMIN): an idle worker that found
    nothing to fetch. A positive sign that the worker has been past its fetch."""
    return any(c.get("cmd") == "bzpopmin" and "b" in c.get("flags", "")
               for c in r.client_list())



class LockWatch:
    """Counts the renewals of one lock: each time its TTL goes back up. ``seen()`` reads the
    TTL; poll it often (``wait_until(lambda: watch.seen() >= 2)``) to see each renewal."""

    def __init__(self, r: Any, lock_key: str) -> None:
        self.r, self.key = r, lock_key
        self.last: int | None = None
        self.renewals = 0

    def seen(self) -> int:
        ttl = int(self.r.pttl(self.key))
        if self.last is not None and self.last >= 0 and ttl > self.last:  # not the first take
            self.renewals += 1
        self.last = ttl
        return self.renewals
