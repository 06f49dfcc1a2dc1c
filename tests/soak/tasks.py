"""The soak's processor, run by ``python -m queuecore worker tests.soak.tasks:process`` and by
the rate-limited driver (``limited_worker.py``). It only uses queuecore's public API.

Each execution is written to the ledger (directory ``$QC_SOAK_LEDGER``) before and after the
work. ``job.data`` says what to do: ``sleep`` seconds; ``fail``: fail while fewer attempts
than that have ended (retries with backoff; a "doomed" job fails every attempt);
``children``: a flow parent checks that it sees that many children's results."""

from __future__ import annotations

import asyncio
import os
from typing import Any

from queuecore import AsyncJob

from .ledger import Ledger

_ledger: Ledger | None = None


def ledger() -> Ledger:
    global _ledger
    if _ledger is None or _ledger.pid != os.getpid():
        _ledger = Ledger(os.environ["QC_SOAK_LEDGER"], "worker")
    return _ledger


class PlannedFailure(Exception):
    """The failure a retry job asked for (not a bug)."""


async def process(job: AsyncJob) -> dict[str, Any]:
    led = ledger()
    attempt = job.attempts_made
    led.note("start", job.id, attempt)
    data = job.data if isinstance(job.data, dict) else {}
    await asyncio.sleep(float(data.get("sleep", 0)))
    if attempt < int(data.get("fail", 0)):
        led.note("err", job.id, attempt)
        raise PlannedFailure(f"planned failure of attempt {attempt}")
    expected = int(data.get("children", 0))
    if expected:
        seen = len(await job.get_children_values())
        if seen != expected:  # a parent that ran early: the check in verify.py reports it
            led.note("err", job.id, attempt)
            raise PlannedFailure(f"parent saw {seen} of {expected} children's results")
    led.note("ok", job.id, attempt)
    return {"pid": led.pid, "attempt": attempt}
