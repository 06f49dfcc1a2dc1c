"""Live updates in Debian's headless Chromium against a real daphne: counts, a job row and a
progress bar change while a worker runs, and a job page follows its job, all without
reloading the page. Screenshots go to test-artifacts/dashboard/live-*.png."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from queuecore import Queue
from tests.dashboard.chromium import ARGS, ARTIFACTS, CHROMIUM, require_chromium
from tests.dashboard.livesite import MOUNT, LiveSite, start_worker, stop_process
from tests.waiting import TIMEOUT, wait_for

require_chromium()

from playwright.sync_api import expect, sync_playwright  # noqa: E402

pytestmark = pytest.mark.timeout(180)


@pytest.fixture
def site(redis_url: str, tmp_path: Path) -> Iterator[tuple[LiveSite, str]]:
    live = LiveSite(tmp_path, redis_url)
    try:
        yield live, live.start_daphne().url
    finally:
        live.close()


@pytest.fixture
def browser_page(site: tuple[LiveSite, str]) -> Iterator[tuple[Any, list[str]]]:
    live, base = site
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        context.add_cookies([{"name": "sessionid", "value": live.session, "url": base}])
        page = context.new_page()
        page.set_default_timeout(TIMEOUT * 1000)
        page.on("console", lambda msg: _console(msg, problems))
        page.on("response", lambda response: _response(response, problems))
        page.on("pageerror", lambda exc: problems.append(str(exc)))
        try:
            yield page, problems
        finally:
            context.close()
            browser.close()


def _console(msg: Any, problems: list[str]) -> None:
    # Failed loads are reported with their URL by _response.
    if msg.type in ("error", "warning") and not msg.text.startswith("Failed to load resource"):
        problems.append(msg.text)


def _response(response: Any, problems: list[str]) -> None:
    if response.status >= 400 and not response.url.endswith("/favicon.ico"):
        problems.append(f"{response.status} {response.url}")


def _xread_clients(r: redis.Redis) -> int:
    return sum(1 for c in r.client_list() if c.get("cmd") == "xread")


def shot(page: Any, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"live-{name}.png"), full_page=True)


def _progress_values(page: Any, selector: str, seconds: float) -> list[int]:
    seen: list[int] = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        value = page.evaluate(
            "s => { const p = document.querySelector(s); return p ? p.value : null }", selector
        )
        if value is not None and (not seen or seen[-1] != int(value)):
            seen.append(int(value))
        if len(seen) >= 3:
            break
        time.sleep(0.05)
    return seen


def test_counts_rows_and_progress_change_while_a_worker_runs(
    site: tuple[LiveSite, str], redis_url: str, r: redis.Redis,
    browser_page: tuple[Any, list[str]], tmp_path: Path,
) -> None:
    _, base = site
    page, problems = browser_page
    queue = Queue("emails", connection=redis_url)
    # The job page's job is added later, once the page follows it: added now, it could be
    # over before a loaded machine gets there.
    first, second = (queue.add(n, {"n": i}).id for i, n in enumerate(("first", "second")))

    page.goto(base + MOUNT)
    expect(page.locator("#qd-live-status")).to_have_text("live")
    shot(page, "overview")

    page.goto(f"{base}{MOUNT}default/q/emails/")
    expect(page.locator("#qd-live-status")).to_have_text("live")
    expect(page.locator("#tab-count-waiting")).to_have_text("2")
    page.evaluate("() => { window.qdNoReload = true }")
    shot(page, "queue-before")

    worker = start_worker(redis_url, "emails", "tests.dashboard.live_jobs:slow_progress",
                          )
    try:
        # Counts move and the first job's row leaves the waiting page.
        expect(page.locator("#tab-count-active")).to_have_text("1")
        expect(page.locator("#tab-count-waiting")).to_have_text("1")
        expect(page.locator(f'#jobs-body tr[data-job-id="{first}"]')).to_have_count(0)
        shot(page, "queue-waiting-moved")

        # The active tab (an htmx swap; the socket is told) shows the row and its progress.
        page.click('a[role="tab"]:has-text("active")')
        expect(page.locator('#jobs-body tr[data-job-id]')).to_have_count(1)
        values = _progress_values(page, "#jobs-body progress", 8)
        assert len(values) >= 2 and values == sorted(values), values
        shot(page, "queue-active-progress")
        expect(page.locator("#tab-count-completed")).not_to_have_text("0")

        # Pausing stops the stream; the page says so.
        page.check("#qd-live-pause")
        expect(page.locator("#qd-live-status")).to_have_text("paused")
        # The server has left the feed: its reader (the only XREAD client) is gone ...
        wait_for(lambda: _xread_clients(r) == 0, what="the stream reader stopped")
        shown = page.inner_text("#tab-count-waiting")
        # ... so a job added now changes Redis and not the page.
        third = queue.add("fail-third", {"n": 2}).id
        page.wait_for_timeout(1000)  # the observation window, after the sign above
        assert page.inner_text("#tab-count-waiting") == shown
        page.uncheck("#qd-live-pause")
        expect(page.locator("#qd-live-status")).to_have_text("live")
        assert page.evaluate("() => window.qdNoReload === true")

        # A job page follows its job: state, progress, new log lines, and a failure toast.
        page.goto(f"{base}{MOUNT}default/q/emails/jobs/{third}/")
        expect(page.locator("#qd-live-status")).to_have_text("live")
        page.evaluate("() => { window.qdNoReload = true }")
        expect(page.locator("#job-state")).to_have_text("active")
        expect(page.locator("#job-logs li")).not_to_have_count(0)
        values = _progress_values(page, "#job-progress progress", 6)
        assert len(values) >= 2 and values == sorted(values), values
        shot(page, "job-active")
        toast = page.locator(".qd-toast-error")
        expect(toast).to_contain_text("boom <b>fail-third</b>")
        assert toast.locator("b").count() == 0  # job data is text, never markup
        expect(page.locator("#job-state")).to_have_text("failed")
        assert page.locator("#job-logs li").count() == 10
        assert page.evaluate("() => window.qdNoReload === true")
        shot(page, "job-failed-toast")
    finally:
        stop_process(worker)
        queue.close()
    assert second
    assert not problems, problems
