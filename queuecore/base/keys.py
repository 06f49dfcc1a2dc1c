"""Every Redis key name of a queue, in BullMQ 6's layout: ``<prefix>:<queue>:<suffix>``."""

from __future__ import annotations

from dataclasses import dataclass

QUEUE_SUFFIXES = (
    "wait", "paused", "active", "prioritized", "pc", "delayed", "completed", "failed",
    "waiting-children", "marker", "events", "meta", "stalled", "stalled-check", "limiter",
    "id", "repeat", "metrics:completed", "metrics:failed",
)


def validate_queue_name(name: str) -> str:
    """Refuse names that would break the key layout or hide other keys."""
    if not isinstance(name, str) or not name:
        raise ValueError("queue name must be a non-empty string")
    if len(name) > 256:
        raise ValueError("queue name must be at most 256 characters")
    if any(ch in name for ch in ":*?[]\\\x00\r\n"):
        raise ValueError(
            f"queue name {name!r} may not contain ':', glob characters or control characters"
        )
    return name


def validate_prefix(prefix: str) -> str:
    if not isinstance(prefix, str) or not prefix or len(prefix) > 128:
        raise ValueError("prefix must be a non-empty string of at most 128 characters")
    if any(ch in prefix for ch in "*?[]\\\x00\r\n"):
        raise ValueError(f"prefix {prefix!r} may not contain glob or control characters")
    return prefix


@dataclass(frozen=True, slots=True)
class QueueKeys:
    """Key names of one queue. ``base`` is ``<prefix>:<queue>:`` (the job key prefix)."""

    prefix: str
    name: str

    @classmethod
    def of(cls, name: str, prefix: str = "bull") -> QueueKeys:
        return cls(validate_prefix(prefix), validate_queue_name(name))

    @property
    def base(self) -> str:
        return f"{self.prefix}:{self.name}:"

    @property
    def queue_key(self) -> str:
        """``<prefix>:<queue>``, the form stored in a child's ``parent.queueKey``."""
        return f"{self.prefix}:{self.name}"

    @property
    def cancel_channel(self) -> str:
        """The pub/sub channel that asks this queue's workers to cancel a job: the topic
        BullMQ's guide subscribes its workers to (``jobs.<queue>.cancel``), under the prefix;
        messages ``{"jobId": ..., "reason": ...}`` as in that guide."""
        return f"{self.prefix}:jobs.{self.name}.cancel"

    def key(self, suffix: str) -> str:
        return self.base + suffix

    @property
    def wait(self) -> str:
        return self.base + "wait"

    @property
    def paused(self) -> str:
        return self.base + "paused"

    @property
    def active(self) -> str:
        return self.base + "active"

    @property
    def prioritized(self) -> str:
        return self.base + "prioritized"

    @property
    def pc(self) -> str:
        return self.base + "pc"

    @property
    def delayed(self) -> str:
        return self.base + "delayed"

    @property
    def completed(self) -> str:
        return self.base + "completed"

    @property
    def failed(self) -> str:
        return self.base + "failed"

    @property
    def waiting_children(self) -> str:
        return self.base + "waiting-children"

    @property
    def marker(self) -> str:
        return self.base + "marker"

    @property
    def events(self) -> str:
        return self.base + "events"

    @property
    def meta(self) -> str:
        return self.base + "meta"

    @property
    def stalled(self) -> str:
        return self.base + "stalled"

    @property
    def stalled_check(self) -> str:
        return self.base + "stalled-check"

    @property
    def limiter(self) -> str:
        return self.base + "limiter"

    @property
    def id(self) -> str:
        return self.base + "id"

    @property
    def repeat(self) -> str:
        return self.base + "repeat"

    def metrics(self, kind: str) -> str:
        return self.base + "metrics:" + kind

    def job(self, job_id: str) -> str:
        return self.base + job_id

    def lock(self, job_id: str) -> str:
        return self.base + job_id + ":lock"

    def logs(self, job_id: str) -> str:
        return self.base + job_id + ":logs"

    def dedup(self, dedup_id: str) -> str:
        return self.base + "de:" + dedup_id

    def state_key(self, state: str) -> str:
        """The structure that holds jobs of a public state name."""
        return self.base + STATE_SUFFIX[state]


# Public state name -> key suffix.
STATE_SUFFIX = {
    "waiting": "wait",
    "paused": "paused",
    "active": "active",
    "prioritized": "prioritized",
    "delayed": "delayed",
    "completed": "completed",
    "failed": "failed",
    "waiting-children": "waiting-children",
}
LIST_STATES = frozenset({"waiting", "paused", "active"})
ZSET_STATES = frozenset({"prioritized", "delayed", "completed", "failed", "waiting-children"})
ALL_STATES = tuple(STATE_SUFFIX)
