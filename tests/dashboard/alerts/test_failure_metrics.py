"""A failure-rate rule on a queue whose workers record BullMQ's per-minute metrics
(``<prefix>:<queue>:metrics:completed`` / ``:failed``): the rate comes from those keys, also
when the workers remove finished jobs (nothing left for the finish-time fallback to count),
and a series is placed by its own ``prevTS``, so failures long past do not count as recent.
A real queuecore Worker with metrics on writes the keys on a real redis-server."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis
from django.contrib.auth.models import User

from dashboard.alerts.evaluator import evaluate_all
from dashboard.alerts.models import AlertRule, AlertState
from queuecore import Queue, Worker
from tests.queue_helpers import fetch, finish
from tests.waiting import wait_for, wait_until

pytestmark = pytest.mark.django_db
MINUTE_MS = 60_000


async def _process(job: Any) -> str:
    if job.name.startswith("fail"):
        raise RuntimeError("boom")
    return "ok"


def run_metrics_worker(url: str, queue: Queue, finished: int) -> None:
    """A real worker recording metrics and removing every finished job, until ``finished``
    jobs were recorded."""

    def recorded() -> int:
        return queue.get_metrics("completed", 0, 0).count + queue.get_metrics(
            "failed", 0, 0).count

    async def main() -> None:
        worker = Worker(queue.name, _process, connection=url, concurrency=2,
                        metrics={"max_data_points": 60}, remove_on_complete=True,
                        remove_on_fail=True)
        task = asyncio.create_task(worker.run())
        try:
            await wait_until(lambda: recorded() >= finished or task.done(),
                             what=f"{finished} finished jobs in the metrics")
            assert recorded() == finished, "the worker stopped early"
        finally:
            await worker.close()
            await asyncio.wait_for(task, 10)

    asyncio.run(main())


def at_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def test_failure_rate_comes_from_the_metrics_keys_placed_by_their_own_minute(
    settings: Any, redis_url: str
) -> None:
    settings.QUEUE_DASHBOARD = {"CONNECTIONS": {"default": {"URL": redis_url}}}
    owner = User.objects.create_user("owner", is_staff=True, is_superuser=True)
    AlertRule.objects.create(name="failing", connection="default", queue_pattern="pay",
                             kind="failure_rate", threshold=50, resolve_threshold=10,
                             window_seconds=300, for_seconds=0, resolve_for_seconds=0,
                             owner=owner)
    queue = Queue("pay", connection=redis_url)
    for name in ("fail-1", "ok-1", "fail-2", "fail-3"):
        queue.add(name, {}, attempts=1)
    # The four jobs should finish within one minute of the clock: not in its last seconds.
    wait_for(lambda: time.time() % 60 < 45, timeout=30, what="a minute with time to spare")
    run_metrics_worker(redis_url, queue, finished=4)
    raw = redis.Redis.from_url(redis_url, decode_responses=True)
    assert raw.hget("bull:pay:metrics:failed", "count") == "3"
    assert raw.hget("bull:pay:metrics:completed", "count") == "1"
    assert queue.get_job_counts("completed", "failed") == {"completed": 0, "failed": 0}
    minutes = {int(raw.hget(f"bull:pay:metrics:{kind}", "prevTS") or 0) // MINUTE_MS
               for kind in ("completed", "failed")}
    assert len(minutes) == 1 and not queue.get_metrics("failed").data, "not within a minute"
    opened = minutes.pop() * MINUTE_MS

    # In the minute the jobs finished, it is still open: not counted yet (whole minutes).
    evaluate_all(at_ms(opened + 59_000))
    assert AlertState.objects.get().value == 0
    # The next minute: 3 failed of 4, from the metrics alone (the jobs are gone).
    evaluate_all(at_ms(opened + MINUTE_MS + 1_000))
    state = AlertState.objects.get()
    assert (state.value, state.status) == (75.0, "firing")

    # Two minutes on, one more failure closes the failed series' minute (its data list now
    # holds [0, 3], newest first) and opens another; completions never moved theirs on.
    job = queue.add("fail-late", {}, attempts=1)
    assert fetch(queue) == job.id
    finish(queue, job.id, completed=False, value="boom", now=opened + 2 * MINUTE_MS + 5_000,
           metrics_points=60)
    assert queue.get_metrics("failed").data == [0, 3]
    evaluate_all(at_ms(opened + 3 * MINUTE_MS + 1_000))
    assert AlertState.objects.get().value == 80.0  # 4 failed of 5 in the last 5 minutes
    # Twenty minutes on, nothing finished since: those failures are old, not recent ones.
    evaluate_all(at_ms(opened + 20 * MINUTE_MS))
    state = AlertState.objects.get()
    assert (state.value, state.status) == (0.0, "ok")
    raw.close()
    queue.close()


def test_failure_rate_window_keeps_only_its_minutes(settings: Any, redis_url: str) -> None:
    """A 2-minute window counts the two whole minutes before now, not older data points."""
    settings.QUEUE_DASHBOARD = {"CONNECTIONS": {"default": {"URL": redis_url}}}
    owner = User.objects.create_user("owner", is_staff=True, is_superuser=True)
    AlertRule.objects.create(name="failing", connection="default", queue_pattern="q",
                             kind="failure_rate", threshold=50, window_seconds=120,
                             for_seconds=0, owner=owner)
    queue = Queue("q", connection=redis_url)
    base = (1_800_000_000_000 // MINUTE_MS) * MINUTE_MS
    # minute 0: 2 failed; minute 1: 1 completed; minute 2: 1 failed, 1 completed; minute 3
    # opens both series again (not counted: it is the current one).
    plan = [(0, False), (1, False), (61, True), (121, False), (122, True), (181, False),
            (182, True)]
    for second, completed in plan:
        job = queue.add("j", {}, attempts=1)
        assert fetch(queue) == job.id
        finish(queue, job.id, completed=completed, value="x", now=base + second * 1000,
               metrics_points=60)
    evaluate_all(at_ms(base + 3 * MINUTE_MS + 30_000))
    assert AlertState.objects.get().value == pytest.approx(100 / 3)  # 1 failed of 3
    evaluate_all(at_ms(base + 3 * MINUTE_MS + 30_000) + timedelta(minutes=1))
    assert AlertState.objects.get().value == 50.0  # minutes 2 and 3: 2 failed of 4
    queue.close()
