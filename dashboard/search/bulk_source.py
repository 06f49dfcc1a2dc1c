"""A search as the source of a bulk operation ("retry all N matching").

It has what the bulk runner takes from any source (``label``, ``count()``, ``sample(n)``,
``chunks(size)``). The dry run counts the matches with bounded scan steps for at most
``budget_s`` seconds: on a state too big for that it says "at least N" with how far it got.
The operation itself collects every match first (windows of ``BATCH`` ids, as the search
page reads them) and only then acts, so its own removals and retries never shift the
positions the scan is still to read.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from django.utils.translation import gettext as _

from dashboard.formatting import shorten
from dashboard.search.parser import Query
from dashboard.search.scanner import iter_matching_ids, scan_step
from queuecore import Queue

#: Matches one dry-run step may gather before it reports (its time budget ends it sooner).
STEP_LIMIT = 100_000
#: Seconds a dry run may scan to count the matches (then it says "at least N").
DRY_RUN_BUDGET_S = 2.0
#: ... and the run's form, which only needs a first figure (the operation counts them all).
RUN_BUDGET_S = 0.1


@dataclass
class SearchSource:
    """Every job of ``state`` that ``query`` matches, from the start of the state."""

    queue: Queue
    state: str
    query: Query
    budget_s: float = DRY_RUN_BUDGET_S
    found: list[str] = field(default_factory=list)
    scanned: int = 0
    total: int = 0
    counted: bool = False  # the dry-run count has run
    complete: bool = False  # ... and reached the end of the state

    @property
    def label(self) -> str:
        return _("the %(state)s jobs matching “%(q)s”") % {
            "state": self.state, "q": shorten(self.query.text, 80)}

    @property
    def partial(self) -> bool:
        """The count is a lower bound (the scan stopped at its time budget)."""
        return self.counted and not self.complete

    def count(self) -> int:
        if not self.counted:
            self._count()
        return len(self.found)

    def _count(self) -> None:
        deadline = time.monotonic() + self.budget_s
        cursor = 0
        while True:
            step = scan_step(self.queue, self.state, self.query, cursor, limit=STEP_LIMIT,
                             budget_s=max(deadline - time.monotonic(), 0.0))
            self.found += [m.id for m in step.matches]
            self.scanned, self.total = step.scanned, step.total
            cursor = step.cursor
            if step.done or time.monotonic() >= deadline:
                self.complete = step.done
                break
        self.found = list(dict.fromkeys(self.found))
        self.counted = True

    def sample(self, n: int) -> list[str]:
        self.count()
        return self.found[:max(n, 0)]

    def snapshot(self) -> list[str]:
        """Every match now, read on a connection of its own (an operation may outlive the
        dashboard's shared one)."""
        with Queue(self.queue.name, connection=self.queue.connection,
                   prefix=self.queue.prefix) as own:
            return list(dict.fromkeys(
                job_id for job_id, _after in iter_matching_ids(own, self.state, self.query)))

    def chunks(self, size: int) -> Iterator[list[str]]:
        ids = self.snapshot()
        for i in range(0, len(ids), size):
            yield ids[i:i + size]
