"""Hostile text, server side: text in queue names, job ids, job names, data,
progress, logs, failed reasons, stack traces, return values, scheduler ids and action
messages comes out of every page and every live fragment as text, never as markup; every
HTML response carries a Content-Security-Policy without inline scripts."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import pytest
import redis
from channels.db import database_sync_to_async
from django.contrib.auth.models import User
from django.test import Client

from dashboard import names
from dashboard.live import notify
from queuecore import InvalidOptionsError, Queue
from tests.dashboard.conftest import MOUNT
from tests.dashboard.live_helpers import collect, communicator, session_cookie, texts, wait_for
from tests.dashboard.security.conftest import check_csp
from tests.dashboard.security.xss import MARK, PAYLOADS, Markup, injected, markup_of

pytestmark = [pytest.mark.timeout(60)]

BENIGN = tuple(f"plain text {i}" for i in range(6))


def test_there_are_enough_payloads() -> None:
    assert len(PAYLOADS) >= 50
    assert all(MARK in p for p in PAYLOADS)
    assert sum(1 for p in PAYLOADS if _queue_name_ok(p)) >= 20


def _queue_name_ok(text: str) -> bool:
    try:
        names.check_queue_name(text)
    except ValueError:
        return False
    return True


def _finish(r: redis.Redis, queue: str, job_id: str, state: str, text: str) -> None:
    """Move a waiting job to failed or completed as a worker would leave it."""
    now = int(time.time() * 1000)
    key = f"bull:{queue}:{job_id}"
    r.lrem(f"bull:{queue}:wait", 0, job_id)
    r.zadd(f"bull:{queue}:{state}", {job_id: now})
    fields: dict[str, Any] = {"processedOn": now - 5, "finishedOn": now, "atm": 1, "ats": 1}
    if state == "failed":
        fields |= {"failedReason": text, "stacktrace": json.dumps([f"Trace\n{text}", text])}
    else:
        fields |= {"returnvalue": json.dumps({"html": text, text: [text]})}
    r.hset(key, mapping=fields)


def plant(r: redis.Redis, url: str, queue_name: str, texts_: tuple[str, ...]) -> list[str]:
    """A job per text in each state with the text in every field; returns the job ids."""
    queue = Queue(queue_name, connection=url)
    ids = []
    try:
        for i, text in enumerate(texts_):
            try:
                job = queue.add(text, {"p": text, "nested": {text: [text]}}, job_id=text)
            except InvalidOptionsError:
                job = queue.add(text, {"p": text, "nested": {text: [text]}})
            job.log(text)
            job.update_progress(text if i % 2 else {"msg": text})
            ids.append(job.id)
            if i % 3 == 1:
                _finish(r, queue_name, job.id, "failed", text)
            elif i % 3 == 2:
                _finish(r, queue_name, job.id, "completed", text)
        for text in texts_[:5]:
            with contextlib.suppress(InvalidOptionsError, ValueError):
                queue.upsert_job_scheduler(text, every=3_600_000, name=text, data={"p": text})
    finally:
        queue.close()
    return ids


def _q(name: str) -> str:
    """A name as the page writes it into a websocket URL (see the ``live_socket`` tag)."""
    return quote(names.encode_segment(name), safe="")


def render_everything(client: Client, queues: list[str], ids: list[str]) -> list[tuple[str, str]]:
    """Every page that shows these queues and jobs, with their CSP checked."""
    from django.urls import reverse

    pages: list[tuple[str, str]] = []

    def get(url: str, **query: Any) -> None:
        response = client.get(url, query)
        assert response.status_code == 200, f"{url} {query}: {response.status_code}"
        check_csp(response)
        pages.append((f"{url} {query}", response.content.decode()))

    def rev(name: str, *args: str) -> str:
        return reverse(f"queue_dashboard:{name}", args=args)

    get(MOUNT)
    get(rev("workers", "default"))
    for queue in queues:
        for state in ("waiting", "failed", "completed") if queue == queues[0] else ("waiting",):
            get(rev("queue", "default", queue), state=state)
        get(rev("schedulers", "default", queue))
        get(rev("confirm", "default", queue, "obliterate"))
    main = queues[0]
    for job_id in ids:
        get(rev("job", "default", main, job_id))
    get(rev("job", "default", main, ids[1]), full="data")
    # htmx fragments: the job table and a confirmation.
    response = client.get(rev("queue", "default", main), {"state": "failed"},
                          headers={"HX-Request": "true", "HX-Target": "jobs"})
    pages.append(("fragment jobs", response.content.decode()))
    response = client.get(rev("confirm", "default", main, "drain"), headers={"HX-Request": "true"})
    pages.append(("fragment confirm", response.content.decode()))
    # Action messages quote job ids and queue names; the next page shows them.
    for job_id in ids[:6]:
        client.post(rev("job-action", "default", main, job_id, "remove"))
        client.post(rev("job-action", "default", main, job_id, "promote"))
    client.post(rev("queue-action", "default", main, "pause"))
    client.post(rev("queue-action", "default", main, "obliterate"), {"confirm_name": "nope"})
    get(rev("queue", "default", main))
    return pages


def _allowed(client: Client, r: redis.Redis, url: str) -> Markup:
    ids = plant(r, url, "plain", BENIGN)
    allowed = Markup()
    for _, html in render_everything(client, ["plain"], ids):
        markup_of(html, allowed)
    assert not allowed.problems, allowed.problems
    return allowed


@pytest.mark.django_db
def test_pages_hold_no_markup_from_job_data(
    dash_redis: str, r: redis.Redis, make_user: Callable[..., User]
) -> None:
    client = Client()
    client.force_login(make_user(superuser=True))
    allowed = _allowed(client, r, dash_redis)
    ids = plant(r, dash_redis, "emails", PAYLOADS)
    hostile_queues = [p for p in PAYLOADS if _queue_name_ok(p)]
    for name in hostile_queues:
        plant(r, dash_redis, name, (name,))
    pages = render_everything(client, ["emails", *hostile_queues], ids)
    assert len(pages) > 100
    problems = {label: found for label, html in pages if (found := injected(html, allowed))}
    assert not problems, json.dumps(problems, indent=1)[:4000]
    # The payloads are there, as text.
    everything = "".join(html for _, html in pages)
    assert everything.count(MARK) > 500
    assert "&lt;script&gt;alert(&#x27;qdxss&#x27;)&lt;/script&gt;" in everything


# -- live fragments -------------------------------------------------------------------------


async def live_fragments(
    cookie: str, url: str, r: redis.Redis, queue_name: str, ids: list[str], texts_: tuple[str, ...]
) -> list[str]:
    """Fragments of an overview, a queue and a job socket while these texts arrive as new
    jobs, log lines, progress, failure events and an action notice."""
    queue_socket = communicator(f"default/q/{_q(queue_name)}/", cookie)
    job_socket = communicator(f"default/q/{_q(queue_name)}/jobs/{_q(ids[0])}/", cookie)
    overview_socket = communicator("", cookie)
    sockets = (queue_socket, job_socket, overview_socket)
    for comm in sockets:
        assert (await comm.connect())[0]
    await job_socket.send_to(text_data=json.dumps({"logs_total": "0", "logs_tail": "1"}))
    got: list[str] = []
    for state in ("waiting", "failed", "completed"):
        await queue_socket.send_to(text_data=json.dumps({"state": state, "size": "25"}))
        got += await wait_for(queue_socket, lambda t: "jobs-table" in t)
    await queue_socket.send_to(text_data=json.dumps({"state": "waiting", "size": "100"}))

    def write() -> None:
        queue = Queue(queue_name, connection=url)
        try:
            for text in texts_:
                queue.add(text, {"p": text})
            job = queue.get_job(ids[0])
            assert job is not None
            for text in texts_:
                job.log(text)
            job.update_progress(texts_[1])
        finally:
            queue.close()
        for text in texts_[:10]:  # failure toasts carry the failed reason
            r.xadd(f"bull:{queue_name}:events",
                   {"event": "failed", "jobId": ids[0], "failedReason": text})

    await database_sync_to_async(write)()
    notify.queue_notice("default", queue_name, texts_[0], level="error")
    got += await wait_for(job_socket, lambda t: "qd-toast" in t)
    for comm in sockets:
        got += texts(await collect(comm, 0.6))
        await comm.disconnect()
    return got


@pytest.mark.django_db(transaction=True)
async def test_live_fragments_hold_no_markup_from_job_data(
    dash_redis: str, r: redis.Redis, make_user: Callable[..., User], settings: Any
) -> None:
    settings.QUEUE_DASHBOARD = {**settings.QUEUE_DASHBOARD, "LIVE_RECHECK_SECONDS": 3600}

    def setup() -> tuple[str, list[str], list[str]]:
        benign = plant(r, dash_redis, "plain", BENIGN)
        hostile = plant(r, dash_redis, "emails", PAYLOADS[:12])
        return session_cookie(make_user(superuser=True)), benign, hostile

    cookie, benign_ids, ids = await database_sync_to_async(setup)()
    allowed = Markup()
    for fragment in await live_fragments(cookie, dash_redis, r, "plain", benign_ids, BENIGN):
        markup_of(fragment, allowed)
    assert not allowed.problems
    got = await live_fragments(cookie, dash_redis, r, "emails", ids, PAYLOADS)
    assert sum(t.count(MARK) for t in got) > 50
    assert any("qd-toast" in t and MARK in t for t in got)
    problems = [p for t in got for p in injected(t, allowed)]
    assert not problems, problems[:20]
