"""The controls in headless Chromium against a real daphne: two tabs on one job (one
promotes, the other's button goes), a double click and a stale page answered calmly, the
job page's "why" panel explaining a paused queue, and an operator adding a job from the
form, duplicating it and changing a waiting job's priority. One live server and browser for
the module. Screenshots go to test-artifacts/dashboard/controls-*.png."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from queuecore import Queue
from tests.dashboard.chromium import ARGS, ARTIFACTS, CHROMIUM, require_chromium
from tests.dashboard.livesite import MOUNT, LiveSite
from tests.redisproc import RedisProcess
from tests.waiting import TIMEOUT

require_chromium()

from playwright.sync_api import expect, sync_playwright  # noqa: E402

pytestmark = pytest.mark.timeout(180)


class Site:
    def __init__(self, base: str, session: str, url: str, browser: Any) -> None:
        self.base, self.session, self.url, self.browser = base, session, url, browser
        self.problems: list[str] = []

    def page(self, *, js: bool = True) -> Any:
        context = self.browser.new_context(viewport={"width": 1280, "height": 900},
                                           java_script_enabled=js)
        context.add_cookies([{"name": "sessionid", "value": self.session, "url": self.base}])
        page = context.new_page()
        page.set_default_timeout(TIMEOUT * 1000)
        page.on("pageerror", lambda exc: self.problems.append(str(exc)))
        page.on("response", lambda r: r.status >= 500 and self.problems.append(
            f"{r.status} {r.url}"))
        return page


@pytest.fixture(scope="module")
def site(redis_server: RedisProcess, tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[Site]:
    live = LiveSite(Path(tmp_path_factory.mktemp("controls")), redis_server.url)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    try:
        base = live.start_daphne().url
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
            try:
                yield Site(base, live.session, redis_server.url, browser)
            finally:
                browser.close()
    finally:
        live.close()


@pytest.fixture
def queue(site: Site) -> Iterator[Queue]:
    client = redis.Redis.from_url(site.url)
    client.flushall()
    client.close()
    with Queue("emails", site.url) as q:
        yield q
    assert site.problems == []


def shot(page: Any, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"controls-{name}.png"), full_page=True)


def job_url(site: Site, job_id: str) -> str:
    return f"{site.base}{MOUNT}default/q/emails/jobs/{job_id}/"


def live(page: Any) -> None:
    expect(page.locator("#qd-live-status")).to_have_attribute("data-state", "live")


def test_two_tabs_on_one_job(site: Site, queue: Queue) -> None:
    job = queue.add("later", {"n": 1}, delay=3_600_000)
    a, b = site.page(), site.page()
    for page in (a, b):
        page.goto(job_url(site, job.id))
        live(page)
        expect(page.locator('#job-actions button:has-text("Promote")')).to_be_visible()
        expect(page.locator('#job-why [data-why="delay"]')).to_be_visible()
    a.click('#job-actions button:has-text("Promote")')
    expect(a.locator(".qd-messages")).to_contain_text(f"Job {job.id} promoted.")
    # Tab B never reloaded: its badge, buttons and "why" follow the live state.
    expect(b.locator("#job-state")).to_have_text("waiting")
    expect(b.locator('#job-actions button:has-text("Promote")')).to_be_hidden()
    expect(b.locator('#job-why [data-why="position"]')).to_contain_text("next in line")
    expect(b.locator('#job-why [data-why="delay"]')).to_have_count(0)
    shot(b, "tab-b-after-a-promoted")
    a.context.close()
    b.context.close()


def test_double_click_and_stale_page_are_calm(site: Site, queue: Queue) -> None:
    job = queue.add("later", {}, delay=3_600_000)
    page = site.page()
    page.goto(job_url(site, job.id))
    live(page)
    # With the script, the second click of a double click is dropped while the first is
    # under way (one request, one answer, one reload).
    page.dblclick('#job-actions button:has-text("Promote")')
    expect(page.locator("#job-state")).to_have_text("waiting")
    expect(page.locator(".qd-messages")).to_contain_text(f"Job {job.id} promoted.")
    expect(page.locator(".qd-messages .qd-error")).to_have_count(0)
    page.context.close()
    # Without it, both form posts reach the server: the second is answered calmly.
    plain = site.page(js=False)
    twice = queue.add("later", {}, delay=3_600_000)
    plain.goto(job_url(site, twice.id))
    plain.dblclick('#job-actions button:has-text("Promote")')
    plain.wait_for_load_state()
    expect(plain.locator(".qd-messages")).to_contain_text("promoted")
    expect(plain.locator(".qd-messages .qd-error")).to_have_count(0)
    assert queue.get_job_state(twice.id) == "waiting"
    plain.context.close()
    # A page that cannot follow (no script: a plain form POST) acts on a job another tab
    # already promoted: the answer is calm, not an error.
    again = queue.add("later", {}, delay=3_600_000)
    stale = site.page(js=False)
    stale.goto(job_url(site, again.id))
    queue.get_job(again.id).promote()
    stale.click('#job-actions button:has-text("Promote")')
    expect(stale.locator(".qd-messages")).to_contain_text(
        f"Job {again.id} was already promoted (it is waiting now).")
    expect(stale.locator(".qd-messages .qd-error")).to_have_count(0)
    shot(stale, "already-promoted")
    stale.context.close()


def test_queue_buttons_follow_pause(site: Site, queue: Queue) -> None:
    queue.add("w", {})
    url = f"{site.base}{MOUNT}default/q/emails/?state=prioritized&order=oldest"
    a, b = site.page(), site.page()
    for page in (a, b):
        page.goto(url)
        live(page)
    a.click('#queue-actions button:has-text("Pause")')
    expect(a.locator(".qd-messages")).to_contain_text("Queue emails paused.")
    assert a.url == url  # the same tab and sort after the action
    expect(b.locator('#queue-actions button:has-text("Resume")')).to_be_visible()
    expect(b.locator('#queue-actions button:has-text("Pause")')).to_be_hidden()
    expect(b.locator('#queue-why [data-why="paused"]')).to_be_visible()
    a.context.close()
    b.context.close()


def test_job_why_panel_explains_a_paused_queue(site: Site, queue: Queue) -> None:
    job = queue.add("w", {"<b>": "\u202e" + "x" * 20_000})
    queue.pause()
    page = site.page()
    page.goto(job_url(site, job.id))
    panel = page.locator("#job-why")
    expect(panel).to_contain_text("The queue is paused")
    expect(panel).to_contain_text("No worker is connected")
    shot(page, "why-paused")
    panel.locator('button:has-text("Resume the queue")').click()
    expect(page.locator(".qd-messages")).to_contain_text("Queue emails resumed.")
    expect(page.locator('#job-why [data-why="paused"]')).to_have_count(0)
    assert not queue.is_paused()
    page.context.close()


def test_operator_adds_duplicates_and_reprioritises(site: Site, queue: Queue) -> None:
    page = site.page()
    page.goto(f"{site.base}{MOUNT}default/q/emails/")
    page.click('#queue-actions a:has-text("Add job")')
    page.fill("#id_name", "send-report")
    page.fill("#id_job_data", '{"month": "May", ')
    page.click('button:has-text("Add job")')
    expect(page.locator(".qd-field-error")).to_contain_text("Not valid JSON")
    expect(page.locator("#id_job_data")).to_have_value('{"month": "May", ')  # kept
    shot(page, "add-bad-json")
    page.fill("#id_job_data", '{"month": "May"}')
    page.fill("#id_attempts", "3")
    page.click('button:has-text("Add job")')
    expect(page.locator(".qd-messages")).to_contain_text("added.")
    [first] = queue.get_jobs("waiting")
    assert (first.name, first.data, first.opts["attempts"]) == ("send-report", {"month": "May"}, 3)

    page.click('#job-actions a:has-text("Duplicate")')
    expect(page.locator("#id_name")).to_have_value("send-report")
    assert '"month": "May"' in page.input_value("#id_job_data")
    page.click('button:has-text("Add job")')
    expect(page.locator(".qd-messages")).to_contain_text("added.")
    assert len(queue.get_jobs("waiting")) == 2

    page.fill('#job-actions input[name="priority"]', "4")
    page.click('#job-actions button:has-text("Change priority")')
    expect(page.locator(".qd-messages")).to_contain_text("now has priority 4.")
    expect(page.locator("#job-state")).to_have_text("prioritized")
    assert len(queue.get_jobs("prioritized")) == 1
    page.context.close()
