""""Why isn't this job running?": every reason a queued job is not being processed now.

Reads through queuecore's public API only (the queue's pause flag, its workers from CLIENT
LIST, the global concurrency and the rate limiter's time left from meta and PTTL, the job's
place in line and its lock's time left), a bounded number of round trips per page: the
states of a job's pending children (one round trip per child queue, not per child) and the
locks of the active jobs sampled (one round trip) are read together. Each
``Reason`` says what holds the job, in words, and which fix the page links to: ``resume``
(the queue's resume button), ``promote`` (the job's), ``workers`` (the workers page).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from dashboard import connections
from dashboard.durations import compact_duration
from dashboard.formatting import clip, ms_to_datetime, parse_job_key
from dashboard.services.common import NAME_CHARS, READ_ERRORS, describe, now_ms
from queuecore import Job, Queue, job_states, lock_ttls

#: States a job waits in (the panel says why); ``active`` is explained by its lock.
QUEUED_STATES = frozenset({"waiting", "prioritized", "delayed", "waiting-children", "paused"})
EXPLAINED_STATES = QUEUED_STATES | {"active"}
#: Pending children listed by name and state; the rest are counted.
MAX_CHILDREN = 20
#: Finished jobs looked at for the recent pace (when workers record no metrics).
PACE_SAMPLE = 100
#: Only finishes within this window count towards the pace.
PACE_WINDOW_MS = 3_600_000

#: Oldest active jobs whose locks the queue panel checks (one round trip for all).
LOCK_SAMPLE = 20

BLOCKS = "blocks"  # the job cannot start until this changes
INFO = "info"  # context: the job will start, here is when or where


@dataclass(frozen=True, slots=True)
class Child:
    queue: str
    id: str
    state: str
    known: bool = True
    key: str = ""


@dataclass(frozen=True, slots=True)
class Reason:
    code: str
    level: str
    text: str
    fix: str = ""
    children: tuple[Child, ...] = ()
    at: datetime | None = None  # when it ends (a rate limit, a delay), shown with the text


@dataclass(frozen=True, slots=True)
class Why:
    reasons: tuple[Reason, ...] = ()
    error: str = ""
    state: str = ""

    @property
    def blocked(self) -> bool:
        return any(r.level == BLOCKS for r in self.reasons)


@dataclass(slots=True)
class _QueueFacts:
    paused: bool
    workers: int
    active: int
    waiting: int
    concurrency: int | None
    limit_ttl: int
    last_seen: tuple[int, str] | None = None  # (finished at ms, by worker name)
    reasons: list[Reason] = field(default_factory=list)


def _last_finish(queue: Queue) -> tuple[int, str] | None:
    """When a worker last finished a job of the queue, and which worker (from the newest
    completed and failed jobs: what queuecore knows of workers no longer connected)."""
    best: tuple[int, str] | None = None
    for state in ("completed", "failed"):
        for job in queue.get_jobs(state, 0, 0):
            if job.finished_on and (best is None or job.finished_on > best[0]):
                best = (job.finished_on, clip(job.processed_by, NAME_CHARS))
    return best


def _pace(queue: Queue, now: int) -> float | None:
    """Jobs finished per minute over the last hour: BullMQ's per-minute metrics when
    workers record them, else the finish times of the newest ``PACE_SAMPLE`` jobs."""
    minutes = PACE_WINDOW_MS // 60_000
    total = 0
    for kind in ("completed", "failed"):
        metrics = queue.get_metrics(kind, 0, minutes - 1)
        total += sum(int(n) for n in metrics.data)
    if total:
        return total / minutes
    finished = [
        j.finished_on
        for state in ("completed", "failed")
        for j in queue.get_jobs(state, 0, PACE_SAMPLE - 1)
        if j.finished_on and now - j.finished_on <= PACE_WINDOW_MS
    ]
    if not finished:
        return None
    span = max(now - min(finished), 60_000)
    return len(finished) / (span / 60_000)


def _queue_facts(queue: Queue, now: int) -> _QueueFacts:
    counts = queue.get_job_counts("active", "waiting", "prioritized", "paused")
    facts = _QueueFacts(
        paused=queue.is_paused(),
        workers=len(queue.get_workers()),
        active=int(counts.get("active", 0)),
        waiting=sum(int(counts.get(s, 0)) for s in ("waiting", "prioritized", "paused")),
        concurrency=queue.get_global_concurrency(),
        limit_ttl=queue.get_rate_limit_ttl(),
    )
    out = facts.reasons
    if facts.paused:
        out.append(Reason("paused", BLOCKS, _("The queue is paused: no worker takes jobs "
                                              "from it until it is resumed."), fix="resume"))
    if not facts.workers:
        facts.last_seen = _last_finish(queue)
        if facts.last_seen:
            at, by = facts.last_seen
            text = _("No worker is connected to this queue. A worker last finished a job "
                     "%(ago)s ago%(by)s.") % {
                "ago": compact_duration(max(0, now - at)),
                "by": _(" (%(name)s)") % {"name": by} if by else ""}
        else:
            text = _("No worker is connected to this queue, and none has finished a job of "
                     "it that is still kept.")
        out.append(Reason("no-workers", BLOCKS, text, fix="workers"))
    if facts.concurrency is not None and facts.active >= facts.concurrency:
        out.append(Reason("concurrency", BLOCKS, _(
            "The queue's global concurrency is full: %(active)d of %(limit)d jobs are "
            "active; the next starts when one finishes.") % {
            "active": facts.active, "limit": facts.concurrency}))
    if facts.limit_ttl > 0:
        out.append(Reason("rate-limit", BLOCKS, _(
            "A rate limit is in force for %(left)s more: workers start no job until it "
            "ends.") % {"left": compact_duration(facts.limit_ttl)},
            at=ms_to_datetime(now + facts.limit_ttl)))
    return facts


def _estimate(ahead: int, pace: float | None, *, backlog: bool = False) -> str:
    """When ``ahead`` jobs will have been taken at the recent pace, in words."""
    if not pace:
        return _("No job finished in the last hour: no estimate.")
    values = {"pace": number_format(pace, 1), "eta": compact_duration(ahead / pace * 60_000)}
    if backlog:
        return _("At the last hour's pace (%(pace)s jobs a minute) they are done in about "
                 "%(eta)s.") % values
    return _("At the last hour's pace (%(pace)s jobs a minute) it starts in about "
             "%(eta)s.") % values


def _children(connection: str, queue: Queue, job: Job) -> Reason | None:
    pending = job.get_dependencies().unprocessed
    if not pending:
        return None
    parsed = [(key, parse_job_key(key, queue.prefix)) for key in pending[:MAX_CHILDREN]]
    by_queue: dict[str, list[str]] = {}
    for _key, found in parsed:
        if found is not None:
            by_queue.setdefault(found[0], []).append(found[1])
    # One round trip per child queue (children mostly share one), not one per child.
    states = {(name, job_id): state for name, ids in by_queue.items()
              for job_id, state in job_states(connections.get_queue(connection, name),
                                              ids).items()}
    shown = [Child("", "", "", known=False, key=key) if found is None else
             Child(found[0], found[1], states[found], key=key) for key, found in parsed]
    text = ngettext("%(n)d child job is still pending; the job waits until it is done.",
                    "%(n)d child jobs are still pending; the job waits until they are done.",
                    len(pending)) % {"n": len(pending)}
    if len(pending) > len(shown):
        text += " " + _("The first %(shown)d are listed.") % {"shown": len(shown)}
    return Reason("children", BLOCKS, text, children=tuple(shown))


def _job_reasons(connection: str, queue: Queue, job: Job, state: str, now: int,
                 facts: _QueueFacts) -> list[Reason]:
    out: list[Reason] = []
    if state == "active":
        ttl = queue.get_job_lock_ttl(job.id)
        if ttl == -2:
            out.append(Reason("lock-lost", BLOCKS, _(
                "The job is active but no worker holds its lock: its worker stopped renewing "
                "it (stopped or stuck). The stall checker will move it back to wait or fail "
                "it."), fix="workers"))
        else:
            by = clip(job.processed_by, NAME_CHARS) or _("a worker")
            out.append(Reason("lock-held", INFO, _(
                "It is running: %(by)s holds its lock, %(left)s left before it must be "
                "renewed.") % {"by": by, "left": compact_duration(ttl) if ttl > 0 else "∞"}))
        return out
    if state == "delayed":
        due = (job.processed_on or job.timestamp) + job.delay  # as the delayed tab shows it
        left = due - now
        text = (_("It is delayed: due in %(left)s.") % {"left": compact_duration(left)}
                if left > 0 else
                _("It is due: a worker moves it to wait at its next delayed check."))
        out.append(Reason("delay", BLOCKS, text, fix="promote", at=ms_to_datetime(due)))
    elif state == "waiting-children":
        reason = _children(connection, queue, job)
        if reason:
            out.append(reason)
    else:
        ahead = queue.get_job_position(job.id)
        if ahead is not None:
            text = ngettext("%(n)d job is ahead of it in line.",
                            "%(n)d jobs are ahead of it in line.", ahead) % {"n": ahead}
            if not ahead:
                text = _("It is next in line.")
            estimate = _estimate(ahead + 1, _pace(queue, now))  # read only when shown
            out.append(Reason("position", INFO, f"{text} {estimate}"))
    # What holds this job itself first (its delay, its children), then what holds the
    # queue (it holds the job next), then where it stands.
    own = [r for r in out if r.level == BLOCKS]
    return [*own, *facts.reasons, *(r for r in out if r.level != BLOCKS)]


def why_job(connection: str, name: str, job_id: str) -> Why:
    """The reasons job ``job_id`` is not running (empty for a finished job)."""
    queue = connections.get_queue(connection, name)
    now = now_ms()
    try:
        job = queue.get_job(job_id)
        if job is None:
            return Why()
        state = job.get_state()
        if state not in EXPLAINED_STATES:
            return Why(state=state)
        facts = _queue_facts(queue, now)
        return Why(tuple(_job_reasons(connection, queue, job, state, now, facts)), state=state)
    except READ_ERRORS as exc:
        return Why(error=describe(exc))


def _has_delayed(queue: Queue) -> bool:
    return bool(int(queue.get_job_counts("delayed").get("delayed", 0)))


def why_queue(connection: str, name: str) -> Why:
    """What holds the whole queue, and when its backlog may be done at the current pace."""
    queue = connections.get_queue(connection, name)
    now = now_ms()
    try:
        facts = _queue_facts(queue, now)
        reasons = list(facts.reasons)
        if not (facts.waiting or facts.active) and not _has_delayed(queue):
            # No worker holds up nothing: an empty queue has no question to answer.
            reasons = [r for r in reasons if r.code != "no-workers"]
        stalls = _lost_locks(name, queue)
        if stalls:
            reasons.append(stalls)
        if facts.waiting and not reasons:
            text = ngettext("%(n)d job waits.", "%(n)d jobs wait.", facts.waiting) % {
                "n": facts.waiting}
            estimate = _estimate(facts.waiting, _pace(queue, now), backlog=True)
            reasons.append(Reason("backlog", INFO, f"{text} {estimate}"))
    except READ_ERRORS as exc:
        return Why(error=describe(exc))
    return Why(tuple(reasons))


def _lost_locks(name: str, queue: Queue) -> Reason | None:
    """Active jobs (the oldest ``LOCK_SAMPLE``) whose lock is gone: stalls on the way."""
    active = queue.get_jobs("active", 0, LOCK_SAMPLE - 1, asc=True)
    ttls = lock_ttls(queue, [j.id for j in active])
    lost = [j.id for j in active if ttls[j.id] == -2]
    if not lost:
        return None
    text = ngettext(
        "%(n)d active job has no lock: its worker stopped renewing it; the stall checker "
        "will move it back to wait or fail it.",
        "%(n)d active jobs have no lock: their workers stopped renewing them; the stall "
        "checker will move them back to wait or fail them.", len(lost)) % {"n": len(lost)}
    return Reason("lock-lost", BLOCKS, text, fix="workers",
                  children=tuple(Child(name, job_id, "active") for job_id in lost))
