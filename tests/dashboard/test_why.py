""""Why isn't it running?" on a real redis-server: every cause produced, then explained (the
service's reasons and the panels on the job and queue pages)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import redis
from django.test import Client

from dashboard.services import why
from queuecore import FlowProducer, Queue, Worker
from tests.dashboard.conftest import MOUNT
from tests.dashboard.jobs import run_worker
from tests.interop.conftest import node_worker_client_name
from tests.queue_helpers import fetch
from tests.redisproc import RedisProcess
from tests.waiting import wait_for, wait_until

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("dash_redis")]

Q = f"{MOUNT}default/q/emails/"


def codes(result: why.Why) -> list[str]:
    return [r.code for r in result.reasons]


def reason(result: why.Why, code: str) -> why.Reason:
    return next(r for r in result.reasons if r.code == code)


def test_paused_queue_is_the_reason_and_links_to_resume(
    queue: Queue, admin_user_client: Client
) -> None:
    job = queue.add("w", {})
    queue.pause()
    result = why.why_job("default", "emails", job.id)
    assert reason(result, "paused").fix == "resume"
    assert result.blocked
    body = admin_user_client.get(f"{Q}jobs/{job.id}/").content.decode()
    panel = body[body.index('id="job-why"'):]
    panel = panel[:panel.index("</section>")]
    assert "The queue is paused" in panel
    assert "actions/resume/" in panel
    page = admin_user_client.get(Q).content.decode()
    assert 'id="queue-why"' in page and "The queue is paused" in page


def test_viewer_sees_the_reason_without_the_fix(queue: Queue, viewer_client: Client) -> None:
    job = queue.add("w", {})
    queue.pause()
    body = viewer_client.get(f"{Q}jobs/{job.id}/").content.decode()
    assert "The queue is paused" in body
    assert "actions/resume/" not in body


def test_no_workers_says_when_one_was_last_seen(dash_redis: str, queue: Queue) -> None:
    job = queue.add("w", {})
    never = why.why_job("default", "emails", job.id)
    assert "none has finished" in reason(never, "no-workers").text
    assert reason(never, "no-workers").fix == "workers"
    queue.add("ok", {})
    run_worker(dash_redis, queue, finished=2)
    waiting = queue.add("w", {})
    seen = reason(why.why_job("default", "emails", waiting.id), "no-workers")
    assert "last finished a job" in seen.text and "ago" in seen.text


def test_global_concurrency_full(queue: Queue) -> None:
    queue.set_global_concurrency(1)
    queue.add("a", {})
    second = queue.add("b", {})
    assert "concurrency" not in codes(why.why_job("default", "emails", second.id))
    assert fetch(queue) is not None
    text = reason(why.why_job("default", "emails", second.id), "concurrency").text
    assert "1 of 1" in text


def test_rate_limit_until_when(queue: Queue) -> None:
    job = queue.add("w", {})
    queue.rate_limit(60_000)
    limit = reason(why.why_job("default", "emails", job.id), "rate-limit")
    assert limit.at is not None
    assert "more" in limit.text
    assert "rate-limit" in codes(why.why_queue("default", "emails"))


def test_delay_left_links_to_promote(queue: Queue, admin_user_client: Client) -> None:
    job = queue.add("later", {}, delay=3_600_000)
    delay = reason(why.why_job("default", "emails", job.id), "delay")
    assert delay.fix == "promote" and delay.at is not None
    # Compact, translated units (dashboard.durations), a no-break space before each unit.
    assert "due in 59\u00a0min" in delay.text or "due in 1\u00a0h" in delay.text
    body = admin_user_client.get(f"{Q}jobs/{job.id}/").content.decode()
    panel = body[body.index('id="job-why"'):]
    assert f"jobs/{job.id}/promote/" in panel[:panel.index("</section>")]


def test_children_pending_with_their_states(dash_redis: str, queue: Queue,
                                            admin_user_client: Client) -> None:
    with FlowProducer(dash_redis) as flows:
        node = flows.add({"name": "parent", "queue_name": "emails", "children": [
            {"name": "c1", "queue_name": "reports"},
            {"name": "c2", "queue_name": "reports", "opts": {"delay": 60_000}},
        ]})
    parent = node.job.id
    children = reason(why.why_job("default", "emails", parent), "children")
    assert "2 child jobs" in children.text
    assert sorted(c.state for c in children.children) == ["delayed", "waiting"]
    assert {c.queue for c in children.children} == {"reports"}
    body = admin_user_client.get(f"{Q}jobs/{parent}/").content.decode()
    assert f"{MOUNT}default/q/reports/jobs/{node.children[0].job.id}/" in body


def test_position_and_estimate(dash_redis: str, queue: Queue) -> None:
    for i in range(3):
        queue.add("ok", {"n": i})
    run_worker(dash_redis, queue, finished=3)  # a pace to estimate from
    first, _second, third = (queue.add("w", {}) for _ in range(3))
    urgent = queue.add("p", {}, priority=1)
    assert reason(why.why_job("default", "emails", first.id), "position").text.startswith(
        "It is next in line.")
    third_text = reason(why.why_job("default", "emails", third.id), "position").text
    assert third_text.startswith("2 jobs are ahead of it in line.")
    assert "starts in about" in third_text
    assert "3 jobs are ahead" in reason(why.why_job("default", "emails", urgent.id),
                                        "position").text
    backlog = why.why_queue("default", "emails")
    assert "no-workers" in codes(backlog)


def test_backlog_estimate_when_nothing_blocks(dash_redis: str, queue: Queue) -> None:
    # A connection named as a worker's (its CLIENT SETNAME is what the workers page lists);
    # tests/dashboard/test_why_node.py has real Node workers.
    client = redis.Redis.from_url(dash_redis)
    client.client_setname(node_worker_client_name("emails"))
    try:
        queue.add("w", {})
        result = why.why_queue("default", "emails")
        assert codes(result) == ["backlog"]
        assert "1 job waits." in result.reasons[0].text
        assert not result.blocked
    finally:
        client.close()


def test_lock_held_and_lock_lost(queue: Queue) -> None:
    held = queue.add("held", {})
    assert fetch(queue, token="a", lock_ms=60_000) == held.id
    running = reason(why.why_job("default", "emails", held.id), "lock-held")
    assert running.level == why.INFO
    lost = queue.add("lost", {})
    assert fetch(queue, token="b", lock_ms=50) == lost.id
    wait_for(lambda: queue.get_job_lock_ttl(lost.id) == -2, what="the lock expired")
    stalled = reason(why.why_job("default", "emails", lost.id), "lock-lost")
    assert stalled.fix == "workers" and "stopped renewing" in stalled.text
    on_queue = reason(why.why_queue("default", "emails"), "lock-lost")
    assert on_queue.text.startswith("1 active job has no lock")
    assert [c.id for c in on_queue.children] == [lost.id]


def test_finished_and_unknown_jobs_have_no_reasons(dash_redis: str, queue: Queue) -> None:
    queue.add("ok", {})
    run_worker(dash_redis, queue, finished=1)
    done = queue.get_jobs("completed")[0]
    assert why.why_job("default", "emails", done.id).reasons == ()
    assert why.why_job("default", "emails", "nope").reasons == ()


def test_hostile_names_are_escaped(dash_redis: str, queue: Queue,
                                   admin_user_client: Client) -> None:
    queue.add("ok", {})
    name = "<script>alert(1)</script>" + "x" * 300  # client names allow no spaces

    async def main() -> None:
        worker = Worker("emails", lambda job: None, connection=dash_redis, name=name)
        task = asyncio.create_task(worker.run())
        await wait_until(lambda: queue.get_job_counts("completed")["completed"] == 1)
        await worker.close()
        await asyncio.wait_for(task, 10)

    asyncio.run(main())
    job = queue.add("w", {})
    body = admin_user_client.get(f"{Q}jobs/{job.id}/").content.decode()
    assert "last finished a job" in body
    assert "&lt;script&gt;alert(1)" in body
    assert "<script>alert(1)" not in body


def test_redis_away_is_said_not_raised(settings: Any) -> None:
    server = RedisProcess().start()
    settings.QUEUE_DASHBOARD = {"CONNECTIONS": {"main": {"URL": server.url}}}
    with Queue("emails", server.url) as q:
        job = q.add("w", {})
    server.close()
    for result in (why.why_job("main", "emails", job.id), why.why_queue("main", "emails")):
        assert result.reasons == ()
        assert result.error.startswith("Redis")


def test_an_empty_queue_without_workers_has_nothing_to_explain(dash_redis: str,
                                                                 queue: Queue) -> None:
    assert "no-workers" not in codes(why.why_queue("default", "emails"))
    queue.add("later", {}, delay=60_000)  # due later: a worker will be needed then
    assert "no-workers" in codes(why.why_queue("default", "emails"))
