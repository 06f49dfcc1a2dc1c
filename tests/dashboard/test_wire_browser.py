"""Search and bulk actions together in headless Chromium against a real daphne, on the
private redis-server: a data-path search's matches are removed with "Remove all
matching…" (dry run, confirm, tracked operation), and Undo puts them back with their
logs and order. Screenshots of the results with their bulk bar go to
test-artifacts/dashboard/wire-*.png (light and dark, 390 and 1440 px wide, hostile data)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
import redis

from queuecore import Queue
from tests.dashboard.chromium import ARTIFACTS, launched, require_chromium
from tests.dashboard.livesite import MOUNT, LiveSite
from tests.queue_helpers import fetch, finish
from tests.redisproc import RedisProcess
from tests.waiting import TIMEOUT

require_chromium()

from playwright.sync_api import expect  # noqa: E402

pytestmark = pytest.mark.timeout(180)

HOSTILE = "<b>bold</b> <script>alert(1)</script> שלום مرحبا " + "x" * 900
SEARCH = {"state": "waiting", "q": "data.customer.tier:gold"}


@pytest.fixture(scope="module")
def site(redis_server: RedisProcess, tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[tuple[LiveSite, str]]:
    live = LiveSite(tmp_path_factory.mktemp("wire-site"), redis_server.url)
    try:
        yield live, live.start_daphne().url
    finally:
        live.close()


@pytest.fixture(scope="module")
def browser(site: tuple[LiveSite, str]) -> Iterator[Any]:
    with launched() as chromium:
        yield chromium


def new_page(site: tuple[LiveSite, str], browser: Any, width: int = 1280,
             theme: str = "light") -> tuple[Any, Any, list[str]]:
    live, base = site
    context = browser.new_context(viewport={"width": width, "height": 900},
                                  color_scheme=theme)
    context.add_cookies([{"name": "sessionid", "value": live.session, "url": base}])
    tab = context.new_page()
    tab.set_default_timeout(TIMEOUT * 1000)
    problems: list[str] = []
    tab.on("pageerror", lambda exc: problems.append(str(exc)))
    tab.on("response", lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400
           and not r.url.endswith("/favicon.ico") else None)
    return context, tab, problems


def seed(url: str, name: str) -> list[str]:
    """30 waiting jobs, every third a gold customer's (with a log line); the gold ones."""
    with Queue(name, connection=url) as queue:
        queue.obliterate(force=True)
        jobs = queue.add_bulk([
            {"name": HOSTILE if n == 0 else f"invoice-{n}",
             "data": {"customer": {"tier": "gold" if n % 3 == 0 else "basic"}, "n": n,
                      "note": "y" * 20_000},
             "opts": {"job_id": "<img src=x onerror=alert(1)> שלום-3"} if n == 3 else {}}
            for n in range(30)])
        gold = [j.id for j in jobs if j.data["customer"]["tier"] == "gold"]
        for job_id in gold:
            queue.add_job_log(job_id, f"log of {job_id}")
        return gold


def test_remove_all_matching_a_search_then_undo(
    site: tuple[LiveSite, str], redis_server: RedisProcess, browser: Any
) -> None:
    _, base = site
    gold = seed(redis_server.url, "wire")
    r = redis.Redis.from_url(redis_server.url, decode_responses=True)
    before = r.lrange("bull:wire:wait", 0, -1)
    hashes = {i: r.hgetall(f"bull:wire:{i}") for i in gold}
    context, page, problems = new_page(site, browser)
    try:
        page.goto(f"{base}{MOUNT}default/q/wire/?{urlencode(SEARCH)}")
        expect(page.locator("#qd-search-status")).to_contain_text("10 matches in 30 jobs")
        rows = page.locator("#qd-search-rows tr.qd-search-row")
        expect(rows).to_have_count(10)
        expect(page.locator("#qd-wire-every")).to_have_text("All 10 matches:")
        # Ticking result rows feeds the job list's selection (and its buttons).
        bar = page.locator("#qd-wire-bar")
        expect(bar.get_by_role("button", name="Remove…")).to_be_disabled()
        rows.nth(0).locator("input.qd-bulk-row").check()
        rows.nth(1).locator("input.qd-bulk-row").check()
        expect(page.locator("#qd-wire-ticked")).to_have_text("2 ticked:")
        expect(bar.get_by_role("button", name="Remove…")).to_be_enabled()
        expect(page.locator("#qd-bulk-selected")).to_have_text("2 selected")
        bar.get_by_role("link", name="Remove all matching…").click()
        confirm = page.locator("#dialog .qd-bulk-confirm")
        expect(confirm).to_contain_text("the waiting jobs matching “data.customer.tier:gold”")
        page.get_by_role("button", name="Confirm: 10 jobs").click()
        expect(page.locator(".qd-bulk-op")).to_have_attribute("data-status", "done")
        expect(page.locator(".qd-bulk-counts")).to_contain_text("10 done, 0 skipped")
        assert r.lrange("bull:wire:wait", 0, -1) == [i for i in before if i not in gold]
        with Queue("wire", connection=redis_server.url) as q:
            assert all(q.get_job(i) is None for i in gold)
            page.get_by_role("button", name="Undo").click()
            expect(page.locator(".qd-messages")).to_contain_text("10 jobs restored")
            assert r.lrange("bull:wire:wait", 0, -1) == before
            for i in gold:
                assert r.hgetall(f"bull:wire:{i}") == hashes[i]
                assert q.get_job_logs(i) == ([f"log of {i}"], 1)
        assert not r.keys("bull:wire:qd:trash:*")
        assert not problems, problems
    finally:
        context.close()
        r.close()


def fail_jobs(url: str, name: str, reasons: list[str]) -> list[str]:
    with Queue(name, connection=url) as q:
        q.obliterate(force=True)
        ids = [q.add("pay", {"i": i}).id for i in range(len(reasons))]
        for reason in reasons:
            job_id = fetch(q)
            assert job_id is not None
            finish(q, job_id, completed=False, value=reason)
        return ids


def test_screenshots_of_the_results_with_their_bulk_bar(
    site: tuple[LiveSite, str], redis_server: RedisProcess, browser: Any
) -> None:
    _, base = site
    seed(redis_server.url, "wire-shots")
    hostile = fail_jobs(redis_server.url, "wire-groups",
                        [f"{HOSTILE} {'z' * 20_000} for u{i}@ex.com ({i})" for i in range(3)])
    for width in (390, 1440):
        for theme in ("light", "dark"):
            context, page, problems = new_page(site, browser, width, theme)
            try:
                page.goto(f"{base}{MOUNT}default/q/wire-shots/?{urlencode(SEARCH)}")
                expect(page.locator("#qd-search-status")).to_contain_text("Scan finished")
                page.locator("#qd-search-rows input.qd-bulk-row").first.check()
                assert page.evaluate(
                    "document.documentElement.scrollWidth <= window.innerWidth + 1")
                page.locator("#qd-search").screenshot(
                    path=str(ARTIFACTS / f"wire-results-{theme}-{width}.png"))
                page.get_by_role("link", name="Remove all matching…").click()
                expect(page.locator("#dialog .qd-bulk-confirm")).to_contain_text("10 jobs")
                assert page.evaluate(
                    "document.documentElement.scrollWidth <= window.innerWidth + 1")
                page.locator("#dialog").screenshot(
                    path=str(ARTIFACTS / f"wire-dry-run-{theme}-{width}.png"))
                # A failure group's "list them" opens the search for exactly its jobs.
                page.goto(f"{base}{MOUNT}default/q/wire-groups/failures/")
                page.get_by_role("link", name="list them").click()
                expect(page.locator("#qd-search-status")).to_contain_text("3 matches")
                found = page.locator("#qd-search-rows tr.qd-search-row")
                assert sorted(found.evaluate_all("rs => rs.map(r => r.dataset.jobId)")) == \
                    sorted(hostile)
                expect(page.locator(".qd-wire-group-note")).to_contain_text("<script>alert(<n>)")
                assert page.evaluate(
                    "document.documentElement.scrollWidth <= window.innerWidth + 1")
                page.locator("#qd-search").screenshot(
                    path=str(ARTIFACTS / f"wire-group-{theme}-{width}.png"))
                assert not problems, problems
            finally:
                context.close()
