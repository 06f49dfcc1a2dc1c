"""The soak's checks, from the ledger (outside Redis) and Redis's final state.

``verify`` returns figures and a list of problems (empty when every check held):

- no job lost: every acknowledged job completed (a ``doomed`` one failed after its 2
  attempts), per the ledger and per Redis;
- duplicates only for jobs that were active on a killed worker: an attempt of a job may
  start more than once only if every start but one was on a worker the chaos driver killed
  (SIGKILL, or SIGTERM past its shutdown timeout);
- retries: the planned attempts fail, the next one completes, and each waits its backoff;
  delayed jobs never start early; a flow parent starts only after its children completed;
- the rate limit holds: no 10-window span has more starts than 12 windows' worth;
- every scheduler slot that was created ran once (the same duplicate rule) and, once the
  chaos stopped, the scheduler went on slot after slot.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from .ledger import Entry

TOLERANCE_S = 0.005  # Redis stores times in whole ms; the ledger has 0.1 ms
SCHEDULER_PREFIX = "repeat:"


@dataclass
class Executions:
    """What the workers' ledger says about one job."""

    starts: dict[int, list[Entry]] = field(default_factory=lambda: defaultdict(list))
    oks: list[Entry] = field(default_factory=list)
    errs: dict[int, list[Entry]] = field(default_factory=lambda: defaultdict(list))


@dataclass
class Verdict:
    problems: list[str] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)

    def fail(self, text: str) -> None:
        if len(self.problems) < 200:
            self.problems.append(text)


def collect(entries: list[Entry]) -> tuple[dict[str, str], dict[str, Executions],
                                           dict[int, int]]:
    """acks (id -> spec), executions by job id, killed pid -> signal."""
    acks: dict[str, str] = {}
    runs: dict[str, Executions] = defaultdict(Executions)
    killed: dict[int, int] = {}
    for e in entries:
        if e.event == "ack":
            acks[e.job_id] = e.detail
        elif e.event == "kill":
            killed[int(e.job_id)] = int(e.detail)
        elif e.event == "start":
            runs[e.job_id].starts[int(e.detail)].append(e)
        elif e.event == "ok":
            runs[e.job_id].oks.append(e)
        elif e.event == "err":
            runs[e.job_id].errs[int(e.detail)].append(e)
    return acks, runs, killed


def check_duplicates(v: Verdict, runs: dict[str, Executions], killed: dict[int, int]) -> None:
    by_signal: dict[str, int] = defaultdict(int)
    jobs = 0
    for job_id, ex in runs.items():
        extra = False
        for attempt, starts in ex.starts.items():
            if len(starts) < 2:
                continue
            extra = True
            live = [s.pid for s in starts if s.pid not in killed]
            if len(live) > 1:
                v.fail(f"{job_id} attempt {attempt} ran on {len(live)} live workers: {live}")
            for s in starts[:-1]:
                by_signal["sigkill" if killed.get(s.pid) == 9 else
                          "sigterm" if s.pid in killed else "live"] += 1
        jobs += extra
    v.figures["duplicate_executions"] = dict(by_signal)
    v.figures["duplicated_jobs"] = jobs


def check_outcome(v: Verdict, job_id: str, spec: str, ex: Executions | None,
                  completed: set[str], failed: set[str], killed: dict[int, int],
                  max_stalled: int) -> None:
    kind = spec.split(":")[0]
    if ex is None or not ex.starts:
        v.fail(f"lost: {job_id} ({spec}) was acknowledged and never started")
        return
    if kind == "doomed":
        if job_id not in failed:
            v.fail(f"{job_id} (doomed) is not in failed")
        if sorted(ex.errs) != [0, 1] or ex.oks:
            v.fail(f"{job_id} (doomed) attempts: errs {sorted(ex.errs)}, oks {len(ex.oks)}")
        elif min(s.at for s in ex.starts[1]) < min(e.at for e in ex.errs[0]) + 0.1 - TOLERANCE_S:
            v.fail(f"{job_id} (doomed) retried before its 100 ms backoff")
        return
    if job_id in failed:
        on_killed = sum(1 for starts in ex.starts.values() for s in starts if s.pid in killed)
        if on_killed <= max_stalled:
            v.fail(f"{job_id} ({spec}) failed; it ran {on_killed} times on killed workers")
        return
    if job_id not in completed:
        v.fail(f"lost: {job_id} ({spec}) is not completed in Redis")
    if not ex.oks:
        v.fail(f"lost: {job_id} ({spec}) never ran to its end")
    if kind == "retry":
        fails = int(spec.split(":")[1])
        if sorted(ex.errs) != list(range(fails)) or {o.detail for o in ex.oks} != {str(fails)}:
            v.fail(f"{job_id} ({spec}): errs at {sorted(ex.errs)}, ok at "
                   f"{sorted({o.detail for o in ex.oks})}")
            return
        for attempt in range(fails):
            backoff = 0.2 * 2 ** attempt
            gap = min(s.at for s in ex.starts[attempt + 1]) - min(e.at for e in ex.errs[attempt])
            if gap < backoff - TOLERANCE_S:
                v.fail(f"{job_id}: attempt {attempt + 1} began {gap:.3f} s after a failure "
                       f"(backoff {backoff} s)")
    elif kind == "delayed":
        _, delay_ms, before = spec.split(":")
        first = min(s.at for starts in ex.starts.values() for s in starts)
        if first < float(before) + int(delay_ms) / 1000 - TOLERANCE_S:
            v.fail(f"{job_id} started {float(before) + int(delay_ms) / 1000 - first:.3f} s "
                   "early")


def check_flows(v: Verdict, acks: dict[str, str], runs: dict[str, Executions]) -> None:
    children: dict[str, list[str]] = defaultdict(list)
    for job_id, spec in acks.items():
        if spec.startswith("child:"):
            children[spec.split(":", 1)[1]].append(job_id)
    for parent, kids in children.items():
        pex = runs.get(parent)
        if not pex or not pex.starts:
            continue  # reported as lost
        start = min(s.at for starts in pex.starts.values() for s in starts)
        for kid in kids:
            kex = runs.get(kid)
            if not kex or not kex.oks:
                v.fail(f"parent {parent} ran but child {kid} never completed")
            elif start < min(o.at for o in kex.oks):
                v.fail(f"parent {parent} started before child {kid} completed")
    v.figures["flows"] = len(children)


def check_rate_limit(v: Verdict, runs: dict[str, Executions], acks: dict[str, str],
                     limit: tuple[int, int]) -> None:
    most, per_ms = limit
    starts = sorted(s.at for job_id, ex in runs.items() if acks.get(job_id) == "limited"
                    for ss in ex.starts.values() for s in ss)
    # A fixed-window limiter lets at most 11 windows' worth start in any 10 windows; one more
    # window of slack for the gap between a fetch and its ledger line (proxy latency)
    span = 10 * per_ms / 1000
    bound = most * 12
    worst, lo = 0, 0
    for hi, at in enumerate(starts):
        while starts[lo] < at - span:
            lo += 1
        worst = max(worst, hi - lo + 1)
    if worst > bound:
        v.fail(f"rate limit {most}/{per_ms} ms broken: {worst} starts within {span} s")
    v.figures["rate_limit"] = {"max": most, "duration_ms": per_ms, "starts": len(starts),
                               "most_in_10_windows": worst, "bound": bound}


def check_scheduler(v: Verdict, runs: dict[str, Executions], completed: set[str],
                    scheduler_id: str, every_ms: int, calm_from: float,
                    traffic_end: float) -> None:
    prefix = f"{SCHEDULER_PREFIX}{scheduler_id}:"
    slots = sorted(int(j[len(prefix):]) for j in runs if j.startswith(prefix))
    done = {int(j[len(prefix):]) for j in completed if j.startswith(prefix)}
    for due in sorted(done - set(slots)):
        v.fail(f"scheduler slot {due} is completed in Redis but never ran")
    for due in slots:
        ex = runs[f"{prefix}{due}"]
        if not ex.oks or due not in done:
            v.fail(f"scheduler slot {due} did not complete (ran {len(ex.starts)} times)")
        if min(s.at for ss in ex.starts.values() for s in ss) < due / 1000 - TOLERANCE_S:
            v.fail(f"scheduler slot {due} ran before its time")
    if not slots:
        v.fail("the scheduler never ran")
        return
    offsets = {due % every_ms for due in slots}
    if len(offsets) > 1:
        v.fail(f"scheduler slots off the grid: offsets {sorted(offsets)[:5]}")
    span = (slots[-1] - slots[0]) // every_ms + 1
    missed = [due for due in range(slots[0], slots[-1], every_ms) if due not in set(slots)]
    settled = calm_from + 25.0  # after the last fault: recovery of a killed worker's locks
    late = [due for due in missed if settled * 1000 <= due <= (traffic_end - 2) * 1000]
    if late:
        v.fail(f"after the chaos stopped, scheduler slots were skipped: {late[:10]}")
    if slots[-1] < (traffic_end - 5) * 1000:
        v.fail(f"the scheduler stopped: last slot {slots[-1]}, traffic ended "
               f"{traffic_end * 1000:.0f}")
    v.figures["scheduler"] = {"every_ms": every_ms, "slots_run": len(slots),
                              "slots_in_span": span, "skipped_during_chaos": len(missed)}


def verify(entries: list[Entry], completed: set[str], failed: set[str], *,
           limit: tuple[int, int], scheduler_id: str, every_ms: int, calm_from: float,
           traffic_end: float, max_stalled: int) -> Verdict:
    v = Verdict()
    acks, runs, killed = collect(entries)
    kinds: dict[str, int] = defaultdict(int)
    for job_id, spec in acks.items():
        kinds[spec.split(":")[0]] += 1
        check_outcome(v, job_id, spec, runs.get(job_id), completed, failed, killed,
                      max_stalled)
    check_duplicates(v, runs, killed)
    check_flows(v, acks, runs)
    check_rate_limit(v, runs, acks, limit)
    check_scheduler(v, runs, completed, scheduler_id, every_ms, calm_from, traffic_end)
    unacked = [j for j in runs if j not in acks and not j.startswith(SCHEDULER_PREFIX)]
    v.figures.update({
        "acknowledged": len(acks), "by_kind": dict(kinds),
        "executions": sum(len(ss) for ex in runs.values() for ss in ex.starts.values()),
        "ran_without_ack": len(unacked),  # an add in flight when its producer stopped
        "lost": sum(1 for p in v.problems if p.startswith("lost:")),
        "killed_workers": {"sigkill": sum(1 for s in killed.values() if s == 9),
                           "sigterm": sum(1 for s in killed.values() if s == 15)},
    })
    return v
