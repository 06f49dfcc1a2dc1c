"""queuecore: a Redis job queue in BullMQ 6's data format.

Queues, workers and jobs interoperate with Node ``bullmq`` 6.x and Python ``bullmq`` 3.4.x.
"""

from __future__ import annotations

from .base.backoff import Backoff, compute_backoff
from .base.cancel import CancelSignal
from .base.errors import (
    ChildProcessCrashedError,
    DataError,
    DelayedError,
    ErrorCode,
    FailedChildrenError,
    InvalidOptionsError,
    JobBelongsToSchedulerError,
    JobCancelledError,
    JobFailedError,
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
    WaitTimeoutError,
)
from .base.keys import QUEUE_SUFFIXES, validate_queue_name
from .base.options import JobOptionsDict, TelemetryOptions, validate_job_options
from .base.telemetry import Telemetry
from .base.version import __version__ as __version__
from .client.ajob import AsyncJob
from .client.aqueue import AsyncQueue
from .client.atriage import AsyncTriage
from .client.cancel import arequest_cancel, request_cancel
from .client.job import Job
from .client.queue import Queue
from .client.queue_base import BulkJob
from .client.triage import Triage
from .commands.metrics import Metrics, TimingSummary
from .commands.ops import Dependencies
from .commands.record import JobRecord
from .commands.schedulers import JobScheduler
from .commands.timings import Histograms as TimingHistograms
from .flows.aproducer import AsyncFlowProducer
from .flows.fanout import FanOut, FanOutNode, fan_out, release_fan_out
from .flows.plan import FlowJob, JobNode, chain
from .flows.producer import FlowProducer
from .observe.adiscovery import alist_queues
from .observe.batch_reads import HistoryReads, history_reads, job_states, lock_ttls
from .observe.discovery import list_queues
from .observe.events import QueueEvent, QueueEvents
from .observe.health import HealthReport, acheck_health, check_health
from .observe.stats import QueueStats, finished_per_slot, queue_stats, read_timings
from .observe.telemetry import OTelTelemetry
from .worker.pool import WorkerPool
from .worker.process_pool import ProcessPool
from .worker.worker import Worker

__all__ = [
    "QUEUE_SUFFIXES",
    "AsyncFlowProducer",
    "AsyncJob",
    "AsyncQueue",
    "AsyncTriage",
    "Backoff",
    "BulkJob",
    "CancelSignal",
    "ChildProcessCrashedError",
    "DataError",
    "DelayedError",
    "Dependencies",
    "ErrorCode",
    "FailedChildrenError",
    "FanOut",
    "FanOutNode",
    "FlowJob",
    "FlowProducer",
    "HealthReport",
    "HistoryReads",
    "InvalidOptionsError",
    "Job",
    "JobBelongsToSchedulerError",
    "JobCancelledError",
    "JobFailedError",
    "JobLockedError",
    "JobNode",
    "JobNotFoundError",
    "JobNotInStateError",
    "JobOptionsDict",
    "JobRecord",
    "JobScheduler",
    "JobTimeoutError",
    "LockMismatchError",
    "LockNotFoundError",
    "Metrics",
    "OTelTelemetry",
    "ParentCannotBeReplacedError",
    "ParentNotFoundError",
    "PendingChildrenError",
    "ProcessPool",
    "Queue",
    "QueueCoreError",
    "QueueEvent",
    "QueueEvents",
    "QueueStats",
    "RateLimitError",
    "RedisConnectionError",
    "RedisError",
    "RedisResponseError",
    "RedisTimeoutError",
    "RemoteProcessorError",
    "SchedulerIdCollisionError",
    "SchedulerSlotBusyError",
    "ScriptError",
    "Telemetry",
    "TelemetryOptions",
    "TimingHistograms",
    "TimingSummary",
    "Triage",
    "UnrecoverableError",
    "WaitTimeoutError",
    "WaitingChildrenError",
    "Worker",
    "WorkerPool",
    "acheck_health",
    "alist_queues",
    "arequest_cancel",
    "chain",
    "check_health",
    "compute_backoff",
    "fan_out",
    "finished_per_slot",
    "history_reads",
    "job_states",
    "list_queues",
    "lock_ttls",
    "queue_stats",
    "read_timings",
    "release_fan_out",
    "request_cancel",
    "validate_job_options",
    "validate_queue_name",
]
