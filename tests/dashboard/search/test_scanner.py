"""The scanner on a real redis-server: windows, the cap, the resumable cursor, and queues
that Node bullmq wrote and worked."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator

import pytest

from dashboard.search import aiter_matching_ids, iter_matching_ids, parse_query, scan_step
from queuecore import AsyncQueue, Queue
from tests.interop.conftest import NodePeer, _missing_reason


@pytest.fixture
def seeded(redis_url: str) -> Iterator[Queue]:
    """2,500 waiting jobs; every 100th is customer 42's."""
    with Queue("scan-seeded", connection=redis_url) as queue:
        queue.obliterate(force=True)
        queue.resume()
        for start in range(0, 2500, 500):
            queue.add_bulk([{"name": "invoice", "data": {"customer": {"id": 42 if n % 100 == 0
                                                                      else 1000 + n}, "n": n}}
                            for n in range(start, start + 500)])
        yield queue


def test_a_step_scans_in_windows_up_to_the_cap(seeded: Queue) -> None:
    query = parse_query("data.customer.id:42")
    step = scan_step(seeded, "waiting", query, 0, limit=10, batch=300, budget_s=60)
    assert len(step.matches) == 10 and not step.done and step.total == 2500
    rest = scan_step(seeded, "waiting", query, step.cursor, limit=100, batch=300, budget_s=60)
    assert rest.done and rest.scanned == 2500
    ids = [m.id for m in step.matches + rest.matches]
    assert len(ids) == len(set(ids)) == 25
    assert sorted(ids, key=int) == [str(n + 1) for n in range(0, 2500, 100)]
    assert step.matches[0].fields["name"] == "invoice"


def test_a_step_stops_at_its_time_budget_and_resumes(seeded: Queue) -> None:
    query = parse_query("data.customer.id:42")
    cursor, found, steps = 0, [], 0
    while True:
        step = scan_step(seeded, "waiting", query, cursor, limit=1000, batch=100, budget_s=0)
        found += [m.id for m in step.matches]
        steps += 1
        if step.done:
            break
        assert step.scanned == step.cursor == cursor + 100  # one window per step
        cursor = step.cursor
    assert steps == 26 and len(found) == 25  # the last window finds the end


def test_the_cap_on_a_windows_last_id_moves_to_the_next_window(seeded: Queue) -> None:
    step = scan_step(seeded, "waiting", parse_query("invoice"), 0, limit=100, batch=100)
    assert len(step.matches) == 100 and step.cursor == 100


def test_iterators_yield_ids_with_resumable_cursors(seeded: Queue, redis_url: str) -> None:
    query = parse_query("data.customer.id:42")
    pairs = list(iter_matching_ids(seeded, "waiting", query, batch=700))
    assert len(pairs) == 25
    middle_cursor = pairs[10][1]
    resumed = [i for i, _ in iter_matching_ids(seeded, "waiting", query, middle_cursor)]
    assert resumed == [i for i, _ in pairs[11:]]

    async def collect() -> list[str]:
        async with AsyncQueue("scan-seeded", connection=redis_url) as aqueue:
            return [i async for i, _ in aiter_matching_ids(aqueue, "waiting", query)]

    assert asyncio.run(collect()) == [i for i, _ in pairs]


def test_an_empty_query_matches_every_job_and_a_gone_hash_none(seeded: Queue) -> None:
    seeded.client.delete(seeded.keys.job("1"))
    ids = [i for i, _ in iter_matching_ids(seeded, "waiting", parse_query(""))]
    assert len(ids) == 2499 and "1" not in ids


def test_queues_written_and_worked_by_node_bullmq(redis_url: str) -> None:
    reason = _missing_reason()
    if reason is not None:
        pytest.fail(f"interop peer missing: {reason}", pytrace=False)
    node = shutil.which("node")
    assert node is not None
    peer = NodePeer(node, redis_url)
    jobs = [{"name": "charge", "data": {"order": {"id": n, "tags": ["eu", f"t{n}"]},
                                        **({"fail": "card declined"} if n % 3 == 0 else {})},
             "opts": {"attempts": 2, "backoff": 0}} for n in range(12)]
    peer({"queue": "scan-node", "actions": [
        {"op": "addBulk", "jobs": jobs},
        {"op": "work", "count": 12 + 4, "timeoutMs": 20000},
    ]})
    with Queue("scan-node", connection=redis_url) as queue:
        failed = scan_step(queue, "failed", parse_query("declined attempts>=2"), budget_s=60)
        assert failed.done and sorted(m.fields["failedReason"] for m in failed.matches) == [
            "card declined"] * 4
        done = scan_step(queue, "completed", parse_query("data.order.tags[1]:T1"), budget_s=60)
        got = [queue.get_job(m.id) for m in done.matches]
        assert sorted(j.data["order"]["id"] for j in got if j is not None) == [1, 10, 11]
