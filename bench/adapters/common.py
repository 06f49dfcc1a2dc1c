"""Shared plumbing of the Python adapters (queuecore, Python bullmq, RQ, arq).

Every adapter is a script: ``python ADAPTER ROLE CONFIG_JSON``. It prints one JSON object on
its last stdout line. A ``work`` role first prints ``{"ready": true}``, waits for a ``go``
line on stdin, processes jobs until SIGTERM, then prints its result. See bench/README.md.

Times that cross processes (when a job was added, when it was due) are CLOCK_MONOTONIC in
milliseconds: the same clock as Node's ``process.hrtime``, shared by all processes of the
machine, so a Node producer and a Node worker (or two Python ones) agree to the microsecond.
"""

from __future__ import annotations

import json
import platform
import sys
import time
from collections.abc import Callable
from importlib import metadata
from typing import Any

QUEUE = "bench"
JOB_NAME = "noop"


def client_versions() -> dict[str, str]:
    return {"redis-py": metadata.version("redis"), "hiredis": metadata.version("hiredis"),
            "runtime": f"Python {platform.python_version()}"}


def now_ms() -> float:
    return time.monotonic() * 1000.0


def emit(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def announce_ready_and_wait_for_go() -> None:
    """Tell the driver this worker is imported and built, then block until it says go."""
    emit({"ready": True})
    line = sys.stdin.readline()
    if line.strip() != "go":
        raise SystemExit(f"expected 'go' on stdin, got {line!r}")


def pace(rate: float) -> Callable[[int], float]:
    """For a steady producer: seconds to wait before job ``i`` (0 when late)."""
    start = time.monotonic()

    def wait_before(i: int) -> float:
        return max(0.0, start + i / rate - time.monotonic())

    return wait_before


def run(roles: dict[str, Callable[[dict[str, Any]], dict[str, Any]]]) -> None:
    if len(sys.argv) != 3 or sys.argv[1] not in roles:
        raise SystemExit(f"usage: {sys.argv[0]} {{{','.join(roles)}}} CONFIG_JSON")
    result = roles[sys.argv[1]](json.loads(sys.argv[2]))
    emit(result)

