# Generated from queuecore/client/ajob.py by scripts/unasync.py: do not edit.
# Change the asyncio source and run `python scripts/unasync.py`.
"""``Job``: a job read from Redis, with blocking methods that act on the stored job.

A job reaches its queue through ``JobQueue``, the little it needs of a ``Queue``,
so that this module does not import the queue's (which imports this one)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from ..base.clock import now_ms
from ..base.errors import InvalidOptionsError
from ..base.jsonutil import dumps_data
from ..base.keys import QueueKeys
from ..base.options import keep_jobs
from ..base.validation import positive_int
from ..commands import flow_edits, getters, job_edits, ops, worker_ops
from ..commands.failure import plan_failure
from ..commands.job_edits import log_line
from ..commands.op import Op
from ..commands.record import JobRecord
from .job_base import JobEvents, ProgressListener, progress_json

T = TypeVar("T")
_init_record = JobRecord.__init__  # the dataclass' own: id, name, data, opts, timestamp, ...


class JobQueue(Protocol):
    """What a job uses of its queue (a ``Queue``)."""

    @property
    def name(self) -> str: ...

    @property
    def keys(self) -> QueueKeys: ...

    @property
    def max_data_size(self) -> int | None: ...

    #: Called with a job's id when the job moved itself on (a worker's hook).
    on_job_moved: Callable[[str], None] | None

    def run_op(self, op: Op[T]) -> T: ...

    def get_job_logs(self, job_id: str, start: int = 0, end: int = -1,
                     asc: bool = True) -> tuple[list[str], int]: ...


class Job(JobRecord):
    """A job with blocking methods, bound to a ``Queue``."""

    __slots__ = ("moved", "on_progress", "queue")

    def __init__(self, queue: JobQueue, **fields: Any) -> None:
        super().__init__(**fields)
        self.queue = queue
        self.moved = False
        self.on_progress: ProgressListener | None = None

    @classmethod
    def from_hash(cls, queue: JobQueue, job_id: str, h: dict[str, str],
                  token: str | None = None) -> Job:
        """The job stored as ``h``; made field by field, not through ``__init__``'s keyword
        arguments (a worker makes one per job)."""
        job = cls.__new__(cls)
        job._load_hash(job_id, h)
        job.token = token
        job.queue = queue
        job.moved = False
        job.on_progress = None
        return job

    @classmethod
    def _added(cls, queue: JobQueue, job_id: str, name: str, data: Any,
              opts: dict[str, Any], timestamp: int, delay: int, priority: int) -> Job:
        """Internal: the job an add just stored, built as ``__init__`` would build it
        with these fields, for a third of the cost (no keyword arguments to match)."""
        job = cls.__new__(cls)
        _init_record(job, job_id, name, data, opts, timestamp, delay, priority)
        job.queue = queue
        job.moved = False
        job.on_progress = None
        return job

    def _mark_moved(self) -> None:
        """The job moved itself on (its lock went with the move): the worker leaves it, and
        its lock renewal stops (no lock-lost for it)."""
        self.moved = True
        hook = self.queue.on_job_moved
        if hook is not None:
            hook(self.id)

    def __repr__(self) -> str:
        return f"<Job {self.queue.name}:{self.id} {self.name!r}>"

    def update_progress(self, progress: Any) -> None:
        text = progress_json(progress, self.queue.max_data_size)
        self.queue.run_op(ops.update_progress(self.queue.keys, self.id, text))
        self.progress = progress
        if self.on_progress is not None:
            self.on_progress(progress)

    def log(self, line: str) -> int:
        keep = self.opts.get("kl") or 0
        text = log_line(line, self.queue.max_data_size)
        return self.queue.run_op(ops.add_log(self.queue.keys, self.id, text, int(keep)))

    def get_logs(self, start: int = 0, end: int = -1,
                 asc: bool = True) -> tuple[list[str], int]:
        return self.queue.get_job_logs(self.id, start, end, asc)

    def get_state(self) -> str:
        return self.queue.run_op(ops.get_state(self.queue.keys, self.id))

    def wait_until_finished(self, queue_events: JobEvents,
                            timeout: float | None = None) -> Any:
        """The job's return value once it completes; ``JobFailedError`` (with its failed
        reason) once it fails for good; ``WaitTimeoutError`` after ``timeout`` seconds. Works
        when the job finished before the call. ``queue_events`` is a ``QueueEvents`` of the
        job's queue (it is read, not consumed)."""
        return queue_events.job_result(self.id, timeout)

    def get_dependencies(self) -> ops.Dependencies:
        """A flow parent's children: processed results, pending keys and failures."""
        return self.queue.run_op(ops.dependencies(self.queue.keys, self.id))

    def get_children_values(self) -> dict[str, Any]:
        """Results of the completed children, by the child's full job key."""
        return self.get_dependencies().processed

    def get_failed_children_values(self) -> dict[str, str]:
        return self.get_dependencies().failed

    def retry(self, state: str = "failed", *, reset_attempts: bool = False) -> None:
        self.queue.run_op(ops.reprocess(self.queue.keys, state, self.id,
                                        reset_attempts=reset_attempts))

    def promote(self) -> None:
        self.queue.run_op(ops.promote(self.queue.keys, self.id))

    def remove(self) -> None:
        self.queue.run_op(ops.remove(self.queue.keys, self.id))

    def move_to_delayed(self, timestamp_ms: int, token: str | None = None) -> None:
        """From inside a processor: run this job again at ``timestamp_ms`` (no attempt counted)."""
        tok = token or self.token or "0"
        self.queue.run_op(worker_ops.move_to_delayed(
            self.queue.keys, self.id, tok, now_ms(), int(timestamp_ms), count_attempt=False))
        self._mark_moved()

    # -- BullMQ's job edits, state checks and flow helpers --

    def update_data(self, data: Any) -> None:
        """Replace the job's data (``DataError`` over ``max_data_size``, nothing written)."""
        self.queue.run_op(job_edits.update_data(self.queue.keys, self.id, data,
                                                self.queue.max_data_size))
        self.data = data

    def change_priority(self, priority: int = 0, lifo: bool = False) -> None:
        """Give the job ``priority`` (0: none; 1 the highest); a queued job is queued again
        with it, ahead of its priority's other jobs with ``lifo``."""
        self.queue.run_op(job_edits.change_priority(self.queue.keys, self.id, priority,
                                                    lifo))
        self.priority = priority

    def change_delay(self, delay: int) -> None:
        """Run a delayed job ``delay`` ms from now (``JobNotInStateError`` when not delayed)."""
        self.queue.run_op(job_edits.change_delay(self.queue.keys, self.id, delay,
                                                 now_ms()))
        self.delay = delay

    def clear_logs(self, keep_logs: int | None = None) -> None:
        """Clear the job's log, keeping its last ``keep_logs`` lines when given."""
        self.queue.run_op(job_edits.clear_logs(self.queue.keys, self.id, keep_logs))

    def is_completed(self) -> bool:
        return self.queue.run_op(getters.is_in_state(self.queue.keys, self.id,
                                                     "completed"))

    def is_failed(self) -> bool:
        return self.queue.run_op(getters.is_in_state(self.queue.keys, self.id, "failed"))

    def is_active(self) -> bool:
        return self.queue.run_op(getters.is_in_state(self.queue.keys, self.id, "active"))

    def is_waiting(self) -> bool:
        return self.queue.run_op(getters.is_in_state(self.queue.keys, self.id,
                                                     "waiting"))

    def is_delayed(self) -> bool:
        return self.queue.run_op(getters.is_in_state(self.queue.keys, self.id,
                                                     "delayed"))

    def is_waiting_children(self) -> bool:
        return self.queue.run_op(getters.is_in_state(self.queue.keys, self.id,
                                                     "waiting-children"))

    def get_dependencies_count(self, *, processed: bool = False,
                               unprocessed: bool = False, ignored: bool = False,
                               failed: bool = False) -> dict[str, int]:
        """A flow parent's children per type (BullMQ's names); the types asked, else all."""
        asked = [t for t, on in (("processed", processed), ("unprocessed", unprocessed),
                                 ("ignored", ignored), ("failed", failed)) if on]
        return self.queue.run_op(getters.dependency_counts(self.queue.keys, self.id,
                                                           asked))

    def get_ignored_children_failures(self) -> dict[str, str]:
        """Failures of children whose parent went on (continue/ignore on failure), by key."""
        return self.queue.run_op(getters.ignored_children_failures(self.queue.keys,
                                                                   self.id))

    def remove_child_dependency(self) -> bool:
        """Cut this unfinished child loose from its parent; False when it was none's."""
        removed = self.queue.run_op(flow_edits.remove_child_dependency(
            self.queue.keys, self.id, now_ms()))
        if removed:
            self.parent = None
            self.parent_key = None
        return removed

    def remove_unprocessed_children(self) -> int:
        """Remove this parent's children that are not processed, running or failed (with
        their subtrees); returns how many jobs were removed."""
        return self.queue.run_op(flow_edits.remove_unprocessed_children(
            self.queue.keys, self.id, now_ms()))


    # -- manual processing: the lock's owner moves the job on (see docs/workers.md) --

    def _lock_token(self, token: str | None) -> str:
        tok = token or self.token
        if not tok:
            raise InvalidOptionsError(f"job {self.id}: the lock token is needed (the token "
                                      "given to get_next_job, or job.token in a processor)")
        return tok

    def move_to_completed(self, value: Any, token: str | None = None) -> None:
        """Complete this active job with ``value`` (JSON) as its return value; for the
        owner of the lock (``LockMismatchError``, ``JobNotInStateError``... else)."""
        tok = self._lock_token(token)
        text = dumps_data(value, self.queue.max_data_size, what="return value")
        keep = keep_jobs(self.opts.get("removeOnComplete"))
        self.queue.run_op(worker_ops.move_to_finished(
            self.queue.keys, self.id, tok, now_ms(), completed=True, value=text,
            stacktrace="", keep=keep, max_attempts=self.max_attempts, metrics_points=0,
            fetch_next=False, next_token="", lock_ms=0, limiter_max=0, limiter_ms=0,
            worker_name=""))
        self.return_value = value
        self.finished_on = now_ms()
        self.attempts_made += 1
        self._mark_moved()

    def move_to_failed(self, error: BaseException, token: str | None = None) -> None:
        """Fail this attempt with ``error``, as a worker would: retried (now or after the
        job's backoff) while attempts remain and the error is not ``UnrecoverableError``,
        else failed for good; for the owner of the lock only."""
        if not isinstance(error, BaseException):
            raise InvalidOptionsError("move_to_failed needs an exception")
        tok = self._lock_token(token)
        plan = plan_failure(self, error)
        keys, now = self.queue.keys, now_ms()
        if plan.retry_in_ms is None:
            keep = keep_jobs(self.opts.get("removeOnFail"))
            op = worker_ops.move_to_finished(
                keys, self.id, tok, now, completed=False, value=plan.reason,
                stacktrace=plan.stacktrace_json, keep=keep, max_attempts=self.max_attempts,
                metrics_points=0, fetch_next=False, next_token="", lock_ms=0, limiter_max=0,
                limiter_ms=0, worker_name="")
            self.finished_on = now
        elif plan.retry_in_ms > 0:
            op = worker_ops.move_to_delayed(keys, self.id, tok, now, now + plan.retry_in_ms,
                                            count_attempt=True, reason=plan.reason,
                                            stacktrace=plan.stacktrace_json)
        else:
            op = worker_ops.retry_job(keys, self.id, tok, plan.reason, plan.stacktrace_json,
                                      bool(self.opts.get("lifo")))
        self.queue.run_op(op)
        self.failed_reason = plan.reason
        self.attempts_made += 1
        self._mark_moved()

    def extend_lock(self, token: str, duration_ms: int) -> None:
        """Keep this job's lock for ``duration_ms`` more (manual processing renews its own
        locks); ``LockMismatchError`` when another token holds it."""
        duration = positive_int("extend_lock duration_ms", duration_ms)
        self.queue.run_op(worker_ops.extend_lock(self.queue.keys, self.id,
                                                 self._lock_token(token), duration))

    def move_to_waiting_children(self, token: str | None = None, *,
                                 child_key: str | None = None) -> bool:
        """Wait in ``waiting-children`` until the children are done (then the job runs
        again); True when moved, False when no child is pending (go on processing). In a
        processor, raise ``WaitingChildrenError`` after a True. ``child_key``: wait for
        that child (its full key) only."""
        moved = self.queue.run_op(worker_ops.move_to_waiting_children(
            self.queue.keys, self.id, self._lock_token(token), now_ms(), child_key or ""))
        if moved:
            self._mark_moved()
        return moved
