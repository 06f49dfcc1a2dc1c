"""Hostile text in a browser: Debian's headless Chromium loads the pages holding every
payload from a real daphne (live updates on, so payloads also arrive as websocket fragments):
no dialog opens, no script of a payload runs, and the console reports no CSP violation. A
second pass with CSP bypassed proves the escaping alone holds."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from django.urls import reverse

from queuecore import Queue
from tests.dashboard.chromium import ARGS, CHROMIUM, require_chromium
from tests.dashboard.livesite import MOUNT, LiveSite
from tests.dashboard.security.test_xss import _queue_name_ok, plant
from tests.dashboard.security.xss import MARK, PAYLOADS
from tests.waiting import TIMEOUT

require_chromium()

from playwright.sync_api import sync_playwright  # noqa: E402

pytestmark = pytest.mark.timeout(150)


@pytest.fixture
def site(redis_url: str, tmp_path: Path) -> Iterator[tuple[LiveSite, str]]:
    live = LiveSite(tmp_path, redis_url)
    try:
        yield live, live.start_daphne().url
    finally:
        live.close()


def _path(name: str, *args: str) -> str:
    # The example project's mount is MOUNT; reverse gives the same encoding the pages use.
    return reverse(f"queue_dashboard:{name}", args=args)


def test_no_payload_runs_in_the_browser(
    site: tuple[LiveSite, str], redis_url: str, r: redis.Redis
) -> None:
    live, base = site
    ids = plant(r, redis_url, "emails", PAYLOADS)
    hostile_queue = next(p for p in PAYLOADS if _queue_name_ok(p))
    plant(r, redis_url, hostile_queue, (hostile_queue,))
    assert _path("overview") == MOUNT
    urls = [
        _path("overview"),
        _path("queue", "default", "emails") + "?state=waiting&size=100",
        _path("queue", "default", "emails") + "?state=failed&size=100",
        _path("queue", "default", "emails") + "?state=completed&size=100",
        _path("schedulers", "default", "emails"),
        _path("queue", "default", hostile_queue),
        _path("confirm", "default", hostile_queue, "obliterate"),
        *(_path("job", "default", "emails", job_id) for job_id in ids[:6]),
    ]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            for bypass_csp in (False, True):
                _visit(browser, base, live.session, urls, ids, redis_url, bypass_csp)
        finally:
            browser.close()


def _visit(
    browser: Any, base: str, session: str, urls: list[str], ids: list[str], redis_url: str,
    bypass_csp: bool,
) -> None:
    context = browser.new_context(bypass_csp=bypass_csp)
    context.add_cookies([{"name": "sessionid", "value": session, "url": base}])
    dialogs: list[str] = []
    problems: list[str] = []
    page = context.new_page()
    page.set_default_timeout(TIMEOUT * 1000)
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning")
            and not m.text.startswith("Failed to load resource") else None)  # see "response"
    page.on("response", lambda r: problems.append(f"{r.status} {r.url}")
            if r.status >= 400 and not r.url.endswith("/favicon.ico") else None)
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    try:
        for url in urls:
            response = page.goto(base + url)
            assert response is not None and response.status == 200, url
            csp = response.headers.get("content-security-policy", "")
            assert "script-src 'self'" in csp and "unsafe-inline" not in csp
            if page.locator("#qd-live-status").count():
                page.wait_for_selector("#qd-live-status[data-state=live]")
            if "/jobs/" in url or "state=waiting" in url:
                before = page.evaluate("() => document.body.innerHTML")
                # The page's own job when it shows one (its log lines and progress come
                # live), else the first job.
                job_id = next((i for i in ids[:6] if url == _path("job", "default", "emails", i)),
                              ids[0])
                _send_live_payloads(redis_url, job_id)
                # Live fragments with the payloads have been swapped in.
                page.wait_for_function("before => document.body.innerHTML !== before", arg=before)
            state = page.evaluate(
                """() => ({
                    flag: window.MARK,
                    scripts: [...document.scripts].map(s => s.getAttribute('src') || 'inline'),
                    handlers: [...document.querySelectorAll('*')].flatMap(
                        e => [...e.attributes].filter(a => a.name.startsWith('on')).map(
                            a => e.tagName + ' ' + a.name)),
                    marked: document.body.innerHTML.includes('MARK'),
                })""".replace("MARK", MARK)
            )
            assert state["flag"] is None, url
            assert all(s.startswith("/static/") for s in state["scripts"]), state["scripts"]
            assert state["handlers"] == [], state["handlers"]
            assert state["marked"], f"{url}: the payloads are not on the page"
    finally:
        context.close()
    assert dialogs == [], f"dialogs (bypass_csp={bypass_csp}): {dialogs}"
    violations = [p for p in problems if "Content Security Policy" in p or "Refused" in p]
    assert violations == [], violations
    assert problems == [], problems


def _send_live_payloads(redis_url: str, job_id: str) -> None:
    queue = Queue("emails", connection=redis_url)
    try:
        for text in PAYLOADS[:8]:
            queue.add(text, {"p": text})
        job = queue.get_job(job_id)
        if job is not None:
            for text in PAYLOADS[:8]:
                job.log(text)
            job.update_progress(PAYLOADS[3])
    finally:
        queue.close()
    client = redis.Redis.from_url(redis_url)
    try:
        for text in PAYLOADS[:3]:
            client.xadd("bull:emails:events",
                        {"event": "failed", "jobId": job_id, "failedReason": text})
    finally:
        client.close()
