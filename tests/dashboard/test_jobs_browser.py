"""The jobs pages in Debian's headless Chromium on one real daphne for the module: times in
the viewer's zone, the delayed tab's countdown, the JSON viewer's folds and copy, the flow
tree seen from its root and from a leaf, and the keyboard. Screenshots of the job page with
hostile data (light, dark, 390 and 1440 px) go to test-artifacts/dashboard/jobs-*.png."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from queuecore import FlowProducer, Queue, Worker
from tests.dashboard.chromium import ARTIFACTS, launched, require_chromium
from tests.dashboard.livesite import MOUNT, LiveSite
from tests.redisproc import RedisProcess
from tests.waiting import TIMEOUT, wait_until

require_chromium()

from playwright.sync_api import Browser, Page, expect  # noqa: E402

pytestmark = pytest.mark.timeout(180)

HOSTILE_NAME = "fail <img src=x onerror=alert(1)> \u05e9\u05dc\u05d5\u05dd \U0001f680 " + "n" * 300
LONG_REASON = "boom " + "éx<i>" * 4_000  # 20,000 characters, no break, markup


async def _process(job: Any) -> Any:
    if job.name.startswith("fail"):
        raise RuntimeError(job.data.get("reason") or f"boom <b>{job.name}</b>")
    return {"ok": True, "nested": {"list": [1, 2, {"x": None}]}}


def _run(url: str, queue: Queue, finished: int) -> None:
    async def main() -> None:
        worker = Worker(queue.name, _process, connection=url, concurrency=4)
        task = asyncio.create_task(worker.run())
        try:
            await wait_until(lambda: sum(queue.get_job_counts("completed", "failed").values())
                             >= finished or task.done(), what=f"{finished} jobs finished")
        finally:
            await worker.close()
            await asyncio.wait_for(task, 10)

    asyncio.run(main())


def _nested(levels: int) -> Any:
    value: Any = "bottom <b>"
    for n in range(levels):
        value = {f"level{n}": value}
    return value


@pytest.fixture(scope="module")
def seeded(redis_server: RedisProcess,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """One site for the module on database 9 of the session's Redis, seeded once."""
    url = redis_server.url.rsplit("/", 1)[0] + "/9"
    client = redis.Redis.from_url(url)
    client.flushdb()
    client.close()
    queue = Queue("jobs-ui", connection=url)
    ids: dict[str, Any] = {}
    ids["done"] = queue.add("ok", {"n": 1}).id
    ids["hostile"] = queue.add(HOSTILE_NAME, {"text": "<script>alert(1)</script> \u202eRTL",
                                              "deep": _nested(100), "big": "y" * 20_000},
                               attempts=1).id
    ids["long_reason"] = queue.add("fail-long", {"reason": LONG_REASON}, attempts=1).id
    _run(url, queue, finished=3)
    ids["soon"] = queue.add("soon", {}, delay=95_000).id
    ids["later"] = queue.add("later", {}, delay=3_600_000).id
    with FlowProducer(url) as flows:
        node = flows.add({"name": "root-job", "queue_name": "jobs-ui", "children": [
            {"name": "middle-job", "queue_name": "jobs-other", "children": [
                {"name": "leaf-job", "queue_name": "jobs-ui"}]}]})
    ids["root"] = node.job.id
    ids["middle"] = node.children[0].job.id
    ids["leaf"] = node.children[0].children[0].job.id
    queue.close()
    with Queue("jobs-sched", connection=url) as scheduled:
        scheduled.upsert_job_scheduler("nightly", pattern="0 3 * * *", tz="America/New_York",
                                       name="report")
    site = LiveSite(tmp_path_factory.mktemp("jobs-ui"), url)
    try:
        ids["base"] = site.start_daphne().url
        ids["url"] = url
        ids["site"] = site
        yield ids
    finally:
        site.close()


@pytest.fixture(scope="module")
def browser(seeded: dict[str, Any]) -> Iterator[Browser]:
    with launched() as chromium:
        yield chromium


def _page(browser: Browser, seeded: dict[str, Any], problems: list[str], **options: Any) -> Page:
    options.setdefault("viewport", {"width": 1280, "height": 900})
    context = browser.new_context(locale="en-US", **options)
    context.add_cookies([{"name": "sessionid", "value": seeded["site"].session,
                          "url": seeded["base"]}])
    page = context.new_page()
    page.set_default_timeout(TIMEOUT * 1000)
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error"
            and not msg.text.startswith("Failed to load resource") else None)
    return page


def _url(seeded: dict[str, Any], path: str) -> str:
    return f"{seeded['base']}{MOUNT}default/q/{path}"


def test_times_in_the_viewers_zone(browser: Browser, seeded: dict[str, Any]) -> None:
    problems: list[str] = []
    page = _page(browser, seeded, problems, timezone_id="Asia/Tokyo")
    page.goto(_url(seeded, "jobs-ui/?state=completed"))
    created = page.locator(f'tr[data-job-id="{seeded["done"]}"] time').first
    assert (created.get_attribute("datetime") or "").endswith("Z")  # ISO UTC from the server
    expect(created).to_have_text(re.compile(r"(ago|now)$"))
    expect(created).to_have_attribute("title", re.compile(r"GMT\+9 \(Asia/Tokyo\)$"))
    row = page.locator(f'tr[data-job-id="{seeded["done"]}"]')
    assert re.search(r"\d+(\.\d)?\s?(ms|s)\b", row.inner_text())  # wait and processing
    page.goto(_url(seeded, f"jobs-ui/jobs/{seeded['done']}/"))
    facts = page.locator(".qd-facts time").first
    expect(facts).to_have_text(re.compile(r"GMT\+9 \u00b7 .*(ago|now)$"))
    # Rows that arrive by a live update are rewritten too.
    page.goto(_url(seeded, "jobs-ui/?state=waiting"))
    expect(page.locator("#qd-live-status")).to_have_text("live")
    with Queue("jobs-ui", connection=seeded["url"]) as queue:
        fresh = queue.add("fresh", {}).id
    expect(page.locator(f'tr[data-job-id="{fresh}"] time').first).to_have_text(
        re.compile(r"(ago|now)$"))
    # A scheduler's next run: in the viewer's zone, and in its own.
    page.goto(_url(seeded, "jobs-sched/schedulers/"))
    cell = page.locator("#scheduler-nightly td").nth(5)
    expect(cell.locator("time")).to_have_text(re.compile(r"GMT\+9 \u00b7 in "))
    expect(cell.locator(".qd-sched-tz")).to_have_text(
        re.compile(r" 03:00:00 E[SD]T \(America/New_York\)$"))
    page.screenshot(path=str(ARTIFACTS / "jobs-schedulers-tokyo.png"))
    page.context.close()
    assert not problems, problems


def test_delayed_tab_soonest_first_with_a_countdown(browser: Browser,
                                                    seeded: dict[str, Any]) -> None:
    problems: list[str] = []
    page = _page(browser, seeded, problems)
    page.goto(_url(seeded, "jobs-ui/?state=delayed"))
    rows = page.locator("tr.qd-job-row")
    expect(rows).to_have_count(2)
    assert rows.nth(0).get_attribute("data-job-id") == seeded["soon"]
    countdown = rows.nth(0).locator('time[data-qd-time="countdown"]')
    expect(countdown).to_have_text(re.compile(r"^in (1 min|\d+ sec)"))
    first = countdown.inner_text()
    expect(countdown).not_to_have_text(first)  # it ticks
    assert "in 1 hr" in rows.nth(1).inner_text() or "in 59 min" in rows.nth(1).inner_text()
    page.context.close()
    assert not problems, problems


def test_json_viewer_folds_and_copies(browser: Browser, seeded: dict[str, Any]) -> None:
    problems: list[str] = []
    page = _page(browser, seeded, problems)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.goto(_url(seeded, f"jobs-ui/jobs/{seeded['hostile']}/"))
    block = page.locator("[data-qd-json]").first
    opened = block.locator(".qd-jtree details[open]")
    assert opened.count() >= 1
    block.locator(".qd-j-collapse").click()
    expect(opened).to_have_count(0)
    block.locator(".qd-j-expand").click()
    assert opened.count() == block.locator(".qd-jtree details").count() > 10
    block.locator(".qd-j-copy").click()
    expect(block.locator(".qd-j-copied")).to_have_text("Copied")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == page.locator("#json-data").text_content()
    assert copied.startswith("{\n")
    # Markup in data, names and the reason stays text.
    assert page.locator(".qd-jtree img, h1 img").count() == 0
    assert "RuntimeError: boom" in page.locator(".qd-error-text").inner_text()
    page.context.close()
    assert not problems, problems


def test_flow_tree_from_the_root_and_from_a_leaf(browser: Browser,
                                                  seeded: dict[str, Any]) -> None:
    problems: list[str] = []
    page = _page(browser, seeded, problems)
    page.goto(_url(seeded, f"jobs-ui/jobs/{seeded['root']}/"))
    tree = page.locator("#flow .qd-flow-tree")
    root = tree.locator(":scope > li")
    expect(root.locator(":scope > .qd-flow-line a")).to_have_attribute("aria-current", "page")
    middle = root.locator(":scope > ul > li")
    expect(middle.locator("a").first).to_have_text(f"jobs-other / {seeded['middle']}")
    leaf = middle.locator(":scope > ul > li")
    expect(leaf.locator("a")).to_have_text(f"jobs-ui / {seeded['leaf']}")
    expect(leaf.locator(".qd-badge")).to_have_text("waiting")
    expect(root.locator(":scope > .qd-flow-line .qd-badge")).to_have_text("waiting children")
    middle.locator(":scope > .qd-flow-line .qd-flow-toggle").click()  # fold
    expect(leaf).to_be_hidden()
    page.goto(_url(seeded, "jobs-ui/?state=waiting-children"))
    expect(page.locator(f'tr[data-job-id="{seeded["root"]}"] .qd-flow-badge')).to_be_visible()

    page.goto(_url(seeded, f"jobs-ui/jobs/{seeded['leaf']}/"))
    links = page.locator("#flow .qd-flow-tree a")
    expect(links).to_have_count(3)
    assert [links.nth(i).inner_text() for i in range(3)] == [
        f"jobs-ui / {seeded['root']}", f"jobs-other / {seeded['middle']}",
        f"jobs-ui / {seeded['leaf']}"]
    expect(links.nth(2)).to_have_attribute("aria-current", "page")
    page.context.close()
    assert not problems, problems


def test_keyboard(browser: Browser, seeded: dict[str, Any]) -> None:
    problems: list[str] = []
    page = _page(browser, seeded, problems)
    page.goto(_url(seeded, "jobs-ui/?state=failed"))
    rows = page.locator("tr.qd-job-row")
    expect(rows).to_have_count(2)
    page.keyboard.press("/")
    box = page.locator(".qd-jump input[name=id]")
    expect(box).to_be_focused()
    page.keyboard.type("jk")  # typing: no row moves
    expect(box).to_have_value("jk")
    expect(page.locator("tr.qd-kbd-focus")).to_have_count(0)
    box.blur()
    page.keyboard.press("j")
    expect(rows.nth(0)).to_have_class(re.compile("qd-kbd-focus"))
    page.keyboard.press("j")
    expect(rows.nth(1)).to_have_class(re.compile("qd-kbd-focus"))
    page.keyboard.press("k")
    expect(rows.nth(0)).to_have_class(re.compile("qd-kbd-focus"))
    page.keyboard.press("?")
    dialog = page.locator("#qd-keys-dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Keyboard shortcuts")
    page.screenshot(path=str(ARTIFACTS / "jobs-keys.png"))
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    target = rows.nth(0).get_attribute("data-job-id")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(rf"/jobs/{target}/$"))
    page.context.close()
    assert not problems, problems


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_job_pages_with_hostile_data_fit(browser: Browser, seeded: dict[str, Any],
                                         scheme: str) -> None:
    problems: list[str] = []
    for width in (390, 1440):
        page = _page(browser, seeded, problems, viewport={"width": width, "height": 900},
                     color_scheme=scheme)
        for key in ("hostile", "long_reason", "root", "leaf", "failed", "delayed"):
            if key in ("failed", "delayed"):
                page.goto(_url(seeded, f"jobs-ui/?state={key}"))
                page.wait_for_selector("tr.qd-job-row")
            else:
                page.goto(_url(seeded, f"jobs-ui/jobs/{seeded[key]}/"))
                page.wait_for_selector("#flow, .qd-jtree")
            overflow = page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth")
            page.screenshot(path=str(ARTIFACTS / f"jobs-{key}-{scheme}-{width}.png"),
                            full_page=width == 1440 or key != "long_reason")
            assert overflow <= 0, f"{key} at {width} px scrolls sideways by {overflow} px"
        page.context.close()
    assert not problems, problems
