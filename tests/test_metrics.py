"""Metrics: per-minute counts in BullMQ's keys, and wait/processing percentiles."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given
from hypothesis import strategies as st

from queuecore import AsyncJob, Queue, Worker
from queuecore.base.errors import InvalidOptionsError
from queuecore.commands.metrics import Timing, per_minute, percentile, summarize
from tests.queue_helpers import fetch, finish
from tests.worker_utils import running, wait_until


def test_percentile_math():
    assert percentile([], 50) is None
    assert percentile([5], 99) == 5
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile(list(range(101)), 90) == 90
    with pytest.raises(ValueError, match="between"):
        percentile([1], 101)


@given(st.lists(st.integers(0, 10**6), min_size=1), st.floats(0, 100))
def test_percentile_is_within_the_data(values, p):
    result = percentile(values, p)
    assert result is not None
    assert min(values) <= result <= max(values)


def test_summaries_per_minute():
    samples = [Timing(60_000 * 3 + i, i, 10 * i) for i in range(10)] + [Timing(60_000 * 4, 7, 7)]
    series = per_minute(samples)
    assert [minute for minute, _ in series] == [180_000, 240_000]
    assert series[0][1].count == 10
    assert series[0][1].processing["p50"] == 45
    assert summarize([]).wait == {"p50": None, "p90": None, "p99": None}


def test_per_minute_counts_follow_bullmq_layout(redis_url: str, r):
    """Counts go into `metrics:completed` (count, prevTS, prevCount) and its `:data` list."""
    q = Queue("m", redis_url)
    base = 1_800_000_000_000 - 1_800_000_000_000 % 60_000  # a minute boundary
    plan = [base + 1_000, base + 2_000, base + 61_000, base + 62_000, base + 63_000,
            base + 245_000]  # 2 jobs in minute 0, 3 in minute 1, none in 2 and 3, 1 in 4
    for now in plan:
        job = q.add("j", {})
        assert fetch(q) == job.id
        finish(q, job.id, completed=True, value="ok", now=now, metrics_points=10)
    metrics = q.get_metrics("completed")
    assert metrics.count == 6
    assert metrics.data == [0, 0, 3, 2]  # newest minute first
    assert metrics.total_points == 4
    assert r.hget("bull:m:metrics:completed", "prevCount") == "5"
    assert q.get_metrics("failed").count == 0
    with pytest.raises(InvalidOptionsError):
        q.get_metrics("waiting")
    q.close()


async def test_worker_records_metrics_and_timings(redis_url: str):
    q = Queue("mt", redis_url)
    for n in range(20):
        q.add("j", {"n": n})

    async def process(job: AsyncJob) -> None:
        await asyncio.sleep(0.02 if job.data["n"] % 2 else 0.06)
        if job.data["n"] == 0:
            raise RuntimeError("one failure")

    async with running(Worker("mt", process, connection=redis_url, concurrency=4,
                              metrics={"max_data_points": 60})):
        await wait_until(lambda: q.get_metrics("completed").count == 19)
    assert q.get_metrics("failed").count == 1
    timings = q.get_timings("completed")
    assert timings.count == 19
    # Lower bounds only (the processor sleeps at least that long; a loaded machine only adds).
    assert (timings.processing["p50"] or 0) >= 15
    assert (timings.processing["p99"] or 0) >= max(55, timings.processing["p50"] or 0)
    assert (timings.wait["p50"] or 0) >= 0
    series = q.get_timing_series("completed")
    assert sum(summary.count for _, summary in series) == 19
    q.close()
