# Generated from queuecore/client/atriage.py by scripts/unasync.py: do not edit.
# Change the asyncio source and run `python scripts/unasync.py`.
"""``Triage``: many jobs of one queue by id, and side keys BullMQ peers never read."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..base.errors import InvalidOptionsError
from ..base.validation import positive_int
from ..commands import triage
from ..commands.op import Arg
from .queue import Queue


class Triage:
    """Bulk work on a ``Queue``'s jobs, a job at a time inside each round trip (each
    job's own script, so a refusal touches only that job), and a namespace of side keys
    under ``<prefix>:<queue>:<namespace>:`` for indexes and undo data."""

    def __init__(self, queue: Queue, namespace: str = "qd") -> None:
        self.queue = queue
        self.namespace = triage.check_namespace(namespace)

    def side(self, *commands: Sequence[Arg]) -> list[Any]:
        """Run commands on side keys in one round trip (``("HGETALL", "groups")``: the key is
        the first argument, named inside the namespace); only the commands in
        ``SIDE_COMMANDS``. Returns their replies in order."""
        if not commands:
            return []
        return self.queue.run_op(triage.side(self.queue.keys, self.namespace, commands))

    def scored_ids(self, state: str, low: float | str = "-inf",
                   high: float | str = "+inf", count: int = 1000
                   ) -> list[tuple[str, float]]:
        """Ids of a sorted-set state (failed, completed, delayed, prioritized,
        waiting-children) with scores in ``[low, high]``, lowest first, at most ``count``
        (``"(5"`` excludes 5, as in Redis)."""
        return self.queue.run_op(triage.scored_ids(
            self.queue.keys, state, str(low), str(high), positive_int("count", count)))

    def ids(self, state: str, start: int = 0, end: int = -1,
            asc: bool = False) -> list[str]:
        """Job ids of one state in a range, newest first unless ``asc`` (no hashes read)."""
        if start < 0 or end < -1 or (end >= 0 and end < start):
            raise InvalidOptionsError("start must be >= 0 and end >= start (or -1 for all)")
        return self.queue.run_op(triage.ids(self.queue.keys, state, start, end, asc))

    def job_fields(self, ids: Sequence[str],
                   fields: Sequence[str]) -> list[dict[str, str] | None]:
        """The named fields of each job's hash (missing ones left out), None for no job."""
        if not ids:
            return []
        return self.queue.run_op(triage.job_fields(self.queue.keys, ids, fields))

    def ids_not_in_state(self, name: str, state: str) -> list[str]:
        """Members of side sorted set ``name`` no longer in ``state`` (a sorted-set state)."""
        return self.queue.run_op(
            triage.ids_not_in_state(self.queue.keys, self.namespace, name, state))

    def retry_each(self, ids: Sequence[str], state: str = "failed") -> list[int]:
        """Retry each job of ``state`` (failed or completed). Per job: 1 done, or the
        negative ``ErrorCode`` that refused it (-1 no job, -3 not in that state)."""
        if state not in ("failed", "completed"):
            raise InvalidOptionsError("only failed or completed jobs can be retried")
        return self._each(triage.retry_each(self.queue.keys, ids, state), ids)

    def promote_each(self, ids: Sequence[str]) -> list[int]:
        """Promote each delayed job: per job 1 done, or a negative ``ErrorCode``."""
        return self._each(triage.promote_each(self.queue.keys, ids), ids)

    def remove_each(self, ids: Sequence[str]) -> list[int]:
        """Remove each job for good: per job 1 done, or a negative ``ErrorCode``."""
        return self._each(triage.remove_each(self.queue.keys, ids), ids)

    def change_priority_each(self, ids: Sequence[str], priority: int) -> list[int]:
        """Give each job ``priority``: per job 0 done, or a negative ``ErrorCode``."""
        return self._each(triage.change_priority_each(self.queue.keys, ids, priority),
                          ids)

    def trash_each(self, ids: Sequence[str], trash_id: str, ttl_s: int,
                   quiet: bool = False) -> list[int]:
        """Remove each job into trash ``trash_id``, kept ``ttl_s`` seconds for
        ``restore_trash``: per job 1 done, or -1 no job, -12 locked by a worker. Each
        removal emits ``removed`` (as ``Job.remove``), unless ``quiet``: a clean into the
        trash emits one ``cleaned`` at its end instead (``emit_cleaned``), as BullMQ's."""
        positive_int("ttl_s", ttl_s)
        return self._each(triage.trash_each(self.queue.keys, self.namespace, trash_id,
                                            ids, ttl_s, quiet), ids)

    def emit_cleaned(self, count: int) -> None:
        """Emit the ``cleaned`` event (``count`` jobs) that BullMQ's ``Queue.clean`` writes,
        for a clean done with ``trash_each(..., quiet=True)``: QueueEvents listeners on
        ``cleaned`` (queuecore's, Node's) hear it as a clean."""
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise InvalidOptionsError("count must be an int >= 0")
        self.queue.run_op(triage.trash_cleaned(self.queue.keys, count))

    def trash_ids(self, trash_id: str, count: int = 1000) -> tuple[list[str], int]:
        """Up to ``count`` ids in a trash, last removed first, and how many it holds."""
        return self.queue.run_op(triage.trash_ids(
            self.queue.keys, self.namespace, trash_id, positive_int("count", count)))

    def restore_trash(self, trash_id: str, batch: int = 500) -> tuple[int, int]:
        """Put every job of a trash back where it was, last removed first (so a run of
        waiting jobs regains its order), ``batch`` per round trip. Returns (restored,
        skipped): skipped are ids taken again by a new job (left in the trash until it
        expires) or already expired."""
        restored = skipped = 0
        seen: set[str] = set()
        while True:
            ids, _ = self.trash_ids(trash_id, batch + len(seen))
            ids = [i for i in ids if i not in seen]
            if not ids:
                return restored, skipped
            codes = self.queue.run_op(triage.restore_each(
                self.queue.keys, self.namespace, trash_id, ids[:batch]))
            for job_id, code in zip(ids, codes, strict=False):
                if code == 1:
                    restored += 1
                else:
                    skipped += 1
                    if code == 0:
                        seen.add(job_id)  # still indexed: not asked again

    def _each(self, op: Any, ids: Sequence[str]) -> list[int]:
        return list(self.queue.run_op(op)) if ids else []
