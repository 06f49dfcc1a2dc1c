"""Health checks: Redis reachable, counts, workers, the age of the oldest waiting job."""

from __future__ import annotations

import json

import redis

from queuecore import AsyncJob, AsyncQueue, Queue, Worker
from queuecore.base.clock import now_ms
from queuecore.observe.health import HealthReport, acheck_health, check_health
from tests.redisproc import free_port
from tests.worker_utils import running, wait_until


def test_healthy_empty_queue(redis_url: str) -> None:
    with Queue("h", redis_url) as q:
        report = check_health(q)
    assert report.ok is True
    assert report.error is None
    assert report.queue == "h"
    assert report.prefix == "bull"
    assert report.redis_version and report.redis_version[0].isdigit()
    assert report.ping_ms is not None and report.ping_ms >= 0
    assert report.paused is False
    assert report.workers == 0
    assert report.oldest_waiting_age_ms is None
    assert report.oldest_prioritized_age_ms is None
    assert set(report.counts) >= {"waiting", "active", "delayed", "prioritized", "completed",
                                  "failed", "paused", "waiting-children"}
    assert not any(report.counts.values())


def test_counts_and_the_oldest_waiting_and_prioritized_jobs(redis_url: str) -> None:
    now = now_ms()
    with Queue("h", redis_url) as q:
        q.add("old", {}, timestamp=now - 5_000)
        q.add("new", {}, timestamp=now - 1_000)
        q.add("later", {}, delay=60_000)
        q.add("urgent", {}, priority=1, timestamp=now - 3_000)
        q.add("less-urgent", {}, priority=5, timestamp=now - 9_000)
        report = check_health(q)
        after = now_ms()
    assert report.counts["waiting"] == 2
    assert report.counts["delayed"] == 1
    assert report.counts["prioritized"] == 2
    # The right end of wait is the oldest job; the lowest score is the first to run.
    assert report.oldest_waiting_age_ms is not None
    # The ages are read between `now` and `after`: exact bounds, however slow the machine.
    assert 5_000 <= report.oldest_waiting_age_ms <= after - now + 5_000
    assert report.oldest_prioritized_age_ms is not None
    assert 3_000 <= report.oldest_prioritized_age_ms <= after - now + 3_000


def test_paused_queue_reports_its_jobs_and_their_age(redis_url: str) -> None:
    with Queue("h", redis_url) as q:
        q.add("old", {}, timestamp=now_ms() - 2_000)
        q.pause()
        report = check_health(q)
    assert report.paused is True
    assert report.counts["waiting"] + report.counts["paused"] == 1  # BullMQ 6 keeps them in wait
    assert report.oldest_waiting_age_ms is not None
    assert report.oldest_waiting_age_ms >= 2_000


def test_workers_are_counted_by_their_client_name(redis_url: str) -> None:
    names = ["bull:h", "bull:h:w:billing", "bull:other"]
    clients = [redis.Redis.from_url(redis_url, client_name=n) for n in names]
    try:
        for c in clients:
            c.ping()
        with Queue("h", redis_url) as q:
            assert check_health(q).workers == 2
    finally:
        for c in clients:
            c.close()


def test_redis_that_is_not_there(redis_url: str) -> None:
    url = f"redis://admin:s3cr3t-pw@127.0.0.1:{free_port()}/0"
    with Queue("h", url) as q:
        report = check_health(q, timeout=1)
    assert report.ok is False
    assert report.error and "Connection" in report.error
    assert report.counts == {}
    assert report.workers is None
    assert "s3cr3t-pw" not in json.dumps(report.as_dict())
    assert "s3cr3t-pw" not in repr(report)
    assert report.redis == url.split("@")[1]


def test_redis_that_answers_but_refuses_the_queue_keys(redis_url: str, r: redis.Redis) -> None:
    r.acl_setuser("pinger", enabled=True, passwords=["+pinger-pw"], commands=["+ping"])
    try:
        url = redis_url.replace("redis://", "redis://pinger:pinger-pw@")
        with Queue("h", url) as q:
            report = check_health(q)
        assert report.ok is True  # reachable: PING answered
        assert report.error is not None and "NoPermissionError" in report.error
        assert "pinger-pw" not in report.error
        assert report.ping_ms is not None
    finally:
        r.acl_deluser("pinger")


def test_as_dict_is_json(redis_url: str) -> None:
    with Queue("h", redis_url) as q:
        q.add("a", {})
        data = check_health(q).as_dict()
    assert json.loads(json.dumps(data)) == data
    assert data["ok"] is True
    assert data["counts"]["waiting"] == 1


def test_report_is_frozen() -> None:
    report = HealthReport(queue="q", prefix="bull", redis="h:1/0", ok=True)
    try:
        report.ok = False  # type: ignore[misc]
    except AttributeError:
        pass
    else:
        raise AssertionError("HealthReport is not frozen")


async def test_async_face_sees_a_running_worker(redis_url: str) -> None:
    async def process(job: AsyncJob) -> None:
        return None

    async with AsyncQueue("h", redis_url) as q:
        await q.add("x", {}, priority=2)
        worker = Worker("h", process, connection=redis_url, drain_delay=0.2)
        async with running(worker):
            await wait_until(lambda: _completed(q))
            await wait_until(lambda: _workers(q))
            report = await acheck_health(q)
        assert report.ok is True
        assert report.workers is not None and report.workers >= 1
        assert report.counts["completed"] == 1
        assert report.oldest_prioritized_age_ms is None


async def _completed(q: AsyncQueue) -> bool:
    return (await q.get_job_counts("completed"))["completed"] == 1


async def _workers(q: AsyncQueue) -> bool:
    report = await acheck_health(q)
    return bool(report.workers)


async def test_async_face_with_redis_away() -> None:
    async with AsyncQueue("h", f"redis://:pw-xyz@127.0.0.1:{free_port()}/0") as q:
        report = await acheck_health(q, timeout=1)
    assert report.ok is False
    assert report.error is not None
    assert "pw-xyz" not in report.error
