"""The libraries under test: how to start each adapter and how to count its finished jobs."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
ADAPTERS = BENCH / "adapters"
QUEUE = "bench"


@dataclass(frozen=True)
class Lib:
    key: str
    label: str
    argv: tuple[str, ...]
    done_kind: str  # "bullmq" | "rq" | "arq": where finished jobs can be counted
    env: dict[str, str] = field(default_factory=dict)
    concurrent: bool = True  # can run many jobs at once in one process
    scenarios: frozenset[str] | None = None  # None: all
    options: dict[str, Any] = field(default_factory=dict)  # added to every adapter config

    def runs(self, scenario: str) -> bool:
        return self.scenarios is None or scenario in self.scenarios

    def environ(self) -> dict[str, str]:
        return {**os.environ, **self.env}


def done_count(lib: Lib, client: redis.Redis, expected: int) -> int:
    """Jobs this library has finished so far (``expected``: how many were added)."""
    if lib.done_kind == "bullmq":
        return int(client.zcard(f"bull:{QUEUE}:completed"))
    if lib.done_kind == "rq":
        return int(client.zcard(f"rq:finished:{QUEUE}"))
    # arq keeps a job in its queue sorted set until the job has finished
    return expected - int(client.zcard("arq:queue"))


def _python(venv: str, script: str) -> tuple[str, ...]:
    return (str(BENCH / venv / "bin" / "python"), str(ADAPTERS / script))


QC_ENV = {"PYTHONPATH": str(ROOT)}

LIBS: dict[str, Lib] = {
    "queuecore": Lib("queuecore", "queuecore", _python(".venv-qc", "queuecore_bench.py"),
                     "bullmq", QC_ENV),
    "node": Lib("node", "Node bullmq", ("node", str(ADAPTERS / "node_bench.mjs")), "bullmq"),
    "pybullmq": Lib("pybullmq", "Python bullmq", _python(".venv", "pybullmq_bench.py"),
                    "bullmq"),
    "rq": Lib("rq", "RQ", _python(".venv", "rq_bench.py"), "rq", concurrent=False),
    "arq": Lib("arq", "arq", _python(".venv-arq", "arq_bench.py"), "arq"),
    # queuecore's AsyncQueue for the add scenarios (the table's main column uses Queue).
    "queuecore-async": Lib("queuecore-async", "queuecore AsyncQueue",
                           _python(".venv-qc", "queuecore_bench.py"), "bullmq", QC_ENV,
                           scenarios=frozenset({"S1", "S2"}), options={"api": "async"}),
    # The same with AsyncQueue(autopipeline=True, socket_timeout=None).
    "queuecore-async-ap": Lib("queuecore-async-ap", "queuecore AsyncQueue, auto-pipelined",
                              _python(".venv-qc", "queuecore_bench.py"), "bullmq", QC_ENV,
                              scenarios=frozenset({"S1", "S2"}),
                              options={"api": "async", "autopipeline": True}),
}

# An older tree of queuecore side by side in the same run (old and new figures, interleaved):
# QC_BASE_TREE=/path/to/a/checkout adds the library "queuecore-base" (its S1 with Queue).
if os.environ.get("QC_BASE_TREE"):
    LIBS["queuecore-base"] = Lib("queuecore-base", "queuecore (base tree)",
                                 _python(".venv-qc", "queuecore_bench.py"), "bullmq",
                                 {"PYTHONPATH": os.environ["QC_BASE_TREE"]})
    # The base tree's AsyncQueue (S1 and S2 only), beside "queuecore-async".
    LIBS["queuecore-async-base"] = Lib("queuecore-async-base", "queuecore AsyncQueue (base tree)",
                                       _python(".venv-qc", "queuecore_bench.py"), "bullmq",
                                       {"PYTHONPATH": os.environ["QC_BASE_TREE"]},
                                       scenarios=frozenset({"S1", "S2"}),
                                       options={"api": "async"})
