"""queuecore: a Redis job queue in BullMQ 6's data format.

Queues, workers and jobs interoperate with Node ``bullmq`` 6.x and Python ``bullmq`` 3.4.x.
"""

from __future__ import annotations

from .base.backoff import Backoff, compute_backoff
from .base.errors import (
    ChildProcessCrashedError,
    DataError,
    DelayedError,
    ErrorCode,
    FailedChildrenError,
    InvalidOptionsError,
    JobBelongsToSchedulerError,
    JobLockedError,
    JobNotFoundError,
    JobNotInStateError,
    JobTimeoutError,
    LockMismatchError,
    LockNotFoundError,
    ParentCannotBeReplacedError,
    ParentNotFoundError,
    PendingChildrenError,
    QueueCoreError,
    RateLimitError,
    RedisConnectionError,
    RedisError,
    RedisResponseError,
    RedisTimeoutError,
    RemoteProcessorError,
    SchedulerIdCollisionError,
    SchedulerSlotBusyError,
    ScriptError,
    UnrecoverableError,
    WaitingChildrenError,
)
from .base.options import JobOptionsDict
from .client.ajob import AsyncJob
from .client.aqueue import AsyncQueue
from .client.job import Job
from .client.queue import Queue
from .commands.metrics import Metrics, TimingSummary
from .commands.ops import Dependencies
from .commands.record import JobRecord
from .commands.schedulers import JobScheduler
from .flows.aproducer import AsyncFlowProducer
from .flows.fanout import FanOut, FanOutNode, fan_out, release_fan_out
from .flows.plan import FlowJob, JobNode, chain
from .flows.producer import FlowProducer
from .observe.adiscovery import alist_queues
from .observe.discovery import list_queues
from .observe.events import QueueEvent, QueueEvents
from .observe.health import HealthReport, acheck_health, check_health
from .worker.pool import WorkerPool
from .worker.processes import ProcessPool
from .worker.worker import Worker

__version__ = "0.1.0"

__all__ = [
    "AsyncFlowProducer",
    "AsyncJob",
    "AsyncQueue",
    "Backoff",
    "DataError",
    "DelayedError",
    "ErrorCode",
    "FailedChildrenError",
    "FlowJob",
    "FlowProducer",
    "InvalidOptionsError",
    "Job",
    "JobLockedError",
    "JobNode",
    "JobNotFoundError",
    "JobNotInStateError",
    "JobOptionsDict",
    "JobRecord",
    "LockMismatchError",
    "LockNotFoundError",
    "ParentNotFoundError", "PendingChildrenError",
    "Queue",
    "QueueCoreError",
    "QueueEvent",
    "QueueEvents",
    "RateLimitError",
    "RedisConnectionError",
    "RedisError",
    "RedisResponseError",
    "RedisTimeoutError",
    "ScriptError",
    "UnrecoverableError",
    "WaitingChildrenError",
    "Worker",
    "alist_queues",
    "chain",
    "compute_backoff",
    "list_queues",
]
__all__ += [  # issue 3: processes, CLI, worker pool, health
    "ChildProcessCrashedError", "HealthReport", "ProcessPool", "RemoteProcessorError",
    "WorkerPool", "acheck_health", "check_health",
]
__all__ += [  # issue 3: fan-out flows
    "FanOut", "FanOutNode", "fan_out", "release_fan_out",
]
__all__ += [  # every error a call can raise, and the types methods return
    "Dependencies", "JobBelongsToSchedulerError", "JobScheduler", "JobTimeoutError", "Metrics",
    "ParentCannotBeReplacedError", "SchedulerIdCollisionError", "SchedulerSlotBusyError",
    "TimingSummary",
]
