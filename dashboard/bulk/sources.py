"""Where a bulk operation's job ids come from: a state, a failure group, a selection.

A source is anything with ``label``, ``count()``, ``sample(n)`` and ``chunks(size)``; the
runner takes any of them (a search's results plug in the same way). The ids are read when the
operation starts, in bounded reads, and worked through from that snapshot: jobs that arrive
later are not touched, and offsets never shift under the operation's own removals.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from django.utils.translation import gettext as _

from dashboard.bulk import groups as fg
from dashboard.templatetags.queue_dashboard import state_label
from queuecore import Triage

READ = 5000  # ids per read while taking the snapshot


class IdSource(Protocol):
    @property
    def label(self) -> str: ...

    def count(self) -> int: ...

    def sample(self, n: int) -> list[str]: ...

    def chunks(self, size: int) -> Iterator[list[str]]: ...


def _chunked(ids: Sequence[str], size: int) -> Iterator[list[str]]:
    for i in range(0, len(ids), size):
        yield list(ids[i:i + size])


@dataclass
class StateSource:
    """Every job of one state (oldest first)."""

    triage: Triage
    state: str

    @property
    def label(self) -> str:
        return _("all %(state)s jobs") % {"state": state_label(self.state)}

    def count(self) -> int:
        return int(self.triage.queue.get_job_counts(self.state)[self.state])

    def sample(self, n: int) -> list[str]:
        return self.triage.ids(self.state, 0, n - 1, asc=True) if n > 0 else []

    def snapshot(self) -> list[str]:
        out: list[str] = []
        while batch := self.triage.ids(self.state, len(out), len(out) + READ - 1, asc=True):
            out += batch
            if len(batch) < READ:
                break
        return list(dict.fromkeys(out))

    def chunks(self, size: int) -> Iterator[list[str]]:
        return _chunked(self.snapshot(), size)


@dataclass
class GroupSource:
    """The jobs of one failure group."""

    triage: Triage
    key: str
    title: str = ""

    @property
    def label(self) -> str:
        return _("the failure group “%(title)s”") % {"title": self.title or self.key}

    def count(self) -> int:
        return fg.group_size(self.triage, self.key)

    def sample(self, n: int) -> list[str]:
        return fg.group_ids(self.triage, self.key, 0, n) if n > 0 else []

    def chunks(self, size: int) -> Iterator[list[str]]:
        ids: list[str] = []
        while batch := fg.group_ids(self.triage, self.key, len(ids), READ):
            ids += batch
            if len(batch) < READ:
                break
        return _chunked(ids, size)


@dataclass
class IdsSource:
    """Jobs picked one by one (the rows ticked on a page)."""

    ids: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return _("the selected jobs")

    def count(self) -> int:
        return len(self.ids)

    def sample(self, n: int) -> list[str]:
        return self.ids[:n]

    def chunks(self, size: int) -> Iterator[list[str]]:
        return _chunked(self.ids, size)
