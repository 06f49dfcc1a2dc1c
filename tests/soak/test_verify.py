"""The soak's checks catch what they are there for: fed a ledger with a lost job, a job run
twice on live workers, an early delayed job, a retry before its backoff, a parent ahead of
its children, a broken rate limit and a stopped scheduler, each is reported; a clean ledger
passes."""

from __future__ import annotations

from tests.soak.ledger import Entry
from tests.soak.verify import verify

T = 1_800_000_000.0
LIMIT = (5, 1000)


def e(event: str, job_id: str, detail: str | int, at: float, pid: int = 100,
      role: str = "worker") -> Entry:
    return Entry(role, pid, event, job_id, str(detail), at)


def ran(job_id: str, at: float, pid: int = 100, attempt: int = 0) -> list[Entry]:
    return [e("start", job_id, attempt, at, pid), e("ok", job_id, attempt, at + 0.01, pid)]


def ticks(first: float, last: float, gap: float | None) -> tuple[list[Entry], set[str]]:
    out, ids = [], set()
    due = int(first) * 1000
    while due <= last * 1000:
        if gap is None or not gap <= due / 1000 < gap + 3:
            out += ran(f"repeat:tick:{due}", due / 1000 + 0.001)
            ids.add(f"repeat:tick:{due}")
        due += 1000
    return out, ids


def check(entries: list[Entry], completed: set[str],
          failed: frozenset[str] | set[str] = frozenset(), end: float = T + 60,
          ticks_until: float = T + 60, gap: float | None = None) -> list[str]:
    tick_entries, tick_ids = ticks(T, ticks_until, gap)
    return verify(sorted(entries + tick_entries, key=lambda x: x.at), completed | tick_ids,
                  set(failed), limit=LIMIT, scheduler_id="tick", every_ms=1000,
                  calm_from=T + 10, traffic_end=end, max_stalled=3).problems


def clean() -> tuple[list[Entry], set[str], set[str]]:
    entries = [e("ack", "plain-a-1", "plain", T, role="producer"), *ran("plain-a-1", T + 1),
               e("ack", "delayed-a-2", f"delayed:500:{T:.4f}", T + 0.01, role="producer"),
               *ran("delayed-a-2", T + 0.6),
               e("ack", "retry-a-3", "retry:1", T, role="producer"),
               e("start", "retry-a-3", 0, T + 1), e("err", "retry-a-3", 0, T + 1.1),
               *ran("retry-a-3", T + 1.4, attempt=1),
               e("ack", "doomed-a-4", "doomed:2", T, role="producer"),
               e("start", "doomed-a-4", 0, T + 1), e("err", "doomed-a-4", 0, T + 1.1),
               e("start", "doomed-a-4", 1, T + 1.3), e("err", "doomed-a-4", 1, T + 1.4),
               e("ack", "flow-a-5-c0", "child:flow-a-5", T, role="producer"),
               e("ack", "flow-a-5", "parent:3", T, role="producer"),
               *ran("flow-a-5-c0", T + 1), *ran("flow-a-5", T + 2),
               # a SIGKILLed worker (pid 7) held plain-a-6: its re-run is allowed
               e("ack", "plain-a-6", "plain", T, role="producer"),
               e("start", "plain-a-6", 0, T + 1, pid=7), e("kill", "7", 9, T + 2, role="driver"),
               *ran("plain-a-6", T + 20)]
    completed = {"plain-a-1", "delayed-a-2", "retry-a-3", "flow-a-5-c0", "flow-a-5",
                 "plain-a-6"}
    return entries, completed, {"doomed-a-4"}


def test_a_clean_ledger_passes() -> None:
    entries, completed, failed = clean()
    assert check(entries, completed, failed) == []


def test_each_broken_promise_is_reported() -> None:
    entries, completed, failed = clean()
    cases = {
        "lost: plain-a-9": [e("ack", "plain-a-9", "plain", T, role="producer")],
        "ran on 2 live workers": [*ran("plain-a-1", T + 5, pid=101)],
        "early": [e("ack", "delayed-a-8", f"delayed:5000:{T:.4f}", T, role="producer"),
                  *ran("delayed-a-8", T + 4)],
        "backoff": [e("ack", "retry-a-7", "retry:1", T, role="producer"),
                    e("start", "retry-a-7", 0, T + 1), e("err", "retry-a-7", 0, T + 1.1),
                    *ran("retry-a-7", T + 1.15, attempt=1)],
        "before child": [e("ack", "flow-a-5-c1", "child:flow-a-5", T, role="producer"),
                         *ran("flow-a-5-c1", T + 3)],
        "rate limit": [x for i in range(200) for x in
                       (e("ack", f"limited-a-{i}", "limited", T, role="producer"),
                        *ran(f"limited-a-{i}", T + 1 + i * 0.02))],
    }
    extra_completed = {"delayed-a-8", "retry-a-7", "flow-a-5-c1"} | {
        f"limited-a-{i}" for i in range(200)}
    for expected, more in cases.items():
        problems = check(entries + more, completed | extra_completed, failed)
        assert any(expected in p for p in problems), (expected, problems)
    stopped = check(entries, completed, failed, end=T + 120)  # the ticks stop at T + 60
    assert any("the scheduler stopped" in p for p in stopped), stopped
    # calm from T + 10: a gap at T + 5 is the chaos's, one at T + 40 is a fault
    assert check(entries, completed, failed, gap=T + 5) == []
    late_gap = check(entries, completed, failed, gap=T + 40)
    assert any("slots were skipped" in p for p in late_gap), late_gap
