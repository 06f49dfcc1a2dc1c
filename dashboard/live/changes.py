"""Fold BullMQ events into what a page must refresh (pure: no Redis, no Django).

A batch of stream entries becomes one ``Changes``: which job lists moved, which jobs were
touched (their latest event and progress), the first few failures for toasts, and whether
everything must be re-read (``full``: a queue-wide event, or a reader that fell behind and
skipped ahead). Counts are never derived from events: a flush re-reads them from Redis.
``logs`` comes from no event (BullMQ writes none for a log line): a feed's log watch sets it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

#: Every job list a page can show.
ALL_STATES: frozenset[str] = frozenset(
    {"waiting", "active", "prioritized", "delayed", "waiting-children", "completed", "failed",
     "paused"}
)
_WAITING = frozenset({"waiting", "prioritized", "paused"})

#: Lists an event's job enters (its ``prev`` field names the list it left, when given).
ENTERS: dict[str, frozenset[str]] = {
    "added": _WAITING | {"delayed"},
    "waiting": _WAITING,
    "active": frozenset({"active"}) | _WAITING,
    "completed": frozenset({"completed", "active"}),
    "failed": frozenset({"failed", "active"}),
    "retries-exhausted": frozenset({"failed", "active"}),
    "delayed": frozenset({"delayed", "active"}) | _WAITING,
    "waiting-children": frozenset({"waiting-children"}),
    "stalled": frozenset({"active"}) | _WAITING,
    "paused": _WAITING,
    "resumed": _WAITING,
    "deduplicated": frozenset(),
    "duplicated": frozenset(),
    "progress": frozenset(),
}
#: Events after which anything may have changed.
QUEUE_WIDE = frozenset({"drained", "cleaned", "removed-all", "obliterated"})
#: Events that flip the queue's paused flag.
PAUSE_EVENTS = frozenset({"paused", "resumed"})
#: Failures kept per batch for toasts; the rest are only counted.
MAX_FAILURES = 3


class EventLike(Protocol):
    @property
    def event(self) -> str: ...

    @property
    def fields(self) -> dict[str, str]: ...


@dataclass(slots=True)
class Changes:
    full: bool = False
    states: set[str] = field(default_factory=set)
    jobs: dict[str, str] = field(default_factory=dict)  # job id -> latest event
    progress: dict[str, str] = field(default_factory=dict)  # job id -> latest raw progress
    logs: set[str] = field(default_factory=set)  # job ids whose log list changed (no event)
    failures: list[tuple[str, str]] = field(default_factory=list)  # (job id, reason)
    more_failures: int = 0
    pause_flag: bool = False
    events: int = 0

    def __bool__(self) -> bool:
        return bool(self.full or self.states or self.jobs or self.logs or self.failures
                    or self.more_failures or self.pause_flag)

    def add(self, event: EventLike) -> None:
        """Fold one stream entry in."""
        self.events += 1
        name = event.event
        fields = event.fields
        job_id = fields.get("jobId")
        if name in QUEUE_WIDE:
            self.full = True
            return
        if name in PAUSE_EVENTS:
            self.pause_flag = True
        entered = ENTERS.get(name)
        if entered is None:
            # An event this map does not know (removed, a newer BullMQ's): re-read all lists.
            prev = fields.get("prev")
            self.states |= {prev} if name == "removed" and prev in ALL_STATES else ALL_STATES
        else:
            self.states |= entered
        prev = fields.get("prev")
        if prev in ALL_STATES:
            self.states.add(prev)
        if job_id is None:
            return
        self.jobs[job_id] = name
        if name == "progress":
            self.progress[job_id] = fields.get("data", "")
        elif name == "failed":
            self.note_failure(job_id, fields.get("failedReason", ""))

    def note_failure(self, job_id: str, reason: str) -> None:
        if len(self.failures) < MAX_FAILURES:
            self.failures.append((job_id, reason))
        else:
            self.more_failures += 1

    def merge(self, other: Changes, *, jobs: frozenset[str] | None = None) -> None:
        """Fold another batch in; ``jobs`` keeps only those job ids (None: all of them)."""
        self.events += other.events
        self.full |= other.full
        self.pause_flag |= other.pause_flag
        self.states |= other.states
        if jobs is None:
            self.jobs.update(other.jobs)
            self.progress.update(other.progress)
            self.logs |= other.logs
        else:
            for job_id in jobs & other.jobs.keys():
                self.jobs[job_id] = other.jobs[job_id]
            for job_id in jobs & other.progress.keys():
                self.progress[job_id] = other.progress[job_id]
            self.logs |= jobs & other.logs
        for job_id, reason in other.failures:
            self.note_failure(job_id, reason)
        self.more_failures += other.more_failures

    def touches(self, state: str, visible: frozenset[str]) -> bool:
        """True when the list ``state`` or one of the ``visible`` jobs may have changed."""
        return self.full or state in self.states or not visible.isdisjoint(self.jobs)


def fold(events: Iterable[EventLike]) -> Changes:
    changes = Changes()
    for event in events:
        changes.add(event)
    return changes
