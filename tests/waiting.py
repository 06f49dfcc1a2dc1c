"""Waiting for a condition in tests: poll it until it holds, fail at a generous deadline.

A test that sleeps a fixed time and then asserts passes or fails with the machine's load;
these wait exactly as long as the condition needs, so a busy machine only makes the test
slower. The deadlines are generous on purpose: they bound a hang, they measure nothing.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Callable
from typing import Any

#: The default deadline: far above what any condition needs on a quiet machine, so that a
#: loaded one (the suite beside two CPU burners) still meets it.
TIMEOUT = 30.0


def wait_for(condition: Callable[[], Any], timeout: float = TIMEOUT, interval: float = 0.02,
             what: str = "condition") -> Any:
    """Call ``condition`` until it returns a true value, and return that value."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met within {timeout} s")
        time.sleep(interval)


async def wait_until(condition: Callable[[], Any], timeout: float = TIMEOUT,
                     interval: float = 0.01, what: str = "condition") -> Any:
    """``wait_for`` for async tests: ``condition`` may return an awaitable; the loop runs on
    while it waits."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met within {timeout} s")
        await asyncio.sleep(interval)
