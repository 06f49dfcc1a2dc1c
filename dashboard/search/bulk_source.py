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
from dashboard.search.matcher import compile_query, fields_needed
from dashboard.search.parser import Query
from dashboard.search.scanner import BATCH, iter_matching_ids, scan_step
from dashboard.templatetags.queue_dashboard import state_label
from queuecore import Queue, Triage

#: Matches one dry-run step may gather before it reports (its time budget ends it sooner).
STEP_LIMIT = 100_000
#: Seconds a dry run may scan to count the matches (then it says "at least N").
DRY_RUN_BUDGET_S = 2.0
#: ... and the run's form, which only needs a first figure (the operation counts them all).
RUN_BUDGET_S = 0.1
#: While an operation collects the matches, how often it reports its count and hears Cancel.
REPORT_S = 0.5


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
    #: The operation collecting the matches (set by the run view): its progress and Cancel.
    op_id: str = ""
    namespace: str = "qd"
    cancelled: bool = False

    @property
    def label(self) -> str:
        return _("the %(state)s jobs matching “%(q)s”") % {
            "state": state_label(self.state), "q": shorten(self.query.text, 80)}

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
            if not self.op_id:
                return list(dict.fromkeys(
                    job_id for job_id, _after in iter_matching_ids(own, self.state, self.query)))
            return self._watched(own, Triage(own, namespace=self.namespace))

    def _watched(self, own: Queue, side: Triage) -> list[str]:
        """The collection of an operation: its found count is the operation's total as it
        grows (the progress page shows it), and its Cancel is heard between windows."""
        matches, needed = compile_query(self.query), fields_needed(self.query)
        key = f"op:{self.op_id}"
        found: list[str] = []
        cursor, reported = 0, time.monotonic()
        while True:
            ids, next_cursor = own.scan_job_ids(self.state, cursor, BATCH)
            rows = own.get_job_fields(ids, needed)
            found += [i for i, row in zip(ids, rows, strict=True)
                      if row is not None and matches(i, row)]
            if next_cursor == 0:
                break
            cursor = next_cursor
            if time.monotonic() - reported >= REPORT_S:
                reported = time.monotonic()
                if side.side(("HSET", key, "total", len(found), "beat", repr(time.time())),
                             ("HGET", key, "cancel"))[1]:
                    self.cancelled = True  # the runner sees the flag before its first chunk
                    break
        return list(dict.fromkeys(found))

    def chunks(self, size: int) -> Iterator[list[str]]:
        ids = self.snapshot()
        if not ids and self.cancelled:
            yield []  # the runner looks for a Cancel before each chunk: this one is never run
        for i in range(0, len(ids), size):
            yield ids[i:i + size]
