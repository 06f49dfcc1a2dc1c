"""Removals that can be undone: one job (the job page's and a row's Remove) and clean.

Both go through ``Triage.trash_each`` and are recorded as operations (``operations``), so
the queue page lists them with an Undo button for as long as their trash lasts.
"""

from __future__ import annotations

import time
import uuid

from django.utils.translation import gettext as _

from dashboard.bulk import groups as fg
from dashboard.bulk import operations as ops
from queuecore import JobLockedError, JobNotFoundError, Triage

PAGE = 1000


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


def _older_ids(t: Triage, state: str, cutoff: int, limit: int) -> list[str]:
    """Up to ``limit`` ids of ``state`` older than ``cutoff`` as clean judges them:
    finished jobs by finishedOn (their score), others by their timestamp, oldest first."""
    if state in ("completed", "failed"):
        return [i for i, _ in t.scored_ids(state, "-inf", cutoff, limit)]
    out: list[str] = []
    start = 0
    while len(out) < limit:
        ids = t.ids(state, start, start + PAGE - 1, asc=True)
        if not ids:
            break
        for job_id, fields in zip(ids, t.job_fields(ids, ["timestamp"]), strict=True):
            stamp = (fields or {}).get("timestamp")
            if stamp is not None and stamp.isdigit() and int(stamp) <= cutoff:
                out.append(job_id)
        start += PAGE
    return out[:limit]


def clean(connection: str, queue: str, state: str, grace_ms: int, limit: int,
          username: str = "") -> list[str]:
    """Remove up to ``limit`` jobs of ``state`` older than ``grace_ms`` into the trash."""
    t = fg.triage(connection, queue)
    ids = _older_ids(t, state, int(time.time() * 1000) - grace_ms, limit)
    if not ids:
        return []
    op_id = uuid.uuid4().hex
    removed: list[str] = []
    for i in range(0, len(ids), ops.CHUNK):
        chunk = ids[i:i + ops.CHUNK]
        codes = t.trash_each(chunk, op_id, ops.trash_seconds())
        removed += [j for j, c in zip(chunk, codes, strict=True) if c == 1]
    ops.record_sync(t, op_id=op_id, action="remove",
                    label=_("clean of %(state)s jobs") % {"state": state},
                    username=username, done=len(removed), total=len(ids))
    return removed
