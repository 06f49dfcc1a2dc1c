"""The why panels and the connection history read many jobs or queues in a fixed number of
round trips (counted on redis-py's connections, not timed): more children, more lost locks
or more queues cost no more round trips. And the why panel's durations and pace are the
dashboard's translated ones."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.utils import translation

from dashboard.services import history, why
from queuecore import FlowProducer, Queue
from tests.queue_helpers import fetch
from tests.roundtrips import counted
from tests.waiting import wait_for

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("dash_redis")]


def trips(read: Callable[[], Any]) -> int:
    read()  # connections open and scripts loaded: only the reads are counted
    with counted() as seen:
        read()
    return seen.count


def test_pending_children_cost_no_round_trip_each(dash_redis: str) -> None:
    parents = {}
    with FlowProducer(dash_redis) as flows:
        for n in (2, 12):
            node = flows.add({"name": "parent", "queue_name": "emails", "children": [
                {"name": f"c{i}", "queue_name": "reports"} for i in range(n)]})
            parents[n] = node.job.id
    few = trips(lambda: why.why_job("default", "emails", parents[2]))
    many = trips(lambda: why.why_job("default", "emails", parents[12]))
    assert many == few, (few, many)  # was one round trip more per child
    listed = why.why_job("default", "emails", parents[12])
    children = next(r for r in listed.reasons if r.code == "children").children
    assert len(children) == 12 and {c.state for c in children} == {"waiting"}


def _lose_locks(queue: Queue, n: int) -> None:
    for i in range(n):
        queue.add("lost", {"i": i})
        assert fetch(queue, token=f"t{i}", lock_ms=50) is not None
    wait_for(lambda: all(queue.get_job_lock_ttl(j.id) == -2
                         for j in queue.get_jobs("active")), what="the locks expired")


def test_lost_locks_cost_no_round_trip_each(queue: Queue, dash_redis: str) -> None:
    _lose_locks(queue, 1)
    one = trips(lambda: why.why_queue("default", "emails"))
    _lose_locks(queue, 7)
    eight = trips(lambda: why.why_queue("default", "emails"))
    assert eight == one, (one, eight)  # was one round trip more per active job
    lost = next(r for r in why.why_queue("default", "emails").reasons if r.code == "lock-lost")
    assert len(lost.children) == 8


def test_connection_history_reads_its_queues_together(dash_redis: str) -> None:
    names = [f"h{i}" for i in range(8)]
    for name in names:
        q = Queue(name, connection=dash_redis)
        q.add("x", {})
        q.close()
    two = trips(lambda: history.connection_history("default", names[:2], "24h"))
    eight = trips(lambda: history.connection_history("default", names, "24h"))
    assert eight == two <= 2, (two, eight)  # was three or four round trips per queue
    assert history.connection_history("default", names, "24h").error == ""


def test_why_durations_and_pace_are_translated(queue: Queue) -> None:
    job = queue.add("later", {}, delay=3_600_000)
    with translation.override("de"):
        text = next(r for r in why.why_job("default", "emails", job.id).reasons
                    if r.code == "delay").text
        pace = why._estimate(3, 1.5)
    assert text.startswith("Er ist verzögert: fällig in ")
    assert "59\u00a0min" in text or "1\u00a0h" in text
    assert "59m" not in text
    assert "1,5 Jobs pro Minute" in pace and "2\u00a0min" in pace
