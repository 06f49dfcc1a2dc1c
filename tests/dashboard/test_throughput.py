"""The last-hour chart: BullMQ's per-minute metrics first, the sampled fallback without them."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from django.test import Client

from dashboard.services.common import now_ms
from dashboard.services.summary import summarize
from dashboard.throughput import (
    HOUR_MS,
    METRICS,
    MINUTE_MS,
    SAMPLE,
    bucketize,
    from_metrics,
    is_lower_bound,
    metrics_current,
    per_minute,
    regroup,
    throughput,
)
from queuecore import Queue, Worker
from queuecore.commands.metrics import Metrics
from tests.dashboard.conftest import MOUNT
from tests.waiting import wait_until

NOW = 10 * HOUR_MS + 30_000  # half a minute into a minute


def metrics(count: int = 0, prev_ts: int = 0, prev_count: int = 0,
            data: list[int] | None = None) -> Metrics:
    data = data or []
    return Metrics(count, prev_ts, prev_count, data, len(data))


# -- the sampled fallback (pure) --------------------------------------------------------


def test_bucketize_last_hour_only() -> None:
    counts = bucketize([NOW, NOW - 1, NOW - HOUR_MS + 1, NOW - HOUR_MS, NOW + 5, None], NOW)
    assert len(counts) == 12
    assert counts[-1] == 2
    assert counts[0] == 1
    assert sum(counts) == 3


def test_lower_bound_only_when_sample_full_inside_hour() -> None:
    assert not is_lower_bound([NOW - 10, NOW - 20], 3, NOW)
    assert is_lower_bound([NOW - 10, NOW - 20, NOW - 30], 3, NOW)
    assert not is_lower_bound([NOW - 10, NOW - 20, NOW - 2 * HOUR_MS], 3, NOW)


def test_bars_scale_to_peak() -> None:
    t = throughput([NOW - 1, NOW - 2], [NOW - 1], 100, NOW)
    assert (t.total_completed, t.total_failed) == (2, 1)
    assert (t.source, t.sample_size, t.from_metrics) == (SAMPLE, 100, False)
    bars = t.bars
    assert bars[-1].height == 40
    assert bars[-1].y == 0
    assert all(b.height == 0 for b in bars[:-1])


def test_empty_chart() -> None:
    assert all(b.height == 0 for b in throughput([], [], 10, NOW).bars)


# -- per-minute metrics (pure) ----------------------------------------------------------


def test_per_minute_reads_bullmq_layout() -> None:
    # The last finish opened the current minute: 4 jobs in it so far; the list holds the
    # minutes before it, newest first.
    m = metrics(count=100, prev_ts=NOW - 5_000, prev_count=96, data=[7, 0, 3])
    minutes = per_minute(m, NOW)
    assert len(minutes) == 60
    assert minutes[-4:] == (3, 0, 7, 4)
    assert sum(minutes) == 14


def test_per_minute_when_nothing_finished_lately() -> None:
    # prevTS three minutes ago: its minute holds count - prevCount, later minutes none.
    m = metrics(count=10, prev_ts=NOW - 3 * MINUTE_MS, prev_count=8, data=[5])
    assert per_minute(m, NOW)[-5:] == (5, 2, 0, 0, 0)
    # Older than the hour: nothing in the window.
    old = metrics(count=10, prev_ts=NOW - 2 * HOUR_MS, prev_count=8, data=[5] * 200)
    assert sum(per_minute(old, NOW)) == 0


def test_per_minute_without_metrics_is_empty() -> None:
    assert per_minute(metrics(), NOW) == (0,) * 60


def test_per_minute_only_counts_the_last_hour() -> None:
    m = metrics(count=1000, prev_ts=NOW, prev_count=1000, data=[1] * 1440)
    assert sum(per_minute(m, NOW)) == 59  # 59 closed minutes plus an empty current one


def test_regroup_into_five_minute_bars() -> None:
    assert regroup(list(range(60))) == tuple(sum(range(i, i + 5)) for i in range(0, 60, 5))


def test_from_metrics_is_exact() -> None:
    completed = metrics(count=50, prev_ts=NOW - 1_000, prev_count=40, data=[20, 20])
    failed = metrics(count=3, prev_ts=NOW - 2 * MINUTE_MS, prev_count=2, data=[2])
    t = from_metrics(completed, failed, NOW)
    assert (t.total_completed, t.total_failed) == (50, 3)
    assert t.source == METRICS and t.from_metrics and not t.lower_bound
    assert t.completed[-1] == 50 and t.failed[-1] == 3


def test_metrics_current_spots_finishes_without_metrics() -> None:
    m = metrics(count=5, prev_ts=NOW - 3 * MINUTE_MS, prev_count=0)
    assert metrics_current(m, None, NOW)
    assert metrics_current(m, NOW - 3 * MINUTE_MS, NOW)
    assert not metrics_current(m, NOW - MINUTE_MS, NOW)  # finished later, not counted
    assert not metrics_current(metrics(), NOW - MINUTE_MS, NOW)
    assert metrics_current(metrics(), NOW - 2 * HOUR_MS, NOW)  # outside the chart anyway


# -- against the private Redis ----------------------------------------------------------


async def _work(job: Any) -> Any:
    if job.name == "fail":
        raise RuntimeError("boom <b>x</b>")
    return {"ok": True}


def run_worker(url: str, queue: Queue, finished: int, *, with_metrics: bool) -> None:
    async def main() -> None:
        opts: dict[str, Any] = {"metrics": {"max_data_points": 60}} if with_metrics else {}
        worker = Worker(queue.name, _work, connection=url, concurrency=4, **opts)
        task = asyncio.create_task(worker.run())

        def done() -> bool:
            return sum(queue.get_job_counts("completed", "failed").values()) >= finished

        try:
            await wait_until(lambda: done() or task.done(), what=f"{finished} jobs finished")
            assert done(), f"the worker stopped early: {queue.get_job_counts()}"
        finally:
            await worker.close()
            await asyncio.wait_for(task, 10)

    asyncio.run(main())


def fill(url: str, queue: Queue, ok: int, failed: int, *, with_metrics: bool) -> None:
    already = sum(queue.get_job_counts("completed", "failed").values())
    jobs: list[Any] = [{"name": "ok", "data": {"i": i}} for i in range(ok)]
    jobs += [{"name": "fail", "data": {"i": i}, "opts": {"attempts": 1}} for i in range(failed)]
    queue.add_bulk(jobs)
    run_worker(url, queue, already + ok + failed, with_metrics=with_metrics)


@pytest.mark.django_db
def test_chart_uses_metrics_when_workers_record_them(
    dash_redis: str, queue: Queue, admin_user_client: Client
) -> None:
    fill(dash_redis, queue, 7, 2, with_metrics=True)
    t = summarize("default", "emails").throughput
    assert t is not None and t.source == METRICS
    assert (t.total_completed, t.total_failed) == (7, 2)
    body = admin_user_client.get(MOUNT).content.decode()
    assert 'data-source="metrics"' in body
    assert "from the per-minute metrics that workers record" in body
    assert "7 ok / 2 failed" in body


@pytest.mark.django_db
def test_chart_samples_without_metrics(
    dash_redis: str, queue: Queue, admin_user_client: Client
) -> None:
    fill(dash_redis, queue, 3, 1, with_metrics=False)
    t = summarize("default", "emails").throughput
    assert t is not None and t.source == SAMPLE
    assert (t.total_completed, t.total_failed) == (3, 1)
    body = admin_user_client.get(f"{MOUNT}default/q/emails/").content.decode()
    assert 'data-source="sample"' in body
    assert "no metrics recorded" in body


def test_chart_falls_back_when_metrics_miss_recent_jobs(dash_redis: str, queue: Queue) -> None:
    fill(dash_redis, queue, 2, 0, with_metrics=True)
    # Metrics from a minute ago, then jobs finished by a worker that records none: the
    # metrics would undercount, so the chart samples.
    key = f"bull:{queue.name}:metrics:completed"
    queue.client.hset(key, "prevTS", now_ms() - 2 * MINUTE_MS)
    fill(dash_redis, queue, 3, 0, with_metrics=False)
    t = summarize("default", "emails").throughput
    assert t is not None and t.source == SAMPLE
    assert t.total_completed == 5


def test_metrics_read_is_bounded(dash_redis: str, queue: Queue) -> None:
    """The chart reads a fixed number of metric points, not every finished job."""
    fill(dash_redis, queue, 3, 0, with_metrics=True)
    client = queue.client
    client.config_resetstat()
    summarize("default", "emails")
    stats = client.info("commandstats")
    assert "cmdstat_hgetall" in stats and stats["cmdstat_hgetall"]["calls"] <= 3
    assert stats["cmdstat_lrange"]["calls"] <= 4
