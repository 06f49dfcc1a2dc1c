"""The search in Debian's headless Chromium against a real daphne: a data-path search lists
exactly the seeded matches (streamed over several scan steps), bad and hostile queries are
answered inline, cancel stops the scan, and an export re-imported into another queue gives
the same jobs. Screenshots go to test-artifacts/dashboard/search-*.png."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from queuecore import Queue
from tests.dashboard.chromium import ARTIFACTS, launched, require_chromium
from tests.dashboard.livesite import MOUNT, LiveSite
from tests.redisproc import RedisProcess
from tests.waiting import TIMEOUT

require_chromium()

from playwright.sync_api import expect  # noqa: E402

pytestmark = pytest.mark.timeout(240)


@pytest.fixture(scope="module")
def site(redis_server: RedisProcess, tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[tuple[LiveSite, str]]:
    live = LiveSite(tmp_path_factory.mktemp("search-site"), redis_server.url)
    try:
        yield live, live.start_daphne().url
    finally:
        live.close()


@pytest.fixture(scope="module")
def browser(site: tuple[LiveSite, str]) -> Iterator[Any]:
    live, base = site
    with launched() as chromium:
        context = chromium.new_context(viewport={"width": 1280, "height": 900},
                                       accept_downloads=True)
        context.add_cookies([{"name": "sessionid", "value": live.session, "url": base}])
        try:
            yield context
        finally:
            context.close()


@pytest.fixture
def page(browser: Any) -> Iterator[tuple[Any, list[str]]]:
    problems: list[str] = []
    tab = browser.new_page()
    tab.set_default_timeout(TIMEOUT * 1000)
    # Failed loads are reported with their URL by the response handler.
    tab.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning")
           and not m.text.startswith("Failed to load resource") else None)
    tab.on("pageerror", lambda exc: problems.append(str(exc)))
    tab.on("response", lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400
           and not r.url.endswith("/favicon.ico") else None)
    try:
        yield tab, problems
    finally:
        tab.close()


def seed(url: str, name: str, count: int, every: int) -> list[str]:
    """``count`` waiting jobs; each ``every``-th belongs to customer "acme-7"."""
    with Queue(name, connection=url) as queue:
        queue.obliterate(force=True)
        queue.resume()
        matches: list[str] = []
        for start in range(0, count, 500):
            jobs = queue.add_bulk([
                {"name": "invoice", "data": {"customer": {"ref": "acme-7" if n % every == 0
                                                          else f"other-{n}"}, "n": n},
                 "opts": {"attempts": 3, "backoff": {"type": "exponential", "delay": 50}}}
                for n in range(start, min(start + 500, count))])
            matches += [j.id for j in jobs if j.data["customer"]["ref"] == "acme-7"]
        return matches


def test_a_data_path_search_lists_exactly_the_seeded_matches(
    site: tuple[LiveSite, str], redis_server: RedisProcess, page: tuple[Any, list[str]]
) -> None:
    _, base = site
    tab, problems = page
    expected = seed(redis_server.url, "search-b1", 4200, 97)
    tab.goto(f"{base}{MOUNT}default/q/search-b1/")
    tab.fill("#qd-search-q", "data.customer.ref:ACME-7")
    tab.select_option("select[name=state]", "waiting")
    tab.click("#qd-search button[type=submit]")
    expect(tab.locator("#qd-search-status")).to_contain_text("Scan finished", timeout=60_000)
    rows = tab.locator("#qd-search-rows tr.qd-search-row")
    expect(rows).to_have_count(len(expected))
    shown = rows.evaluate_all("rs => rs.map(r => r.dataset.jobId)")
    assert sorted(shown, key=int) == sorted(expected, key=int)
    expect(tab.locator("#qd-search-status")).to_contain_text(
        f"{len(expected)} matches in 4,200 jobs")
    assert "q=data.customer.ref%3AACME-7" in tab.url and "state=waiting" in tab.url
    tab.screenshot(path=str(ARTIFACTS / "search-results.png"), full_page=True)
    # A state tab searches that state.
    tab.click('.qd-tab:has-text("completed")')
    expect(tab.locator("#qd-search select[name=state]")).to_have_value("completed")
    expect(tab.locator("#qd-search-status")).to_contain_text("Scan finished: 0 matches")
    assert problems == []


def test_cancel_stops_the_scan_and_continue_resumes(
    site: tuple[LiveSite, str], redis_server: RedisProcess, page: tuple[Any, list[str]]
) -> None:
    _, base = site
    tab, problems = page
    seed(redis_server.url, "search-b2", 20_000, 1000)
    # Hold each step's answer until the cancel is clicked: the scan cannot end first.
    held: list[Any] = []
    tab.route("**/search/?*", lambda route: held.append(route))
    tab.goto(f"{base}{MOUNT}default/q/search-b2/?q=data.customer.ref:acme-7&state=waiting")
    tab.wait_for_function("() => true")
    expect(tab.locator("#qd-search-status")).to_contain_text("Searching")
    while not held:
        tab.wait_for_timeout(50)
    held.pop().continue_()
    expect(tab.locator("[data-search-cancel]")).to_be_visible()
    tab.click("[data-search-cancel]")
    expect(tab.locator(".qd-search-cancelled")).to_have_text("Cancelled.")
    for route in held:  # the answer to the aborted request, if it went out: ignored
        route.continue_()
    more = tab.locator("#qd-search-next a")
    expect(more).to_have_text("Continue")
    href = more.get_attribute("href") or ""
    assert "cursor=" in href and "cursor=0" not in href
    tab.unroute("**/search/?*")
    more.click()  # goes on from where it stopped
    expect(tab.locator("#qd-search-status")).to_contain_text("Scan finished", timeout=60_000)
    expect(tab.locator("#qd-search-rows tr.qd-search-row")).not_to_have_count(0)
    assert problems == []


def test_malformed_and_hostile_queries_are_answered_inline(
    site: tuple[LiveSite, str], page: tuple[Any, list[str]]
) -> None:
    _, base = site
    tab, problems = page
    tab.goto(f"{base}{MOUNT}default/q/search-b3/")
    tab.fill("#qd-search-q", "attempts>many")
    tab.click("#qd-search button[type=submit]")
    expect(tab.locator("#qd-search-error")).to_contain_text(
        "attempts compares with a whole number")
    expect(tab.locator("#qd-search-error code")).to_have_text("attempts>many")
    markup = '"><script>window.pwned=1</script><img src=x onerror="window.pwned=2">'
    # Typed or pasted: the box holds what the parser reads, the rest is not taken.
    tab.fill("#qd-search-q", markup + " ‮rtl‬ ünïcödé")
    tab.click("#qd-search button[type=submit]")
    expect(tab.locator("#qd-search-error")).to_contain_text("A quote is not closed")
    assert tab.input_value("#qd-search-q").startswith(markup)
    # A 10 KB query in a URL (a crafted link): answered inline, escaped.
    hostile = markup + "x" * 10_240
    tab.goto(f"{base}{MOUNT}default/q/search-b3/?" + urlencode({"q": hostile}))
    expect(tab.locator("#qd-search-error")).to_contain_text("at most 1000 are read")
    assert tab.evaluate("() => window.pwned === undefined")
    assert tab.input_value("#qd-search-q") == hostile
    width = tab.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 1280
    tab.screenshot(path=str(ARTIFACTS / "search-hostile.png"), full_page=True)
    assert problems == []


def test_an_export_reimported_into_another_queue_gives_the_same_jobs(
    site: tuple[LiveSite, str], redis_server: RedisProcess, page: tuple[Any, list[str]],
    tmp_path: Path,
) -> None:
    _, base = site
    tab, problems = page
    expected = seed(redis_server.url, "search-b4", 300, 7)
    tab.goto(f"{base}{MOUNT}default/q/search-b4/?q=data.customer.ref:acme-7&state=waiting")
    expect(tab.locator("#qd-search-status")).to_contain_text("Scan finished")
    with tab.expect_download() as info:
        tab.click("text=Export NDJSON")
    path = tmp_path / "export.ndjson"
    info.value.save_as(path)
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert sorted(r["id"] for r in lines) == sorted(expected)

    tab.goto(f"{base}{MOUNT}default/q/search-b4-copy/import/")
    tab.set_input_files("input[name=file]", str(path))
    tab.click("button[value=dry-run]")
    expect(tab.locator("#qd-import-summary")).to_contain_text(
        f"{len(expected)} jobs ready, 0 with errors. Nothing was written.")
    tab.screenshot(path=str(ARTIFACTS / "search-import-dry-run.png"), full_page=True)
    tab.click("button[value=import]")
    expect(tab.locator("#qd-import-done")).to_have_text(f"Imported {len(expected)} jobs.")
    with Queue("search-b4", connection=redis_server.url) as source, \
            Queue("search-b4-copy", connection=redis_server.url) as copy:
        def jobs(queue: Queue) -> list[tuple[str, str, str]]:
            return sorted((j.name, json.dumps(j.data, sort_keys=True),
                           json.dumps(j.opts, sort_keys=True)) for j in queue.get_waiting())

        originals = [(j.name, json.dumps(j.data, sort_keys=True),
                      json.dumps(j.opts, sort_keys=True))
                     for j in (source.get_job(i) for i in expected) if j is not None]
        assert jobs(copy) == sorted(originals)
    assert problems == []
