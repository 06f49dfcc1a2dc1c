"""Oversized job data is refused before anything is written (queuecore's
512 KiB default), and a 10 MB field already in Redis (written behind queuecore's back) is
shown cut on the job page, the queue page and the live fragments (how fast such a page
renders is a figure for bench/, not asserted here); "Show all" is bounded by JSON_FULL_CHARS."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest
import redis
from channels.db import database_sync_to_async
from django.contrib.auth.models import User
from django.test import Client

from queuecore import AsyncQueue, DataError, FlowProducer, Queue
from tests.dashboard.conftest import MOUNT
from tests.dashboard.live_helpers import collect, communicator, session_cookie, texts, wait_for

pytestmark = [pytest.mark.timeout(60)]

BIG = 10 * 1024 * 1024
OVER = {"blob": "x" * (512 * 1024 + 1)}
PAGE_LIMIT = 200_000  # bytes of one page


def _keys(r: redis.Redis) -> dict[str, Any]:
    return {k: r.dump(k) for k in r.scan_iter()}


def test_oversized_data_is_refused_before_any_write(redis_url: str, r: redis.Redis) -> None:
    queue = Queue("big", connection=redis_url)
    queue.add("seed", {"n": 1})
    before = _keys(r)
    try:
        with pytest.raises(DataError):
            queue.add("too-big", OVER)
        with pytest.raises(DataError):
            queue.add_bulk([{"name": "ok", "data": {}}, {"name": "too-big", "data": OVER}])
        with pytest.raises(DataError):
            queue.upsert_job_scheduler("s", every=1000, name="too-big", data=OVER)
        flows = FlowProducer(redis_url)
        try:
            with pytest.raises(DataError):
                flows.add({"name": "p", "queue_name": "big", "data": {},
                           "children": [{"name": "c", "queue_name": "big", "data": OVER}]})
        finally:
            flows.close()
    finally:
        queue.close()
    assert _keys(r) == before


async def test_oversized_data_is_refused_by_the_async_queue(redis_url: str, r: redis.Redis) -> None:
    queue = AsyncQueue("big", redis_url)
    try:
        with pytest.raises(DataError):
            await queue.add("too-big", OVER)
    finally:
        await queue.close()
    assert r.dbsize() == 0


BLOB = "<b>" + "y" * BIG
#: One 10 MB field at a time, as it sits in the job's hash (or its log list).
HUGE_FIELDS: dict[str, str] = {
    "data": json.dumps({"blob": BLOB}),
    "returnvalue": json.dumps(BLOB),
    "failedReason": BLOB,
    "stacktrace": json.dumps([BLOB]),
    "progress": json.dumps({"text": BLOB}),
    "name": BLOB,
    "log": BLOB,
}


@pytest.fixture(params=list(HUGE_FIELDS))
def huge_job(request: Any, dash_redis: str, r: redis.Redis) -> str:
    return plant_huge(r, dash_redis, request.param)


@pytest.fixture(params=["data", "returnvalue"])
def huge_json_job(request: Any, dash_redis: str, r: redis.Redis) -> tuple[str, str]:
    return plant_huge(r, dash_redis, request.param), request.param


def plant_huge(r: redis.Redis, dash_redis: str, field: str) -> str:
    """A failed job with one 10 MB field, written straight into Redis."""
    queue = Queue("emails", connection=dash_redis)
    job = queue.add("small", {"n": 1})
    queue.close()
    key = f"bull:emails:{job.id}"
    now = int(time.time() * 1000)
    r.hset(key, mapping={"processedOn": now - 10, "finishedOn": now, "atm": 1,
                         "failedReason": "boom", "returnvalue": "null"})
    if field == "log":
        r.rpush(f"bull:emails:{job.id}:logs", "first line", BLOB, "last line")
    else:
        r.hset(key, field, HUGE_FIELDS[field])
    r.lrem("bull:emails:wait", 0, job.id)
    r.zadd("bull:emails:failed", {job.id: now})
    return job.id


@pytest.fixture
def viewer(make_user: Callable[..., User]) -> Client:
    client = Client()
    client.force_login(make_user("view"))
    return client


def _get(client: Client, url: str, **query: str) -> Any:
    return client.get(url, query)


@pytest.mark.django_db
def test_a_10mb_field_renders_cut(viewer: Client, huge_job: str) -> None:
    response = _get(viewer, f"{MOUNT}default/q/emails/jobs/{huge_job}/")
    assert response.status_code == 200
    body = response.content.decode()
    assert len(response.content) < PAGE_LIMIT, len(response.content)
    assert "&lt;b&gt;yyy" in body
    assert "y" * 10_001 not in body  # cut (at TEXT_PREVIEW_CHARS or less)


@pytest.mark.django_db
def test_show_all_is_bounded(
    viewer: Client, huge_json_job: tuple[str, str], settings: Any
) -> None:
    settings.QUEUE_DASHBOARD = {**settings.QUEUE_DASHBOARD, "JSON_FULL_CHARS": 100_000}
    job_id, field = huge_json_job
    response = _get(viewer, f"{MOUNT}default/q/emails/jobs/{job_id}/", full=field)
    assert response.status_code == 200
    body = response.content.decode()
    assert len(response.content) < 100_000 + PAGE_LIMIT, len(response.content)
    shown = body.split(f'id="json-{field}">')[1].split("</pre>")[0]
    assert 100_000 <= len(shown) < 120_000  # the bound, escaped
    assert "That is the most the page shows." in body


@pytest.mark.django_db
def test_queue_page_with_a_10mb_job_is_small(viewer: Client, huge_job: str) -> None:
    response = _get(viewer, f"{MOUNT}default/q/emails/", state="failed")
    assert response.status_code == 200
    assert huge_job in response.content.decode()
    assert len(response.content) < PAGE_LIMIT


@pytest.mark.django_db(transaction=True)
async def test_live_job_fragment_with_a_10mb_field_is_small(
    huge_job: str, make_user: Callable[..., User], settings: Any
) -> None:
    settings.QUEUE_DASHBOARD = {**settings.QUEUE_DASHBOARD, "LIVE_RECHECK_SECONDS": 3600}
    cookie = await database_sync_to_async(lambda: session_cookie(make_user("view")))()
    comm = communicator(f"default/q/emails/jobs/{huge_job}/", cookie)
    assert (await comm.connect())[0]
    await comm.send_to(text_data=json.dumps({"logs_total": "0", "logs_tail": "1"}))
    got = await wait_for(comm, lambda t: "job-state" in t)
    got += texts(await collect(comm, 0.5))
    await comm.disconnect()
    assert max(len(t) for t in got) < PAGE_LIMIT
