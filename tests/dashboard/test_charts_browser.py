"""History charts and the overview at scale in Debian's headless Chromium against a real
daphne: seeded BullMQ metrics and timings a real worker recorded render in the charts (bars,
points and the tables behind them match the seed); a queue on page 2 of the overview updates
live. One daphne and one browser for the module. Screenshots go to
test-artifacts/dashboard/charts-*.png."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import redis

from dashboard.templatetags.queue_dashboard import dom_id
from queuecore import AsyncJob, Queue, Worker
from tests.dashboard.chromium import ARTIFACTS, launched, require_chromium
from tests.dashboard.livesite import MOUNT, LiveSite
from tests.redisproc import RedisProcess
from tests.waiting import TIMEOUT, wait_until

require_chromium()

from playwright.sync_api import expect  # noqa: E402

pytestmark = pytest.mark.timeout(180)

#: Seeded metrics: completed jobs in the minutes before the current one (newest first), and
#: in the current minute; failed likewise.
COMPLETED_DATA = [3, 0, 5, 8, 0, 0, 2]
COMPLETED_NOW = 4
FAILED_DATA = [0, 1, 0, 0, 2]
FAILED_NOW = 0


@pytest.fixture(scope="module")
def server(redis_server: RedisProcess) -> str:
    client = redis.Redis.from_url(redis_server.url)
    client.flushall()
    client.close()
    return redis_server.url


@pytest.fixture(scope="module")
def site(server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveSite, str]]:
    live = LiveSite(tmp_path_factory.mktemp("charts"), server)
    try:
        yield live, live.start_daphne().url
    finally:
        live.close()


@pytest.fixture(scope="module")
def browser(site: tuple[LiveSite, str]) -> Iterator[Any]:
    live, base = site
    with launched() as chromium:
        context = chromium.new_context(viewport={"width": 1440, "height": 900})
        context.add_cookies([{"name": "sessionid", "value": live.session, "url": base}])
        try:
            yield context
        finally:
            context.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    page = browser.new_page()
    page.set_default_timeout(TIMEOUT * 1000)
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" and not
            m.text.startswith("Failed to load resource") else None)
    page.on("response", lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400
            and not r.url.endswith("/favicon.ico") else None)
    try:
        yield page
        assert problems == []
    finally:
        page.close()


async def _run_worker(url: str, jobs: int) -> None:
    """A real worker with metrics processes real jobs; closing flushes its timings."""
    async def work(job: AsyncJob) -> int:
        await asyncio.sleep(0.01 * (int(job.data["i"]) % 4 + 1))
        return 1

    queue = Queue("charts", url)
    queue.add_bulk([{"name": "j", "data": {"i": i}} for i in range(jobs)])
    queue.close()
    worker = Worker("charts", work, url, metrics={"max_data_points": 60}, concurrency=4)
    task = asyncio.ensure_future(worker.run())
    r = redis.Redis.from_url(url)
    try:
        await wait_until(lambda: r.zcard("bull:charts:completed") == jobs)
    finally:
        await worker.close()
        await task
        r.close()


def _seed_metrics(url: str) -> None:
    """Overwrite the worker's metrics with known figures in BullMQ's layout."""
    r = redis.Redis.from_url(url)
    now = int(time.time() * 1000)
    for kind, data, current in (("completed", COMPLETED_DATA, COMPLETED_NOW),
                                ("failed", FAILED_DATA, FAILED_NOW)):
        key = f"bull:charts:metrics:{kind}"
        total = sum(data) + current
        r.delete(key, key + ":data")
        r.hset(key, mapping={"count": total, "prevTS": now, "prevCount": total - current})
        r.rpush(key + ":data", *data)
    r.close()


def _expected(data: list[int], current: int) -> list[int]:
    """The chart's non-zero bars, oldest first."""
    return [v for v in [*reversed(data), current] if v]


def test_seeded_metrics_and_recorded_timings_render(site: tuple[LiveSite, str], server: str,
                                                    page: Any) -> None:
    _, base = site
    with ThreadPoolExecutor(1) as pool:  # Playwright's loop holds this thread
        pool.submit(asyncio.run, _run_worker(server, 24)).result()
    _seed_metrics(server)
    page.goto(f"{base}{MOUNT}default/q/charts/")
    page.wait_for_selector("#qd-history[data-range='1h'] .qd-hchart")
    completed = page.locator("figure[data-chart='completed']")
    bars = completed.locator("rect.qd-hbar-completed")
    expect(bars).to_have_count(len(_expected(COMPLETED_DATA, COMPLETED_NOW)))
    values = [int(v) for v in bars.evaluate_all("els => els.map(e => e.dataset.value)")]
    assert values == _expected(COMPLETED_DATA, COMPLETED_NOW)
    failed_bars = page.locator("figure[data-chart='failed'] rect.qd-hbar-failed")
    expect(failed_bars).to_have_count(len(_expected(FAILED_DATA, FAILED_NOW)))
    # The tables behind the charts hold the same numbers, one row per minute.
    cells = completed.locator("tbody td.qd-num").all_text_contents()
    assert len(cells) == 60
    assert [int(c) for c in cells if c != "0"] == _expected(COMPLETED_DATA, COMPLETED_NOW)
    # Timings came from the worker's histograms: points in the current minute (or the one
    # before, when the minute turned meanwhile), and a table row with all three percentiles.
    note = page.locator(".qd-hchart-note")
    expect(note).to_have_attribute("data-timings-source", "timings")
    processing = page.locator("figure[data-chart='processing']")
    assert processing.locator("circle.qd-hpoint-p50").count() >= 1
    rows = processing.locator("tbody tr").all_text_contents()
    filled = [r for r in rows if re.search(r"\dms", r)]
    assert filled and all(len(re.findall(r"\d+(?:\.\d)?ms", r)) == 3 for r in filled)
    # p50 of jobs sleeping 10-40 ms is at least 10 ms
    first_p50 = float(re.findall(r"([\d.]+)ms", filled[-1])[0])
    assert first_p50 >= 9
    page.screenshot(path=str(ARTIFACTS / "charts-queue-1h.png"), full_page=True)

    page.click(".qd-ranges a:has-text('24h')")
    page.wait_for_selector("#qd-history[data-range='24h']")
    hourly = page.locator("figure[data-chart='completed'] rect.qd-hbar-completed")
    assert sum(int(v) for v in hourly.evaluate_all("els => els.map(e => e.dataset.value)")) \
        == sum(COMPLETED_DATA) + COMPLETED_NOW
    expect(page.locator("figure[data-chart='completed'] tbody tr")).to_have_count(24)
    page.set_viewport_size({"width": 390, "height": 800})
    # The history section never widens the page (the rest of the queue page is not ours).
    assert page.evaluate("document.getElementById('qd-history').scrollWidth") <= 390
    page.screenshot(path=str(ARTIFACTS / "charts-queue-24h-390.png"), full_page=True)
    page.set_viewport_size({"width": 1440, "height": 900})


def test_a_queue_on_page_two_updates_live(site: tuple[LiveSite, str], server: str,
                                          page: Any) -> None:
    _, base = site
    r = redis.Redis.from_url(server)
    pipe = r.pipeline(transaction=False)
    for i in range(70):
        pipe.hset(f"bull:live{i:03d}:meta", "opts.maxLenEvents", 10000)
        pipe.set(f"bull:live{i:03d}:id", 0)
    pipe.execute()
    r.close()
    page.goto(f"{base}{MOUNT}?sort=name&page=2")
    row = page.locator('tr[data-queue="live060"]')
    expect(row).to_have_count(1)
    expect(page.locator("#qd-live-status")).to_have_attribute("data-state", "live")
    qid = dom_id("default", "live060")
    cell = page.locator(f"#{qid}-waiting")
    expect(cell).to_have_text("0")
    queue = Queue("live060", server)
    try:
        # Whenever the socket subscribes (once the page said which queues it shows), it
        # reads the counts afresh: the add cannot be missed.
        queue.add("x", {})
        expect(cell).to_have_text("1")
        expect(page.locator(f"td:has(#{qid}-waiting)")).not_to_have_class(re.compile("qd-zero"))
    finally:
        queue.close()
