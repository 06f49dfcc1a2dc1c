"""A job's timeline in the order things happened.

Entries are sorted by time; equal times keep the order in which a job's life runs (created,
due, started, an attempt's failure, finished). Failed attempts carry no time of their own
(a stack trace has none): those before the latest start are placed just before it, and the
latest attempt's failure, when that attempt has ended, just after it (at the finish time when
the job failed for good).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.utils.translation import gettext, ngettext

from dashboard.durations import compact_duration, span
from dashboard.formatting import clip, ms_to_datetime, shorten
from dashboard.jobtext import short_worker_name
from dashboard.services.common import NAME_CHARS
from queuecore import JobRecord

#: The order of a job's life, for entries at the same time.
CREATED, DUE, STALLED, BEFORE_START, STARTED, FAILED_ATTEMPT, FINISHED = range(7)


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    at: datetime | None
    label: str
    detail: str = ""
    kind: str = ""  # created, delayed, failed-attempt, started, stalled, failed, completed


@dataclass(frozen=True, slots=True)
class _Event:
    ms: int  # for sorting only
    rank: int
    seq: int
    entry: TimelineEntry


def build_timeline(job: JobRecord, max_traces: int) -> list[TimelineEntry]:
    events: list[_Event] = []

    def add(ms: int | None, rank: int, entry: TimelineEntry) -> None:
        events.append(_Event(ms or 0, rank, len(events), entry))

    created = job.timestamp or None
    add(created, CREATED, TimelineEntry(ms_to_datetime(created), gettext("created"),
                                        kind="created"))
    if job.delay and created:
        due = created + job.delay
        detail = gettext("delayed by %(d)s") % {"d": compact_duration(job.delay)}
        add(due, DUE, TimelineEntry(ms_to_datetime(due), gettext("due"), detail, kind="delayed"))
    started = job.processed_on or None
    finished = job.finished_on or None
    failed_for_good = bool(finished and job.failed_reason and job.return_value is None)
    traces = job.stacktrace
    skipped = max(0, len(traces) - max_traces)
    # The latest attempt has ended when as many attempts ended as started (or it finished).
    latest_ended = bool(finished) or job.attempts_made >= max(job.attempts_started, 1)
    for number, trace in enumerate(traces[skipped:], start=skipped + 1):
        newest = number == len(traces)
        label = gettext("attempt %(n)s failed") % {"n": number}
        entry = TimelineEntry(None, label, _last_line(trace), kind="failed-attempt")
        if newest and latest_ended and started:
            add(finished if failed_for_good else started, FAILED_ATTEMPT, entry)
        else:
            add(started or created, BEFORE_START if started else FAILED_ATTEMPT, entry)
    if job.stalled_counter:
        detail = ngettext("%(n)s time", "%(n)s times", job.stalled_counter) % {
            "n": job.stalled_counter}
        add(started or created, STALLED, TimelineEntry(None, gettext("stalled"), detail,
                                                       kind="stalled"))
    if started:
        by = short_worker_name(clip(job.processed_by, NAME_CHARS))
        add(started, STARTED, TimelineEntry(
            ms_to_datetime(started),
            gettext("attempt %(n)s started") % {"n": max(job.attempts_started, 1)},
            gettext("by %(worker)s") % {"worker": by} if by else "", kind="started"))
    if finished:
        took = compact_duration(span(started, finished))
        label = gettext("failed") if failed_for_good else gettext("completed")
        add(finished, FINISHED, TimelineEntry(
            ms_to_datetime(finished), label,
            gettext("took %(d)s") % {"d": took} if took else "",
            kind="failed" if failed_for_good else "completed"))
    events.sort(key=lambda e: (e.ms, e.rank, e.seq))
    return [e.entry for e in events]


def _last_line(trace: str) -> str:
    """The exception line of a stack trace: its last non-empty line in Python's form, its
    first in Node's (whose last lines are "at ..." frames)."""
    lines = [line for line in trace.splitlines() if line.strip()]
    if not lines:
        return ""
    line = lines[0] if lines[-1].lstrip().startswith("at ") else lines[-1]
    return shorten(line, 200)
