"""Copy or move jobs to another queue on the same connection: copy adds new jobs with the
same name, data and options; move copies, then removes each original (one that cannot be
removed, such as an active job, is reported: it then exists in both queues)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from dashboard.search.jobcopy import bulk_entry
from queuecore import Queue, QueueCoreError

#: Jobs per read and per ``add_bulk`` call.
CHUNK = 500
#: Jobs one request copies or moves at most (a search with more is resumed from its cursor).
MAX_TRANSFER = 10_000
#: Entries of the state one request reads at most to find them (a search few jobs match is
#: resumed from its cursor too, rather than walking a whole big state in one request).
MAX_SCAN = 50_000


@dataclass(slots=True)
class TransferResult:
    copied: list[str] = field(default_factory=list)  # ids in the source queue
    new_ids: list[str] = field(default_factory=list)
    removed: int = 0
    not_removed: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # gone before they could be read


def _chunks(ids: Iterable[str]) -> Iterator[list[str]]:
    chunk: list[str] = []
    for job_id in ids:
        chunk.append(job_id)
        if len(chunk) == CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def transfer(source: Queue, target: Queue, ids: Iterable[str], *, move: bool) -> TransferResult:
    """Copy (or move) the jobs ``ids`` of ``source`` into ``target``, chunk by chunk."""
    if source.keys.base == target.keys.base:
        raise ValueError("the target is the source queue")
    result = TransferResult()
    for chunk in _chunks(ids):
        rows = source.get_job_fields(chunk, ("name", "data", "opts"))
        present: list[str] = []
        entries: list[Any] = []
        for job_id, row in zip(chunk, rows, strict=True):
            if row is None or "name" not in row:
                result.missing.append(job_id)
                continue
            present.append(job_id)
            entries.append(bulk_entry(row)[0])
        if not entries:
            continue
        result.new_ids += [job.id for job in target.add_bulk(entries)]
        result.copied += present
        if move:
            for job_id in present:
                try:
                    source.remove(job_id)
                    result.removed += 1
                except QueueCoreError:
                    result.not_removed.append(job_id)
    return result
