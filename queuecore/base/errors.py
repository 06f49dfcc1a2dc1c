"""One root error, and the map from script return codes to typed exceptions."""

from __future__ import annotations

from enum import IntEnum


class QueueCoreError(Exception):
    """Root of every error queuecore raises on purpose."""


class InvalidOptionsError(QueueCoreError, ValueError):
    """An option or argument is wrong; nothing was written."""


class DataError(InvalidOptionsError):
    """Job data is not JSON-serialisable or is over the size limit; nothing was written."""


class UnrecoverableError(QueueCoreError):
    """Raise from a processor to fail the job at once, without further attempts."""


class JobCancelledError(UnrecoverableError):
    """The job was cancelled (``Worker.cancel_job``): raised by
    ``CancelSignal.raise_if_cancelled()``; fails the job without further attempts."""


class RateLimitError(QueueCoreError):
    """Raise from a processor (after ``worker.rate_limit(ms)``) to put the job back unharmed."""


class WaitingChildrenError(QueueCoreError):
    """Raise from a processor after moving the job to waiting-children."""


class DelayedError(QueueCoreError):
    """Raise from a processor after ``job.move_to_delayed`` so the worker leaves it alone."""


class JobTimeoutError(QueueCoreError):
    """An attempt ran longer than the job's ``timeout`` option; retried per attempts."""


class JobFailedError(QueueCoreError):
    """``wait_until_finished``: the job failed for good; ``failed_reason`` says why."""

    def __init__(self, job_id: str, failed_reason: str) -> None:
        super().__init__(f"job {job_id} failed: {failed_reason}")
        self.job_id = job_id
        self.failed_reason = failed_reason

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.job_id, self.failed_reason))


class WaitTimeoutError(QueueCoreError, TimeoutError):
    """``wait_until_finished``: the job did not finish within the timeout (it may still)."""


class RedisError(QueueCoreError):
    """Redis refused or could not run a command. The redis-py exception is ``__cause__``;
    queuecore's API never lets redis-py's own exceptions out."""


class RedisConnectionError(RedisError, ConnectionError):
    """Redis could not be reached, or the connection dropped before the reply (a reply that
    was lost may or may not have been carried out)."""


class RedisTimeoutError(RedisConnectionError, TimeoutError):
    """Redis did not answer in time."""


class RedisResponseError(RedisError):
    """Redis answered with an error (out of memory, a read-only replica, a wrong key type...)."""


class ErrorCode(IntEnum):
    """Negative codes that the Lua scripts return (BullMQ's numbering where it has one)."""

    JOB_NOT_EXIST = -1
    JOB_LOCK_NOT_EXIST = -2
    JOB_NOT_IN_STATE = -3
    JOB_PENDING_CHILDREN = -4
    PARENT_JOB_NOT_EXIST = -5
    JOB_LOCK_MISMATCH = -6
    PARENT_JOB_CANNOT_BE_REPLACED = -7
    JOB_BELONGS_TO_JOB_SCHEDULER = -8
    JOB_HAS_FAILED_CHILDREN = -9
    SCHEDULER_JOB_ID_COLLISION = -10
    SCHEDULER_JOB_SLOTS_BUSY = -11
    JOB_LOCKED = -12


class ScriptError(QueueCoreError):
    """A script refused an operation; ``code`` tells why."""

    code: ErrorCode

    def __init__(self, message: str, *, job_id: str | None = None, command: str = "") -> None:
        super().__init__(message)
        self.job_id = job_id
        self.command = command


class JobNotFoundError(ScriptError, LookupError):
    code = ErrorCode.JOB_NOT_EXIST


class LockNotFoundError(ScriptError):
    code = ErrorCode.JOB_LOCK_NOT_EXIST


class JobNotInStateError(ScriptError):
    code = ErrorCode.JOB_NOT_IN_STATE


class PendingChildrenError(ScriptError):
    code = ErrorCode.JOB_PENDING_CHILDREN


class ParentNotFoundError(ScriptError):
    code = ErrorCode.PARENT_JOB_NOT_EXIST


class LockMismatchError(ScriptError):
    code = ErrorCode.JOB_LOCK_MISMATCH


class ParentCannotBeReplacedError(ScriptError):
    code = ErrorCode.PARENT_JOB_CANNOT_BE_REPLACED


class JobBelongsToSchedulerError(ScriptError):
    code = ErrorCode.JOB_BELONGS_TO_JOB_SCHEDULER


class FailedChildrenError(ScriptError):
    code = ErrorCode.JOB_HAS_FAILED_CHILDREN


class SchedulerIdCollisionError(ScriptError):
    code = ErrorCode.SCHEDULER_JOB_ID_COLLISION


class SchedulerSlotBusyError(ScriptError):
    code = ErrorCode.SCHEDULER_JOB_SLOTS_BUSY


class JobLockedError(ScriptError):
    code = ErrorCode.JOB_LOCKED


_MESSAGES: dict[ErrorCode, str] = {
    ErrorCode.JOB_NOT_EXIST: "job {job} does not exist",
    ErrorCode.JOB_LOCK_NOT_EXIST: "job {job} has no lock (it was lost or expired)",
    ErrorCode.JOB_NOT_IN_STATE: "job {job} is not in the state {command} needs",
    ErrorCode.JOB_PENDING_CHILDREN: "job {job} still has pending children",
    ErrorCode.PARENT_JOB_NOT_EXIST: "the parent of job {job} does not exist",
    ErrorCode.JOB_LOCK_MISMATCH: "job {job} is locked by another worker",
    ErrorCode.PARENT_JOB_CANNOT_BE_REPLACED: "the parent of job {job} cannot be replaced",
    ErrorCode.JOB_BELONGS_TO_JOB_SCHEDULER: "job {job} belongs to a job scheduler",
    ErrorCode.JOB_HAS_FAILED_CHILDREN: "job {job} has failed children",
    ErrorCode.SCHEDULER_JOB_ID_COLLISION: "a scheduler job id collides with job {job}",
    ErrorCode.SCHEDULER_JOB_SLOTS_BUSY: "the scheduler slot of job {job} is busy",
    ErrorCode.JOB_LOCKED: "job {job} is locked by a worker and cannot be changed now",
}

ERRORS_BY_CODE: dict[ErrorCode, type[ScriptError]] = {
    cls.code: cls
    for cls in (
        JobNotFoundError, LockNotFoundError, JobNotInStateError, PendingChildrenError,
        ParentNotFoundError, LockMismatchError, ParentCannotBeReplacedError,
        JobBelongsToSchedulerError, FailedChildrenError, SchedulerIdCollisionError,
        SchedulerSlotBusyError, JobLockedError,
    )
}


def error_for_code(code: int, *, job_id: str | None = None, command: str = "") -> ScriptError:
    """The exception for a negative script return code."""
    try:
        enum = ErrorCode(code)
    except ValueError:
        err = ScriptError(f"{command}: unknown script error code {code}", job_id=job_id,
                          command=command)
        return err
    cls = ERRORS_BY_CODE[enum]
    message = _MESSAGES[enum].format(job=job_id if job_id is not None else "?", command=command)
    return cls(f"{command}: {message}" if command else message, job_id=job_id, command=command)


class RemoteProcessorError(QueueCoreError):
    """A processor running in a child process (``processes=``) raised.

    ``remote_type`` names the exception class in the child (``"builtins.ValueError"``) and
    ``remote_traceback`` is the child's formatted traceback; it is also chained as the cause,
    so a formatted traceback of this error (the job's stacktrace) shows the child's."""

    def __init__(self, message: str, *, remote_type: str = "",
                 remote_traceback: str = "") -> None:
        super().__init__(message)
        self.remote_type = remote_type
        self.remote_traceback = remote_traceback

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), self.args, self.__dict__)


class ChildProcessCrashedError(QueueCoreError):
    """The child process running a job died (SIGKILL, ``os._exit``, a segfault...)."""

    def __init__(self, message: str, *, exitcode: int | None = None,
                 pid: int | None = None) -> None:
        super().__init__(message)
        self.exitcode = exitcode
        self.pid = pid

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), self.args, self.__dict__)

