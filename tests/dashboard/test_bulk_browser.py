"""Failure groups, bulk actions and Undo in headless Chromium against a real daphne, on the
private redis-server: the failures page shows the seeded groups with their counts, retrying
one group moves exactly its jobs, a bulk remove then Undo restores the jobs with their logs
and order, and a form sent twice starts one operation. Screenshots go to
test-artifacts/dashboard/bulk-*.png (light and dark, 390 and 1440 px wide, hostile data):
the failures page, the selection bar, the confirmation pages (with their <h1>), and an
operation whose process stopped shown as interrupted."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from queuecore import Queue
from tests.dashboard.chromium import ARTIFACTS, launched, require_chromium
from tests.dashboard.livesite import MOUNT, LiveSite
from tests.queue_helpers import fetch, finish
from tests.redisproc import RedisProcess
from tests.waiting import TIMEOUT, wait_for

require_chromium()

from playwright.sync_api import expect  # noqa: E402

pytestmark = pytest.mark.timeout(180)

PY = """Traceback (most recent call last):
  File "/srv/venv/lib/python3.12/site-packages/queuecore/worker/job_runner.py", line 8, in run
    x = await p(job)
  File "/srv/app/billing.py", line 41, in charge
    raise CardDeclined(msg)
billing.CardDeclined: {msg}"""
HOSTILE = "<b>bold</b> <script>alert(1)</script> שלום مرحبا " + "x" * 20_000


def fail_jobs(q: Queue, reasons: list[str]) -> list[str]:
    ids = [q.add("pay", {"i": i}).id for i in range(len(reasons))]
    for reason in reasons:
        job_id = fetch(q)
        assert job_id is not None
        finish(q, job_id, completed=False, value=reason,
               stacktrace=[PY.format(msg=reason[:200])])
    return ids


@pytest.fixture(scope="module")
def url(redis_server: RedisProcess) -> str:
    client = redis.Redis.from_url(redis_server.url)
    client.flushall()
    client.close()
    return redis_server.url


@pytest.fixture(scope="module")
def site(url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveSite, str]]:
    live = LiveSite(tmp_path_factory.mktemp("bulk"), url)
    try:
        yield live, live.start_daphne().url
    finally:
        live.close()


@pytest.fixture(scope="module")
def browser(site: tuple[LiveSite, str]) -> Iterator[Any]:
    with launched() as chromium:
        yield chromium


@pytest.fixture
def page(site: tuple[LiveSite, str], browser: Any) -> Iterator[Any]:
    live, base = site
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.add_cookies([{"name": "sessionid", "value": live.session, "url": base}])
    p = context.new_page()
    p.set_default_timeout(TIMEOUT * 1000)
    problems: list[str] = []
    p.on("pageerror", lambda exc: problems.append(str(exc)))
    p.on("response", lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400
         else None)
    try:
        yield p
        assert not problems, problems
    finally:
        context.close()


def shot(page: Any, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"bulk-{name}.png"), full_page=True)


def test_failures_page_groups_and_retrying_one_group(
    site: tuple[LiveSite, str], url: str, page: Any
) -> None:
    _, base = site
    with Queue("billing", url) as q:
        declined = fail_jobs(q, [f"card declined for u{i}@ex.com ({400 + i})" for i in range(12)])
        timeouts = fail_jobs(q, [f"gateway timeout after {30 + i}s" for i in range(3)])
        fail_jobs(q, [HOSTILE])
        page.goto(f"{base}{MOUNT}default/q/billing/")
        page.get_by_role("link", name="Failure groups").click()
        rows = page.locator("tr.qd-bulk-group")
        expect(rows).to_have_count(3)
        expect(rows.nth(0).locator(".qd-bulk-n")).to_have_text("12")
        expect(rows.nth(0).locator(".qd-bulk-message")).to_have_text(
            "card declined for <email> (<n>)")
        expect(rows.nth(1).locator(".qd-bulk-n")).to_have_text("3")
        expect(page.locator("script:text('alert')")).to_have_count(0)
        shot(page, "failures")
        rows.nth(0).get_by_role("link", name="Retry all 12…").click()
        expect(page.locator(".qd-bulk-confirm")).to_contain_text("12")
        page.get_by_role("button", name="Confirm: 12 jobs").click()
        expect(page.locator(".qd-bulk-op")).to_have_attribute("data-status", "done")
        expect(page.locator(".qd-bulk-counts")).to_contain_text("12 done, 0 skipped")
        waiting = set(q.get_jobs("waiting") and [j.id for j in q.get_jobs("waiting")])
        assert waiting == set(declined)
        assert {j.id for j in q.get_jobs("failed")} >= set(timeouts)
        assert q.get_job_counts("failed")["failed"] == 4
        page.get_by_role("link", name="failures").click()
        expect(page.locator("tr.qd-bulk-group")).to_have_count(2)


def test_bulk_remove_then_undo_restores_jobs_with_logs(
    site: tuple[LiveSite, str], url: str, page: Any
) -> None:
    _, base = site
    r = redis.Redis.from_url(url, decode_responses=True)
    with Queue("mail", url) as q:
        ids = [q.add("send", {"to": f"u{i}"}).id for i in range(6)]
        for i in ids:
            q.add_job_log(i, f"log of {i}")
        before = r.lrange("bull:mail:wait", 0, -1)
        hashes = {i: r.hgetall(f"bull:mail:{i}") for i in ids}
        page.goto(f"{base}{MOUNT}default/q/mail/?state=waiting")
        for i in ids[1:4]:
            page.locator(f'tr[data-job-id="{i}"] input.qd-bulk-row').check()
        expect(page.locator("#qd-bulk-selected")).to_have_text("3 selected")
        shot(page, "selection")
        page.locator("#qd-bulk-bar").get_by_role("button", name="Remove…").click()
        page.get_by_role("button", name="Confirm: 3 jobs").click()
        expect(page.locator(".qd-bulk-op")).to_have_attribute("data-status", "done")
        assert r.lrange("bull:mail:wait", 0, -1) == [i for i in before if i not in ids[1:4]]
        assert all(q.get_job(i) is None for i in ids[1:4])
        shot(page, "removed")
        page.get_by_role("button", name="Undo").click()
        expect(page.locator(".qd-messages")).to_contain_text("3 jobs restored")
        assert r.lrange("bull:mail:wait", 0, -1) == before
        for i in ids:
            assert r.hgetall(f"bull:mail:{i}") == hashes[i]
            assert q.get_job_logs(i) == ([f"log of {i}"], 1)
        assert not r.keys("bull:mail:qd:trash:*")
    r.close()


def test_a_form_sent_twice_starts_one_operation(
    site: tuple[LiveSite, str], url: str, page: Any
) -> None:
    _, base = site
    r = redis.Redis.from_url(url, decode_responses=True)
    with Queue("dup", url) as q:
        fail_jobs(q, [f"boom {i}" for i in range(5)])
        page.goto(f"{base}{MOUNT}default/q/dup/bulk/retry/?source=state&state=failed")
        expect(page.locator(".qd-bulk-confirm")).to_contain_text("5")
        # The same form posted twice (a double click, a resent request).
        statuses = page.evaluate("""async () => {
            const form = document.querySelector("form.qd-bulk-run-form");
            const send = () => fetch(form.action, {method: "POST", body: new FormData(form),
                                                   redirect: "manual"});
            const [a, b] = await Promise.all([send(), send()]);
            return [a.type, b.type];
        }""")
        assert statuses == ["opaqueredirect", "opaqueredirect"]
        assert r.zcard("bull:dup:qd:ops") == 1
        wait_for(lambda: r.hget(f"bull:dup:qd:op:{r.zrange('bull:dup:qd:ops', 0, 0)[0]}",
                                "status") == "done", what="the operation's end")
        op = r.hgetall(f"bull:dup:qd:op:{r.zrange('bull:dup:qd:ops', 0, 0)[0]}")
        assert (op["done"], op["skipped"]) == ("5", "0")
        assert q.get_job_counts("waiting", "failed") == {"waiting": 5, "failed": 0}
    r.close()


@pytest.mark.parametrize("width", [390, 1440])
@pytest.mark.parametrize("theme", ["light", "dark"])
def test_screenshots(site: tuple[LiveSite, str], url: str, browser: Any, width: int,
                     theme: str) -> None:
    live, base = site
    context = browser.new_context(viewport={"width": width, "height": 900},
                                  color_scheme=theme)
    context.add_cookies([{"name": "sessionid", "value": live.session, "url": base}])
    p = context.new_page()
    try:
        p.goto(f"{base}{MOUNT}default/q/billing/failures/")
        expect(p.locator("tr.qd-bulk-group").first).to_be_visible()
        assert p.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
        p.screenshot(path=str(ARTIFACTS / f"bulk-failures-{theme}-{width}.png"),
                     full_page=True)
        p.goto(f"{base}{MOUNT}default/q/billing/?state=failed")
        # The job table's own width is the look work's (it scrolls inside on main too).
        expect(p.locator("#qd-bulk-bar")).to_be_visible()
        p.screenshot(path=str(ARTIFACTS / f"bulk-queue-{theme}-{width}.png"), full_page=True)
        p.goto(f"{base}{MOUNT}default/q/billing/bulk/remove/?source=state&state=failed")
        expect(p.locator(".qd-bulk-confirm")).to_be_visible()
        expect(p.locator("h1")).to_have_text("Confirm an action on billing")
        assert p.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
        p.screenshot(path=str(ARTIFACTS / f"bulk-confirm-{theme}-{width}.png"), full_page=True)
        p.goto(f"{base}{MOUNT}default/q/billing/confirm/clean/?state=waiting&age=0&unit=s"
               "&from=20000")
        expect(p.locator("h1")).to_have_text("Confirm an action on billing")
        expect(p.locator(".qd-confirm-count")).to_contain_text("Going on from position 20000")
        assert p.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
        p.screenshot(path=str(ARTIFACTS / f"bulk-clean-confirm-{theme}-{width}.png"),
                     full_page=True)
        # An operation whose process stopped mid-way (its record says running, its beat
        # is two minutes old), with a hostile label and user.
        op_id = "9" * 32
        r = redis.Redis.from_url(url)
        then = repr(time.time() - 120)
        r.hset(f"bull:billing:qd:op:{op_id}", mapping={
            "action": "remove", "label": HOSTILE[:300], "status": "running", "total": 90_000,
            "done": 41_500, "skipped": 12, "user": HOSTILE[:80], "started": then,
            "beat": then, "trash": "1"})
        r.close()
        p.goto(f"{base}{MOUNT}default/q/billing/ops/{op_id}/")
        expect(p.locator(".qd-bulk-op")).to_have_attribute("data-status", "interrupted")
        expect(p.locator(".qd-bulk-status")).to_contain_text("Interrupted")
        expect(p.locator(".qd-bulk-counts")).to_have_text("41500 done, 12 skipped, of 90000")
        expect(p.locator("script:text('alert')")).to_have_count(0)
        assert p.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
        p.screenshot(path=str(ARTIFACTS / f"bulk-interrupted-{theme}-{width}.png"),
                     full_page=True)
    finally:
        context.close()
