"""job_states, lock_ttls and history_reads on a real redis-server: the same answers as the
one-item reads, in one round trip however many jobs or queues."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from queuecore import Queue, history_reads, job_states, lock_ttls, read_timings
from tests.queue_helpers import fetch
from tests.roundtrips import counted
from tests.waiting import wait_for


@pytest.fixture
def queue(redis_url: str) -> Iterator[Queue]:
    q = Queue("batch", connection=redis_url)
    yield q
    q.close()


def test_job_states_match_the_one_job_reads_in_one_round_trip(queue: Queue) -> None:
    waiting = [queue.add("w", {}).id for _ in range(5)]
    delayed = queue.add("d", {}, delay=60_000).id
    prioritized = queue.add("p", {}, priority=3).id
    ids = [*waiting, delayed, prioritized, "nope"]
    job_states(queue, ids)  # connections open, the script loaded: only the read is counted
    with counted() as trips:
        states = job_states(queue, ids)
    assert trips.count == 1
    assert states == {i: queue.get_job_state(i) for i in ids}
    assert states[delayed] == "delayed" and states[prioritized] == "prioritized"
    assert states["nope"] == "unknown"
    assert job_states(queue, []) == {}


def test_lock_ttls_in_one_round_trip(queue: Queue) -> None:
    held = queue.add("held", {}).id
    assert fetch(queue, token="a", lock_ms=60_000) == held
    lost = queue.add("lost", {}).id
    assert fetch(queue, token="b", lock_ms=50) == lost
    wait_for(lambda: queue.get_job_lock_ttl(lost) == -2, what="the lock expired")
    lock_ttls(queue, [held, lost, held])  # connections open: only the read is counted
    with counted() as trips:
        ttls = lock_ttls(queue, [held, lost, held])
    assert trips.count == 1
    assert ttls.keys() == {held, lost}
    assert 0 < ttls[held] <= 60_000 and ttls[lost] == -2


@pytest.mark.parametrize("queues", [1, 6])
def test_history_reads_of_many_queues_in_one_round_trip(redis_url: str, queues: int) -> None:
    names = [f"hist{i}" for i in range(queues)]
    opened = [Queue(n, connection=redis_url) for n in names]
    try:
        starts = [0, 60_000, 120_000]
        history_reads(opened[0], names, 60, "m", starts)  # connections open
        with counted() as trips:
            got = history_reads(opened[0], names, 60, "m", starts)
        assert trips.count == 1
        assert [g.name for g in got] == names
        for q, g in zip(opened, got, strict=True):
            assert g.completed == q.get_metrics("completed", 0, 59)
            assert g.failed == q.get_metrics("failed", 0, 59)
            assert g.timings == read_timings(q, "m", starts)
        assert history_reads(opened[0], [], 60, "m", starts) == []
    finally:
        for q in opened:
            q.close()
