"""Processors for tests that run them in child processes or through the CLI.

Top-level functions only: a child process imports them by "tests.helpers.processors:name".
"""

from __future__ import annotations

import os
import signal
import time
from typing import Any

from queuecore import AsyncJob, CancelSignal, Job, UnrecoverableError
from queuecore.base.clock import now_ms


def echo(job: Job) -> dict[str, Any]:
    """Returns the job's id, data and the pid that ran it."""
    return {"id": job.id, "data": job.data, "pid": os.getpid()}


async def async_echo(job: AsyncJob) -> dict[str, Any]:
    return {"id": job.id, "data": job.data, "pid": os.getpid(), "async": True}


def burn_cpu(job: Job) -> dict[str, Any]:
    """Spins the CPU for data["seconds"]; returns when it started and ended (wall clock)."""
    start = time.time()
    deadline = time.monotonic() + float(job.data["seconds"])
    n = 0
    while time.monotonic() < deadline:
        n += sum(i * i for i in range(1000))
    return {"pid": os.getpid(), "start": start, "end": time.time()}


def report(job: Job) -> dict[str, Any]:
    """Writes progress and a log line to Redis from wherever it runs."""
    job.update_progress({"step": 1, "of": 2})
    job.log(f"hello from pid {os.getpid()}")
    return {"pid": os.getpid(), "token": job.token, "type": type(job).__name__}


async def async_report(job: AsyncJob) -> dict[str, Any]:
    await job.update_progress(75)
    await job.log("hello from an async child")
    return {"pid": os.getpid(), "token": job.token, "type": type(job).__name__}


def _parse(value: Any) -> int:
    raise ValueError(f"cannot parse {value!r}")


def fail(job: Job) -> None:
    """Fails in a nested function, so the traceback names both."""
    _parse(job.data.get("value"))


def fail_unrecoverable(job: Job) -> None:
    raise UnrecoverableError("this input can never work")


def kill_self(job: Job) -> int:
    """SIGKILLs its own process when data["kill"], else returns its pid."""
    if job.data.get("kill"):
        os.kill(os.getpid(), signal.SIGKILL)
        time.sleep(10)
    return os.getpid()


def exit_hard(job: Job) -> None:
    os._exit(3)


def sleep(job: Job) -> int:
    time.sleep(float(job.data.get("seconds", 0)))
    return os.getpid()


def sleep_ignoring_sigterm(job: Job) -> int:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    time.sleep(float(job.data.get("seconds", 0)))
    return os.getpid()


def not_json(job: Job) -> Any:
    return {1, 2, 3}


def delay_self(job: Job) -> None:
    job.move_to_delayed(now_ms() + 60_000)


def set_init_mark() -> None:
    """An initializer: what ``tests.helpers.needs_init`` needs before it can be imported."""
    os.environ["QC_TEST_INIT_MARK"] = "ready"


def failing_initializer() -> None:
    raise RuntimeError("no settings here")


def wait_for_cancel(job: Job, signal: CancelSignal) -> str:
    """Takes a signal (second parameter): logs that it started, waits up to 60 s for the
    cancellation, then fails the job for good with the reason."""
    job.log("started")
    if signal.wait_sync(60):
        signal.raise_if_cancelled()
    return "never cancelled"


async def async_wait_for_cancel(job: AsyncJob, signal: CancelSignal) -> str:
    await job.log("started")
    await signal.wait()
    signal.raise_if_cancelled()
    return "never"
