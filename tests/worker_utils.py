"""Helpers for worker tests: run a worker in the test's loop, wait for a condition."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from queuecore import Worker


@contextlib.asynccontextmanager
async def running(worker: Worker, close_timeout: float | None = None) -> AsyncIterator[Worker]:
    task = asyncio.ensure_future(worker.run())
    try:
        yield worker
    finally:
        await worker.close(timeout=close_timeout)
        await task


async def wait_until(predicate: Callable[[], Any], timeout: float = 10.0,
                     interval: float = 0.01) -> None:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(interval)


def events_of(r: Any, queue: str, prefix: str = "bull") -> list[tuple[str, dict[str, str]]]:
    out = []
    for _id, fields in r.xrange(f"{prefix}:{queue}:events"):
        fields = dict(fields)
        out.append((fields.pop("event"), fields))
    return out
