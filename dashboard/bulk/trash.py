"""Removals that can be undone: one job (the job page's and a row's Remove) and clean.

Both go through ``Triage.trash_each`` and are recorded as operations (``operations``), so
the queue page lists them with an Undo button for as long as their trash lasts. A one-job
remove emits ``removed`` (as ``Job.remove``); a clean emits BullMQ's one ``cleaned`` event
with its count instead of one ``removed`` per job (as ``Queue.clean``), so listeners on
``cleaned`` (queuecore's and Node's QueueEvents) hear a dashboard clean.

``older`` is the one reading of "which jobs would a clean remove": the clean's preview
counts with it and the clean removes what it returns, so the two cannot disagree. Finished
states are read by score (finishedOn) up to the limit; the others by each job's timestamp,
at most ``SCAN_CAP`` entries per request: a bigger state is cleaned in steps, each request
saying where the next one goes on (``Older.resume``).
"""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import dataclass, field

from django.utils.translation import gettext as _

from dashboard.bulk import groups as fg
from dashboard.bulk import operations as ops
from dashboard.services.common import now_ms
from queuecore import JobLockedError, JobNotFoundError, QueueCoreError, Triage

PAGE = 1000
#: Entries of a waiting, delayed or prioritized state one clean (or preview) reads at most:
#: a request stays short however big the state; the rest is a "continue" away.
SCAN_CAP = 20_000


def remove_one(connection: str, queue: str, job_id: str, username: str = "") -> str:
    """Remove one job into a trash of its own; returns the operation id (for Undo)."""
    t = fg.triage(connection, queue)
    op_id = uuid.uuid4().hex
    code = t.trash_each([job_id], op_id, ops.trash_seconds())[0]
    if code == -1:
        raise JobNotFoundError(f"job {job_id} not found", job_id=job_id)
    if code < 0:
        raise JobLockedError(f"job {job_id} is being processed by a worker", job_id=job_id)
    ops.record_sync(t, op_id=op_id, action="remove", label=_("job %(id)s") % {"id": job_id},
                    username=username, done=1, total=1)
    return op_id


@dataclass(frozen=True, slots=True)
class Older:
    """The jobs a clean would remove now (oldest first), and how far the scan went."""

    ids: list[str] = field(default_factory=list)
    start: int = 0  # the position (oldest first) the scan began at
    scanned: int = 0  # entries read from ``start``
    #: The scan stopped at ``SCAN_CAP`` with entries left (not at the limit): more may be
    #: older further on.
    capped: bool = False
    #: The scan stopped before the end of the state (at the cap or at the limit): a further
    #: step goes on from ``resume`` rather than reading the same entries again.
    more: bool = False

    def resume(self, removed: int) -> int:
        """Where the next step goes on once ``removed`` of ``ids`` were removed (they left
        the positions read, so the rest moved up by as many)."""
        return max(self.start + self.scanned - removed, 0)


def _old(stamp: str | None, cutoff: int) -> bool:
    """Older than the cutoff by its timestamp, as queuecore's and BullMQ's clean judge it: a
    job without a readable timestamp counts as old."""
    try:
        return int(stamp or 0) <= cutoff
    except ValueError:
        return True


def older(t: Triage, state: str, grace_ms: int, limit: int, start: int = 0) -> Older:
    """Up to ``limit`` ids of ``state`` older than ``grace_ms`` as clean judges them:
    finished jobs by finishedOn (their score), the others by their timestamp, reading at most
    ``SCAN_CAP`` entries from position ``start`` (oldest first)."""
    cutoff = now_ms() - grace_ms
    if state in ("completed", "failed"):
        found = [i for i, _ in t.scored_ids(state, "-inf", cutoff, limit)]
        return Older(found, 0, len(found))
    out: list[str] = []
    seen: set[str] = set()  # ids read already (an id met again, as the list moves, is skipped)
    pos = start = max(start, 0)
    while len(out) < limit and pos - start < SCAN_CAP:
        size = min(PAGE, SCAN_CAP - (pos - start))
        page = t.ids(state, pos, pos + size - 1, asc=True)
        if not page:
            return Older(out, start, pos - start)
        ids = [i for i in dict.fromkeys(page) if i not in seen]
        seen.update(ids)
        # A job gone since (None) cannot be removed: not counted. ``name`` is read too:
        # Triage tells a gone job by a missing timestamp, and a job may lack only that.
        old = {job_id for job_id, fields in zip(
            ids, t.job_fields(ids, ["timestamp", "name"]), strict=True)
            if fields is not None and _old(fields.get("timestamp"), cutoff)}
        for n, job_id in enumerate(page):
            if job_id in old:
                old.discard(job_id)  # (once, should the page hold it twice)
                out.append(job_id)
                if len(out) >= limit:
                    scanned = pos + n + 1 - start
                    ended = n + 1 == len(page) and len(page) < size
                    return Older(out, start, scanned, more=not ended)
        pos += len(page)
        if len(page) < size:
            return Older(out, start, pos - start)
    more = len(out) < limit
    return Older(out, start, pos - start, capped=more, more=more)


@dataclass(frozen=True, slots=True)
class Cleaned:
    removed: list[str]
    #: Where a further clean goes on (the scan stopped before the end of the state, at its
    #: cap or at the limit), or None: the state was read to its end.
    resume: int | None


def clean(connection: str, queue: str, state: str, grace_ms: int, limit: int,
          username: str = "", start: int = 0) -> Cleaned:
    """Remove up to ``limit`` jobs of ``state`` older than ``grace_ms`` into the trash, and
    emit one ``cleaned`` event with their count (also 0, as BullMQ's clean)."""
    t = fg.triage(connection, queue)
    found = older(t, state, grace_ms, limit, start)
    op_id = uuid.uuid4().hex
    removed: list[str] = []

    def record() -> None:
        t.emit_cleaned(len(removed))
        if removed:
            ops.record_sync(t, op_id=op_id, action="remove",
                            label=_("clean of %(state)s jobs") % {"state": state},
                            username=username, done=len(removed), total=len(found.ids))

    try:
        for i in range(0, len(found.ids), ops.CHUNK):
            chunk = found.ids[i:i + ops.CHUNK]
            codes = t.trash_each(chunk, op_id, ops.trash_seconds(), quiet=True)
            removed += [j for j, c in zip(chunk, codes, strict=True) if c == 1]
    except BaseException:
        # What was removed before the error is still told and undoable; the error is the
        # answer (a second failure of Redis while telling it is not).
        with contextlib.suppress(QueueCoreError):
            record()
        raise
    record()
    return Cleaned(removed, found.resume(len(removed)) if found.more else None)
