"""Processors for the live tests' worker processes (``python -m queuecore worker``)."""

from __future__ import annotations

import asyncio
from typing import Any


async def slow_progress(job: Any) -> Any:
    """Ten progress steps over about three seconds, with a log line each."""
    for step in range(1, 11):
        await job.log(f"step {step} of <10>")
        await job.update_progress(step * 10)
        await asyncio.sleep(0.3)
    if job.name.startswith("fail"):
        raise RuntimeError(f"boom <b>{job.name}</b>")
    return {"ok": True}


async def instant(job: Any) -> Any:
    return None
